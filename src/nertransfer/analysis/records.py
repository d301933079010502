"""What the runs wrote, read into frames: evaluation metrics and fine-tune records, with their axes (no torch).

Every metrics.json and train_config.json carries its cell's axes (checkpoint, training language,
seed, and the further axes of the experiment), so nothing here parses paths. Scores become
F1 x 100. pandas is loaded on use. A cell that shares another cell's fine-tune gets records and
evaluations of its own (`share_fine_tune`, `share_evaluation`), so that tables count it as the
cell it is.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence

from nertransfer.data.files import atomic_directory, atomic_write, write_json
from nertransfer.experiment import layout
from nertransfer.experiment.axes import ALWAYS_RECORDED, COLUMNS, record_axes, row_key
from nertransfer.experiment.layout import DEV_METRICS, EPOCHS, PREDICTIONS, TRAIN_CONFIG

if TYPE_CHECKING:
    import pandas as pd

ROW_AXES = ["checkpoint", "train_language"]  # what identifies a fine-tuned model, seeds aside
# Further axes and their defaults (declared in nertransfer.experiment.axes): a table shows one as a column once any
# cell leaves its default.
EXTRA_AXES = COLUMNS
METRICS = ["precision", "recall", "f1"]


class RecordError(ValueError):
    """A record that cannot be used as it is (not JSON, a field missing, two for one seed of one cell);
    the message names the file and what is wrong."""


SCORES = ("precision", "recall", "f1", "support")
# What each record must hold for the tables, the cards and status to use it (written by train, evaluate, share).
REQUIRED = {
    layout.METRICS: (*ROW_AXES, "seed", "eval_language", *SCORES, "per_category"),
    TRAIN_CONFIG: (*ROW_AXES, "seed"),
    DEV_METRICS: ("f1",),  # what model selection and the tables use
}


def read_record(path: str | Path, kind: str | None = None) -> dict:
    """A metrics.json, train_config.json or dev_metrics.json, checked: every reader of records goes through
    here, so a damaged one is one line naming the file and what is wrong, never a bare traceback, and
    `nertransfer status` and the workflow judge it by the same rule (`damage`). `kind`: which record it is
    (layout.METRICS, TRAIN_CONFIG or DEV_METRICS), by default its file name."""
    path = Path(path)
    required = REQUIRED.get(kind or path.name, ())
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RecordError(f"{path}: missing") from None
    except (OSError, UnicodeDecodeError) as error:
        raise RecordError(f"{path}: cannot be read ({error})") from None
    try:
        record = json.loads(text)
    except json.JSONDecodeError as error:
        raise RecordError(f"{path}: not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})") from None
    if not isinstance(record, dict):
        raise RecordError(f"{path}: expected a JSON object, got {type(record).__name__}")
    missing = [key for key in required if key not in record]
    if missing:
        raise RecordError(f"{path}: lacks {', '.join(map(repr, missing))} "
                          f"(a {kind or path.name} written by nertransfer has them)")
    for key in (k for k in SCORES if k in required):
        if not isinstance(record[key], (int, float)) or isinstance(record[key], bool):
            raise RecordError(f"{path}: {key!r} is {record[key]!r}, expected a number")
    return record


def damage(paths: Iterable[str | Path]) -> str:
    """Why the first of these records cannot be used ("" when all can)."""
    for path in paths:
        try:
            read_record(path)
        except RecordError as error:
            return str(error)
    return ""


def run_records(folder: str | Path) -> list[Path]:
    """The records of a fine-tune's records folder that must be whole for it to count as done."""
    return [Path(folder) / TRAIN_CONFIG, Path(folder) / DEV_METRICS]


def without_unused_axes(frame: "pd.DataFrame") -> "pd.DataFrame":
    """The frame without the columns of axes that are not always recorded and that every row has at its default:
    a matrix that does not use an axis writes the cells.csv it wrote before the axis existed."""
    unused = [axis for axis, default in EXTRA_AXES.items()
              if axis not in ALWAYS_RECORDED and axis in frame and (frame[axis] == default).all()]
    return frame.drop(columns=unused)


def with_every_axis(cells: "pd.DataFrame") -> "pd.DataFrame":
    """cells.csv read back: every axis a column (an absent one at its default), empty axes as ''."""
    cells = cells.assign(**{axis: default for axis, default in EXTRA_AXES.items() if axis not in cells})
    return cells.fillna({axis: "" for axis in EXTRA_AXES}).astype({a: str for a in EXTRA_AXES})


def load_metrics(files: Iterable[str | Path], types: Sequence[str]) -> "pd.DataFrame":
    """One row per evaluation cell and category ('overall' first), scores x 100.

    A category outside the cell's label set has no row (the model was neither trained nor scored
    on it). Two records of one seed of one cell on one language are an error: a mean over them
    would count the seed twice.
    """
    import pandas as pd

    rows, seen = [], {}
    for path in files:
        cell = read_record(path, layout.METRICS)
        axes = record_axes(cell)
        key = (row_key(axes), axes["seed"], cell["eval_language"])
        if key in seen:
            raise RecordError(f"{path} and {seen[key]} are both seed {axes['seed']} of {key[0]} on {key[2]}: "
                              "one record per seed and evaluation language")
        seen[key] = path
        axes = {**{key: axes[key] for key in [*ROW_AXES, "seed"]}, "eval_language": cell["eval_language"], **axes,
                "language_adapter": cell.get("language_adapter", "")}  # MAD-X: whose language adapter it was evaluated over
        for category, values in [("overall", cell), *((t, cell["per_category"].get(t)) for t in types)]:
            if values is None:
                continue
            rows.append({**axes, "category": category, **{m: 100 * values[m] for m in METRICS}, "support": values["support"]})
    return pd.DataFrame(rows)


def load_runs(records: Iterable[str | Path]) -> "pd.DataFrame":
    """One row per fine-tune (its records folder): its axes, dev F1 x 100 and the number of training sentences."""
    import pandas as pd

    rows = []
    for folder in map(Path, records):
        summary, dev = (read_record(path) for path in run_records(folder))
        rows.append({**record_axes(summary), "dev_f1": 100 * dev["f1"], "train_sentences": summary.get("train_sentences")})
    return pd.DataFrame(rows)


def row_axes(frame: "pd.DataFrame") -> list[str]:
    """checkpoint, [checkpoint_language], train_language, then every further axis some cell varies."""
    used = [axis for axis, default in EXTRA_AXES.items() if axis in frame and (frame[axis] != default).any()]
    return ["checkpoint", *[a for a in used if a == "checkpoint_language"], "train_language",
            *[a for a in used if a != "checkpoint_language"]]


def mean_f1(cells: "pd.DataFrame") -> "pd.Series":
    """Mean F1 over seeds per checkpoint, every further axis, training and evaluation language and category
    (of the tables' cells.csv, read back with empty axes as '')."""
    axes = ["checkpoint", *EXTRA_AXES, "train_language", "eval_language", "category"]
    return with_every_axis(cells).groupby(axes)["f1"].mean()


def share_fine_tune(records: str | Path, output: str | Path, cell: dict, fine_tune_of: str) -> None:
    """Records for a cell whose fine-tune is another cell's (same start, data and settings): that
    fine-tune's epochs and dev metrics, and its settings with this cell's axes and `fine_tune_of`."""
    records = Path(records)
    summary = {**read_record(records / TRAIN_CONFIG), **cell, "fine_tune_of": fine_tune_of}
    with atomic_directory(output) as folder:
        (folder / EPOCHS).write_bytes((records / EPOCHS).read_bytes())
        write_json(folder / DEV_METRICS, read_record(records / DEV_METRICS))
        write_json(folder / TRAIN_CONFIG, summary)


def share_evaluation(evaluation: str | Path, output: str | Path, cell: dict) -> None:
    """An evaluation for a cell whose fine-tune is another cell's: the same model on the same test set, so the
    same predictions, and the metrics with this cell's axes."""
    evaluation, output = Path(evaluation), Path(output)
    metrics = {**read_record(evaluation / layout.METRICS), **cell}
    output.mkdir(parents=True, exist_ok=True)
    with atomic_write(output / PREDICTIONS) as out:
        out.write((evaluation / PREDICTIONS).read_text(encoding="utf-8"))
    write_json(output / layout.METRICS, metrics)


DAMAGED = ".damaged"  # the suffix of a damaged record (or records folder) set aside


def set_aside_damaged(records_folders: Iterable[str | Path], metrics_files: Iterable[str | Path]) -> list[str]:
    """Move every damaged fine-tune records folder and evaluation record aside (`<name>.damaged`, replacing an
    earlier one), so that the workflow sees the output missing and makes it again; one line per record moved.

    A record that is not whole (edited by hand, truncated by a full disk outside nertransfer's atomic
    writes) would otherwise be taken as done because it exists and is newer than its inputs, and the
    tables job would fail on it after Snakemake had already removed the previous tables.
    """
    moved = []
    candidates = [(Path(folder), run_records(folder)) for folder in records_folders]
    candidates += [(Path(path), [path]) for path in metrics_files]
    for path, records in candidates:
        why = damage(records) if path.exists() else ""
        if why:
            aside = path.with_name(path.name + DAMAGED)
            if aside.is_dir():
                shutil.rmtree(aside)
            os.replace(path, aside)
            moved.append(f"{why}: set aside as {aside}; the job that writes it runs again")
    return moved
