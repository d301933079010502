"""The layers are a contract, not a sentence: what each folder of the package may import, checked.

    experiment < data < scoring < analysis < model < runtime < cli

A module imports only modules of its own layer and of the layers before it, wherever the import
stands (top of the file or inside a function). Only `model/` imports torch or transformers when
it is imported; the package imports no snakemake; the scheduler plugin imports nothing of the
package and the package nothing of the plugin; the scheduler's commands are named only in the plugin.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO

SRC = REPO / "src"
PACKAGE = SRC / "nertransfer"
PLUGIN = SRC / "snakemake_executor_plugin_submitit"
LAYERS = ["experiment", "data", "scoring", "analysis", "model", "runtime", "cli"]
HEAVY = ("torch", "transformers")


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> str:
    """`nertransfer.model.train` -> model; `nertransfer.cli`, `nertransfer.__main__` -> cli; `nertransfer` -> experiment."""
    parts = module.split(".")
    if len(parts) == 1:
        return "experiment"  # the package's __init__: a docstring and a version, below everything
    return parts[1] if parts[1] in LAYERS else "cli"


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module) of every import in a file, relative ones resolved, in functions too."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            found.append((node.lineno, base))
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names
                      if (SRC / Path(*f"{base}.{alias.name}".split("."))).with_suffix(".py").exists()]
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))


def test_every_module_is_in_a_layer_folder_or_is_the_command_line():
    loose = [p.name for p in PACKAGE.glob("*.py") if p.name not in ("__init__.py", "__main__.py", "cli.py")]
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert loose == [] and folders == set(LAYERS) - {"cli"}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_a_module_imports_only_its_own_layer_and_the_layers_before_it(path):
    own = LAYERS.index(layer_of(module_name(path)))
    above = [f"line {line}: {name}" for line, name in imports(path)
             if name.startswith("nertransfer.") and LAYERS.index(layer_of(name)) > own]
    assert above == [], f"{path.relative_to(REPO)} ({LAYERS[own]}) imports a later layer"


@pytest.mark.parametrize("path", [*MODULES], ids=lambda p: str(p.relative_to(PACKAGE)))
def test_the_package_imports_no_snakemake_and_nothing_of_the_plugin(path):
    names = [name for _, name in imports(path)]
    assert [n for n in names if n.split(".")[0] in ("snakemake", "snakemake_executor_plugin_submitit")] == []


def test_the_plugin_imports_nothing_of_the_package():
    names = [(path.name, name) for path in PLUGIN.rglob("*.py") for _, name in imports(path)]
    assert [(file, name) for file, name in names if name.split(".")[0] == "nertransfer"] == []


def test_only_the_plugin_runs_slurm_commands():
    """squeue, sbatch, scancel, sacct and scontrol are the plugin's: the package asks it, never Slurm."""
    commands = ("squeue", "sbatch", "scancel", "sacct", "scontrol")
    named = [(str(path.relative_to(REPO)), command) for path in MODULES for command in commands
             if f'"{command}"' in path.read_text(encoding="utf-8")]
    assert named == []


def test_only_the_model_layer_imports_torch_or_transformers_when_imported():
    """Each module of every other layer, imported alone in a fresh interpreter: a table never waits for torch."""
    light = [module_name(p) for p in MODULES if layer_of(module_name(p)) != "model" and p.name != "__main__.py"]
    probe = ("import importlib, sys\n"
             "for name in sys.argv[1:]:\n"
             "    before = set(sys.modules)\n"
             "    importlib.import_module(name)\n"
             f"    heavy = sorted(m for m in set(sys.modules) - before if m.split('.')[0] in {HEAVY!r})\n"
             "    print(name, ' '.join(heavy[:3]))\n")
    heavy = {}
    for name in light:  # one interpreter per module: a module imported earlier must not hide another's imports
        out = subprocess.run([sys.executable, "-c", probe, name], capture_output=True, text=True, check=True).stdout
        heavy.update({line.split(" ", 1)[0]: line.split(" ", 1)[1]
                      for line in out.splitlines() if line.split(" ", 1)[1:] != [""]})
    assert heavy == {}
