"""Where every file of an experiment goes, and the name of every output: the one place that spells them.

The workflow's rules, the package's writers and readers and the status view take paths and
names from here, so a renamed output is a one-line change. The names are this module's constants
and functions (`METRICS`, `effect_names(...)`); the paths come from the methods of a `Layout` (the
experiment's work and results folders) as strings, as Snakemake uses them, relative to the working
directory unless a folder is absolute; a rule's pattern is the same call with a wildcard in place
of a value (`L.model("{cell}")` in the workflow, whose `Layout` is `L`).

    <work>/checkpoints/<name>[/<language>]          starting checkpoints built or adapted here
    <work>/checkpoints/hub/<owner>/<repo>/<revision> hub checkpoints, downloaded once
    <work>/runs/<cell>/train/                        a fine-tune's records (epochs, dev metrics, settings)
    <work>/runs/<cell>/train.state/                  its resumable state while it trains
    <work>/runs/<cell>/model/                        the fine-tuned model
    <work>/runs/<cell>/eval/<language>/              predictions and metrics on one test set
    <work>/runs/<cell>/README.md                     the model card
    <work>/logs/<step>[/<names>].log                 one log per job
    <work>/checked/<sha256>-<types' hash>.json       a data file's content, checked once (nertransfer.data.fingerprints)
    <work>/running/                                  held by the Snakemake that runs this work folder's jobs
    <work>/tables/<results>.done                     the marker of the tables rule
    <results>/<table>.{csv,md,tex,html}, <figure>.png tables, figures and analyses
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

TABLE_FORMATS = (".csv", ".md", ".tex", ".html")  # each table is written in all four (HTML: rendered in the report)

# In a fine-tune's records folder (`train/`) and beside it.
EPOCHS = "epochs.jsonl"
DEV_METRICS = "dev_metrics.json"
TRAIN_CONFIG = "train_config.json"
MODEL = "model"  # the model's folder inside the records when no other place is given
RESUME_FILE = "resume.pt"  # in the state folder
STATE_SUMMARY = "state.json"  # beside it: the epoch the saved state resumes after (read by status without torch)
CARD = "README.md"  # the model card, in a model's folder and in the run's
ADAPTATION = "adaptation.json"  # in an adapted checkpoint's folder: what it was adapted on
LABELS = "labels.json"  # in an adapter folder: the labels of its classification head (the base model has none)
HUB_SOURCE = "hub_source.json"  # in a downloaded checkpoint's folder: repository, revision asked, commit
PREDICTIONS = "predictions.conll"
METRICS = "metrics.json"


def state_dir(records: str | Path) -> Path:
    """The resumable state of a fine-tune whose records go to `records`: `<records>.state`, beside them."""
    records = Path(records)
    return records.with_name(records.name + ".state")


@dataclass(frozen=True)
class Layout:
    """The paths of one experiment, under its work folder and its results folder."""

    work: str = "work"
    results: str = "results"

    def checkpoint(self, name: str, language: str | None = None) -> str:
        """A starting checkpoint built (a recipe) or adapted here; an adapted one has a folder per language."""
        return f"{self.work}/checkpoints/{name}" + (f"/{language}" if language is not None else "")

    def hub_checkpoint(self, repo: str, revision: str) -> str:
        """A hub checkpoint downloaded here: one folder per repository and revision, whichever checkpoints name it."""
        return f"{self.work}/checkpoints/hub/{repo}/{revision}"

    def run(self, cell: str) -> str:
        return f"{self.work}/runs/{cell}"

    def records(self, cell: str) -> str:
        return f"{self.run(cell)}/train"

    def state(self, cell: str) -> str:
        return str(state_dir(self.records(cell)))

    def model(self, cell: str) -> str:
        return f"{self.run(cell)}/{MODEL}"

    def evaluation(self, cell: str, language: str) -> str:
        return f"{self.run(cell)}/eval/{language}"

    def predictions(self, cell: str, language: str) -> str:
        return f"{self.evaluation(cell, language)}/{PREDICTIONS}"

    def metrics(self, cell: str, language: str) -> str:
        return f"{self.evaluation(cell, language)}/{METRICS}"

    def card(self, cell: str) -> str:
        return f"{self.run(cell)}/{CARD}"

    def log(self, step: str, *names: str) -> str:
        """One job's log: `<work>/logs/<step>/<names...>.log`, or `<work>/logs/<step>.log` for a single job."""
        return f"{self.work}/logs/{step}" + ("/" + "/".join(names) if names else "") + ".log"

    def result(self, name: str) -> str:
        return f"{self.results}/{name}"

    @property
    def running(self) -> str:
        """A folder whose lock names the Snakemake that runs jobs of this work folder, while it runs (status reads it)."""
        return f"{self.work}/running"

    @property
    def data_checks(self) -> str:
        """Which data contents were read and found valid, one file per fingerprint (nertransfer.data.fingerprints)."""
        return f"{self.work}/checked"

    @property
    def tables_made(self) -> str:
        """A marker the tables rule writes beside the work they came from (see workflow/rules/common.smk).

        `<work>/tables/<results>.done`, the results folder written as a path inside `tables/`: a
        leading `/` becomes `%2F` and `..` becomes `%2E%2E` (`%` itself `%25`), so an absolute folder
        gives no `//` (which Snakemake warns about) and no marker lands outside `tables/`, while a
        plain relative folder such as the default `results` keeps the marker it always had.
        """
        normal = posixpath.normpath(self.results.replace("%", "%25"))
        parts = ["%2E%2E" if part == ".." else part for part in normal.lstrip("/").split("/")]
        return f"{self.work}/tables/" + ("%2F" if normal.startswith("/") else "") + "/".join(parts) + ".done"


# -- the names of the results ------------------------------------------------------------------

CELLS_TABLE = "cells.csv"  # every evaluation cell and category in long form: what the analyses read
IN_LANGUAGE = "in_language"  # each model on its own language


def zero_shot_stem(category: str, statistic: str) -> str:
    """`zero_shot[_<category>][_std]`: the mean (or std) F1 matrix over seeds, overall or of one category."""
    return ("zero_shot" if category == "overall" else f"zero_shot_{category}") + ("" if statistic == "mean" else "_std")


def matrix_stems(types: Sequence[str]) -> list[tuple[str, str, str]]:
    """(category, statistic, stem) of every zero-shot matrix."""
    return [(category, statistic, zero_shot_stem(category, statistic))
            for category in ["overall", *types] for statistic in ("mean", "std")]


def text_tables(stem: str) -> list[str]:
    return [stem + ext for ext in TABLE_FORMATS]


def zero_shot_names(types: Sequence[str]) -> list[str]:
    """The files of the main tables: cells.csv, every zero-shot matrix (a heatmap of each mean), in-language."""
    names = [CELLS_TABLE]
    for _, statistic, stem in matrix_stems(types):
        names += text_tables(stem) + ([f"{stem}.png"] if statistic == "mean" else [])
    return names + text_tables(IN_LANGUAGE)


GRID_STEMS = ("grid_dev", "grid_best")
LEARNING_CURVE = "learning_curve"
LEAVE_ONE_OUT = "leave_one_out"
OVERLAP_STEMS = ("overlap", "overlap_correlation")
OVERLAP_SCATTER = "overlap_scatter.png"


def grid_names() -> list[str]:
    return [name for stem in GRID_STEMS for name in text_tables(stem)]


def learning_curve_names() -> list[str]:
    return [*text_tables(LEARNING_CURVE), f"{LEARNING_CURVE}.png"]


def leave_one_out_names() -> list[str]:
    return text_tables(LEAVE_ONE_OUT)


def overlap_names() -> list[str]:
    return [name for stem in OVERLAP_STEMS for name in text_tables(stem)] + [OVERLAP_SCATTER]


def effect_stem(checkpoint: str, baseline: str) -> str:
    return f"effect_{checkpoint}_vs_{baseline}"


def effect_names(checkpoint: str, baseline: str) -> list[str]:
    """The differences (with a heatmap), and every difference with its bootstrap interval (`_ci`)."""
    stem = effect_stem(checkpoint, baseline)
    return [*text_tables(stem), f"{stem}.png", *text_tables(f"{stem}_ci")]
