"""What the runs wrote, read into frames: evaluation metrics and fine-tune records, with their axes (no torch).

Every metrics.json and train_config.json carries its cell's axes (checkpoint, training language,
seed, and the further axes of the experiment), so nothing here parses paths. Scores become
F1 x 100. pandas is loaded on use. A cell that shares another cell's fine-tune gets records and
evaluations of its own (`share_fine_tune`, `share_evaluation`), so that tables count it as the
cell it is.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence

from .files import atomic_directory, atomic_write, write_json
from . import layout
from .layout import DEV_METRICS, EPOCHS, PREDICTIONS, TRAIN_CONFIG

if TYPE_CHECKING:
    import pandas as pd

ROW_AXES = ["checkpoint", "train_language"]  # what identifies a fine-tuned model, seeds aside
# Further axes and their defaults: a table shows one as a column once any cell leaves its default.
EXTRA_AXES = {"checkpoint_language": "", "label_set": "all", "train_size": "full", "grid_point": "default"}
METRICS = ["precision", "recall", "f1"]


def record_axes(record: dict) -> dict:
    """A metrics or train_config record's cell axes, the further ones at their defaults when absent
    (records written before those axes existed), a checkpoint of the training language itself not crossed."""
    axes = {key: record[key] for key in [*ROW_AXES, "seed"]}
    axes.update({key: str(record.get(key, default)) for key, default in EXTRA_AXES.items()})
    if axes["checkpoint_language"] == axes["train_language"]:
        axes["checkpoint_language"] = ""
    return axes


class RecordError(ValueError):
    """Records that cannot be tabulated as they are (two for one seed of one cell); the message names the files."""


def row_key(axes: dict) -> str:
    """A table row's identity: every axis of a record but the seed (`tiny/hau//all/full/default`)."""
    return "/".join(str(axes[key]) for key in [*ROW_AXES, *EXTRA_AXES])


def load_metrics(files: Iterable[str | Path], types: Sequence[str]) -> "pd.DataFrame":
    """One row per evaluation cell and category ('overall' first), scores x 100.

    A category outside the cell's label set has no row (the model was neither trained nor scored
    on it). Two records of one seed of one cell on one language are an error: a mean over them
    would count the seed twice.
    """
    import pandas as pd

    rows, seen = [], {}
    for path in files:
        cell = json.loads(Path(path).read_text())
        axes = record_axes(cell)
        key = (row_key(axes), axes["seed"], cell["eval_language"])
        if key in seen:
            raise RecordError(f"{path} and {seen[key]} are both seed {axes['seed']} of {key[0]} on {key[2]}: "
                              "one record per seed and evaluation language")
        seen[key] = path
        axes = {**{key: axes[key] for key in [*ROW_AXES, "seed"]}, "eval_language": cell["eval_language"], **axes}
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
        summary = json.loads((folder / TRAIN_CONFIG).read_text())
        dev = json.loads((folder / DEV_METRICS).read_text())
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
    return cells.fillna({axis: "" for axis in EXTRA_AXES}).astype({a: str for a in EXTRA_AXES}).groupby(axes)["f1"].mean()


def share_fine_tune(records: str | Path, output: str | Path, cell: dict, fine_tune_of: str) -> None:
    """Records for a cell whose fine-tune is another cell's (same start, data and settings): that
    fine-tune's epochs and dev metrics, and its settings with this cell's axes and `fine_tune_of`."""
    records = Path(records)
    summary = {**json.loads((records / TRAIN_CONFIG).read_text()), **cell, "fine_tune_of": fine_tune_of}
    with atomic_directory(output) as folder:
        (folder / EPOCHS).write_bytes((records / EPOCHS).read_bytes())
        write_json(folder / DEV_METRICS, json.loads((records / DEV_METRICS).read_text()))
        write_json(folder / TRAIN_CONFIG, summary)


def share_evaluation(evaluation: str | Path, output: str | Path, cell: dict) -> None:
    """An evaluation for a cell whose fine-tune is another cell's: the same model on the same test set, so the
    same predictions, and the metrics with this cell's axes."""
    evaluation, output = Path(evaluation), Path(output)
    metrics = {**json.loads((evaluation / layout.METRICS).read_text()), **cell}
    output.mkdir(parents=True, exist_ok=True)
    with atomic_write(output / PREDICTIONS) as out:
        out.write((evaluation / PREDICTIONS).read_text(encoding="utf-8"))
    write_json(output / layout.METRICS, metrics)
