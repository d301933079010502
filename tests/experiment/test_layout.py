"""Every path and output name has one owner, nertransfer.experiment.layout: the rules and the package take them from it."""

from __future__ import annotations

import ast
import re

import pytest

from conftest import REPO, TYPES
from nertransfer.experiment import layout
from nertransfer.experiment.layout import Layout

# Fragments of paths and output names: spelled in layout.py and nowhere else in src/ or workflow/.
SPELLED_BY_LAYOUT = re.compile(
    r"runs/|checkpoints/|logs/|/train(?![\w.])|/model\b|/eval\b|\.state\b|\.done\b|metrics\.json|predictions\.conll|"
    r"train_config|dev_metrics|epochs\.jsonl|resume\.pt|adaptation\.json|cells\.csv|zero_shot|(?<![a-z])in_language|grid_dev|"
    r"grid_best|learning_curve\.|overlap_(correlation|scatter)|effect_\{"
)


def string_literals(path) -> list[tuple[int, str]]:
    """The string constants of a Python module that are not docstrings (f-string parts included)."""
    tree = ast.parse(path.read_text())
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef)) and node.body
                  and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings]


def test_no_module_or_rule_but_the_layout_spells_a_path_or_an_output_name():
    found = []
    for path in sorted((REPO / "src" / "nertransfer").glob("*.py")):
        if path.name != "layout.py":
            found += [f"{path.name}:{line}: {text!r}" for line, text in string_literals(path) if SPELLED_BY_LAYOUT.search(text)]
    for path in [REPO / "Snakefile", *sorted((REPO / "workflow" / "rules").glob("*.smk"))]:
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            code = line.split("#")[0]
            literals = [text for text in re.findall(r'"[^"]*"|\'[^\']*\'', code) if not text.strip("'\"").endswith(".rst")]
            if any(SPELLED_BY_LAYOUT.search(text) for text in literals):  # (a report caption is no output)
                found.append(f"{path.name}:{number}: {line.strip()}")
    assert found == []


def test_a_rule_pattern_is_the_same_call_with_a_wildcard():
    paths = Layout("my work", "my results")
    assert paths.model("{cell}") == "my work/runs/{cell}/model"
    assert paths.model("tiny/hau/base/seed1") == "my work/runs/tiny/hau/base/seed1/model"
    assert paths.state("{cell}") == "my work/runs/{cell}/train.state"
    assert paths.metrics("{cell}", "{language}") == "my work/runs/{cell}/eval/{language}/metrics.json"
    assert paths.log("evaluate", "{cell}", "{language}") == "my work/logs/evaluate/{cell}/{language}.log"
    assert paths.log("tables") == "my work/logs/tables.log"
    assert paths.hub_checkpoint("Davlan/xlm-roberta-base-finetuned-swahili", "main") == (
        "my work/checkpoints/hub/Davlan/xlm-roberta-base-finetuned-swahili/main")
    assert paths.tables_made == "my work/tables/my results.done"


def test_each_table_is_written_in_four_formats_and_each_mean_matrix_has_a_heatmap():
    names = layout.zero_shot_names(TYPES)
    assert names[0] == "cells.csv" and "zero_shot.png" in names and "zero_shot_std.png" not in names
    assert {"zero_shot_PER.csv", "zero_shot_PER.md", "zero_shot_PER.tex", "zero_shot_PER.html", "zero_shot_PER_std.tex",
            "in_language.md"} <= set(names)
    assert len(names) == 1 + 5 * (4 + 1 + 4) + 4
    assert layout.effect_names("a", "b") == ["effect_a_vs_b.csv", "effect_a_vs_b.md", "effect_a_vs_b.tex", "effect_a_vs_b.html",
                                             "effect_a_vs_b.png", "effect_a_vs_b_ci.csv", "effect_a_vs_b_ci.md",
                                             "effect_a_vs_b_ci.tex", "effect_a_vs_b_ci.html"]


@pytest.mark.parametrize("results, marker", [
    ("results", "work/tables/results.done"),  # the default: the marker existing runs have
    ("my results", "work/tables/my results.done"),
    ("results/", "work/tables/results.done"),
    ("/abs/path", "work/tables/%2Fabs/path.done"),  # was work/tables//abs/path.done, which Snakemake warns about
    ("../shared results", "work/tables/%2E%2E/shared results.done"),  # was outside tables/
    ("100%", "work/tables/100%25.done"),
])
def test_the_tables_marker_is_a_clean_path_inside_the_work_tables_folder(results, marker):
    assert Layout("work", results).tables_made == marker


def test_different_results_folders_never_share_a_tables_marker():
    folders = ["abs/path", "/abs/path", "%2Fabs/path", "../x", "%2E%2E/x", "x"]
    assert len({Layout("work", folder).tables_made for folder in folders}) == len(folders)
