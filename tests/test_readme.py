"""The README tells the truth: no unfilled placeholder, its two commands, and the files and modules it names exist."""

from __future__ import annotations

import re

from conftest import REPO

README = (REPO / "README.md").read_text()


def test_no_placeholder_is_left_unfilled():
    pattern = r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*_(?:WALL|TIME|TODO|FIGURE|BENCH|LINE)\b|\bTODO\b|\bTBD\b|\bXXX\b|\bFIXME\b"
    for readme in (REPO / "README.md", REPO / "bench" / "README.md"):
        assert re.findall(pattern, readme.read_text()) == [], readme


def test_the_first_screen_gives_the_set_up_and_run_command_and_the_test_command():
    first_screen = "\n".join(README.splitlines()[:25])
    assert "./setup.sh && .venv/bin/snakemake -j4" in first_screen
    assert "./setup.sh && .venv/bin/python -m pytest" in first_screen
    assert ".venv/bin/python -m pytest" in (REPO / ".ci" / "run").read_text()  # CI runs the README's test command


def test_every_config_module_and_script_the_readme_names_exists():
    for path in re.findall(r"\((config/\w+\.yaml)\)", README) + re.findall(r"`(bench/\w+\.(?:py|sh))`", README):
        assert (REPO / path).exists(), path
    layout = README.split("## Layout")[1].split("\n## ")[0]
    listed, layer = set(), ""
    for line in layout.splitlines():
        if match := re.match(r"^      ([a-z_]+)/\s", line):
            layer = match.group(1) + "/"
        elif match := re.match(r"^        ([a-z0-9_]+(?:, [a-z0-9_]+)*)\s", line):
            listed |= {layer + name for name in match.group(1).split(", ")}
        elif match := re.match(r"^      ([a-z_]+)\s{2,}", line):
            listed.add(match.group(1))
    root = REPO / "src" / "nertransfer"
    package = {str(p.relative_to(root).with_suffix("")) for p in root.rglob("*.py")} - {"__main__"}
    package = {name for name in package if not name.endswith("__init__")}
    assert listed == package  # every module listed under its layer's folder, none that does not exist
