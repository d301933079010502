"""env.yml (conda, for clusters) and pyproject.toml (pip) pin the same dependencies."""

from __future__ import annotations

import re
import tomllib

import yaml

from conftest import REPO

CONDA_NAMES = {"pytorch": "torch", "matplotlib-base": "matplotlib"}


def normalise(requirement: str, conda: bool) -> tuple[str, str]:
    name, operator, version = re.match(r"^([A-Za-z0-9_.-]+)\s*(==|=|>=)?\s*(.*)$", requirement).groups()
    name = CONDA_NAMES.get(name, name) if conda else name
    operator = "==" if operator == "=" else (operator or "")
    return name.lower(), f"{operator}{version}"


def test_env_yml_pins_what_pyproject_pins():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pip_side = dict(normalise(r, conda=False) for r in project["dependencies"] + project["optional-dependencies"]["test"]
                    + project["optional-dependencies"]["bench"])
    env = yaml.safe_load((REPO / "env.yml").read_text())
    conda_side = dict(normalise(d, conda=True) for d in env["dependencies"] if isinstance(d, str) and d not in ("pip",) and not d.startswith("python="))
    assert conda_side == pip_side
    assert {"pip": ["--editable ."]} in env["dependencies"]
