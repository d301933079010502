"""What the runs wrote, read into frames: evaluation metrics and fine-tune records, with their axes (no torch).

Every metrics.json and train_config.json carries its cell's axes (checkpoint, training language,
seed, and the further axes of the experiment), so nothing here parses paths. Scores become
F1 x 100. pandas is loaded on use.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence

from .layout import DEV_METRICS, TRAIN_CONFIG

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


def load_metrics(files: Iterable[str | Path], types: Sequence[str]) -> "pd.DataFrame":
    """One row per evaluation cell and category ('overall' first), scores x 100.

    A category outside the cell's label set has no row (the model was neither trained nor scored on it).
    """
    import pandas as pd

    rows = []
    for path in files:
        cell = json.loads(Path(path).read_text())
        axes = record_axes(cell)
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
