"""Tables and heatmaps from the metrics of all evaluation cells (no torch; pandas loaded on use,
so that the workflow can read `table_names` without it).

Every evaluation cell's metrics.json carries its own axes (checkpoint, train_language, seed,
eval_language), so this module never parses paths. Scores are F1 x 100 (conlleval convention),
averaged over seeds with their sample standard deviation (empty with a single seed).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence

from .files import atomic_write

if TYPE_CHECKING:
    import pandas as pd

ROW_AXES = ["checkpoint", "train_language"]  # what identifies a fine-tuned model, seeds aside
# Further axes and their defaults: a table shows one as a column once any cell leaves its default.
EXTRA_AXES = {"checkpoint_language": "", "label_set": "all", "train_size": "full", "grid_point": "default"}
METRICS = ["precision", "recall", "f1"]
TEXT_FORMATS = (".csv", ".md", ".tex")  # each table is written in all three


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


def row_axes(frame: "pd.DataFrame") -> list[str]:
    """checkpoint, [checkpoint_language], train_language, then every further axis some cell varies."""
    used = [axis for axis, default in EXTRA_AXES.items() if axis in frame and (frame[axis] != default).any()]
    return ["checkpoint", *[a for a in used if a == "checkpoint_language"], "train_language",
            *[a for a in used if a != "checkpoint_language"]]


def matrix(frame: pd.DataFrame, category: str, statistic: str) -> pd.DataFrame:
    """Checkpoint x training language rows, evaluation language columns, mean or std of F1 over seeds."""

    subset = frame[frame["category"] == category]
    grouped = subset.groupby([*row_axes(frame), "eval_language"])["f1"]
    table = (grouped.mean() if statistic == "mean" else grouped.std()).unstack("eval_language")
    return table[sorted(table.columns)]


def in_language(frame: pd.DataFrame, types: Sequence[str]) -> pd.DataFrame:
    """Each model on its own language: P, R, F1 overall and F1 per category, mean and std over seeds."""

    own = frame[frame["train_language"] == frame["eval_language"]]
    axes = row_axes(frame)
    overall = own[own["category"] == "overall"].groupby(axes)[METRICS].agg(["mean", "std"])
    overall.columns = [f"{metric}_{statistic}" for metric, statistic in overall.columns]
    per_type = own[own["category"].isin(types)].groupby([*axes, "category"])["f1"].agg(["mean", "std"]).unstack("category")
    per_type.columns = [f"{category}_f1_{statistic}" for statistic, category in per_type.columns]
    return overall.join(per_type)


def _mean_pm_std(table: pd.DataFrame) -> pd.DataFrame:
    """Pair each `*_mean` column with its `*_std` as one 'mean ± std' text column, for reading."""
    import pandas as pd

    shown = pd.DataFrame(index=table.index)
    for column in table.columns:
        if column.endswith("_mean"):
            name = column[: -len("_mean")]
            std = table[f"{name}_std"]
            shown[name.replace("_f1", " F1").replace("f1", "F1")] = [
                "–" if pd.isna(m) else f"{m:.2f}" + ("" if pd.isna(s) else f" ± {s:.2f}") for m, s in zip(table[column], std)]
    return shown


def _write(table: pd.DataFrame, stem: Path, caption: str, shown: pd.DataFrame | None = None,
           floatfmt: str | tuple = ".2f") -> list[Path]:
    """CSV (numbers), Markdown and LaTeX (rounded for reading) of one table.

    `floatfmt`: the Markdown number format, or one per column (index columns first).
    """

    shown = (table if shown is None else shown).rename_axis(index=[name.replace("_", " ") for name in table.index.names])
    latex = shown.map(lambda value: value.replace("±", r"$\pm$") if isinstance(value, str) else value)
    paths = [stem.with_suffix(ext) for ext in TEXT_FORMATS]
    with atomic_write(paths[0]) as out:
        table.round(4).to_csv(out)
    with atomic_write(paths[1]) as out:
        out.write(f"{caption}\n\n{shown.reset_index().to_markdown(index=False, floatfmt=floatfmt, missingval='–')}\n")
    with atomic_write(paths[2]) as out:
        out.write(latex.to_latex(float_format="%.2f", caption=caption.replace("±", r"$\pm$"), label=f"tab:{stem.name.replace('_', '-')}", na_rep="--"))
    return paths


def heatmap(table: pd.DataFrame, path: Path, title: str) -> Path:
    """A PNG heatmap of a matrix table, each cell annotated with its value."""
    import pandas as pd

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows, columns = table.shape
    figure, axes = plt.subplots(figsize=(max(4.0, 2.0 + 0.6 * columns), max(3.0, 1.5 + 0.4 * rows)), dpi=120, layout="constrained")
    image = axes.imshow(table.to_numpy(dtype=float), cmap="viridis", vmin=0, vmax=100, aspect="auto")
    axes.set_xticks(range(columns), table.columns)
    axes.set_yticks(range(rows), ["/".join(map(str, index)) if isinstance(index, tuple) else str(index) for index in table.index])
    axes.set_xlabel("evaluation language")
    axes.set_ylabel("checkpoint / training language")
    for i in range(rows):
        for j in range(columns):
            value = table.iat[i, j]
            if pd.notna(value):
                axes.text(j, i, f"{value:.0f}", ha="center", va="center", color="white" if value < 60 else "black", fontsize=7)
    axes.set_title(title)
    figure.colorbar(image, ax=axes, label="F1")
    return save_figure(figure, path)


def save_figure(figure, path: Path) -> Path:
    """Save a matplotlib figure as PNG under a temporary name, then move it into place, and close it."""
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial.png")
    figure.savefig(partial)
    plt.close(figure)
    partial.replace(path)
    return path


def matrix_stems(types: Sequence[str]) -> list[tuple[str, str, str]]:
    """(category, statistic, file stem) of every zero-shot matrix: the one naming scheme."""
    return [
        (category, statistic, ("zero_shot" if category == "overall" else f"zero_shot_{category}")
         + ("" if statistic == "mean" else "_std"))
        for category in ["overall", *types]
        for statistic in ("mean", "std")
    ]


def table_names(types: Sequence[str]) -> list[str]:
    """The files `write_tables` writes, relative to its output folder (for the workflow's outputs)."""
    names = ["cells.csv"]
    for _, statistic, stem in matrix_stems(types):
        names += [stem + ext for ext in TEXT_FORMATS] + ([f"{stem}.png"] if statistic == "mean" else [])
    return names + [f"in_language{ext}" for ext in TEXT_FORMATS]


def write_tables(metric_files: Iterable[str | Path], output_dir: str | Path, types: Sequence[str],
                 run_dirs: Iterable[str | Path] = ()) -> list[Path]:
    """Write every table (CSV, Markdown, LaTeX) and heatmap into `output_dir`; return the paths.

    With the fine-tunes' folders (`run_dirs`), also the grid-search and learning-curve tables
    when the experiment has those axes (nertransfer.axes_tables).
    """
    output_dir = Path(output_dir)
    frame = load_metrics(metric_files, types)
    written = []
    with atomic_write(output_dir / "cells.csv") as out:
        frame.sort_values([*row_axes(frame), "seed", "eval_language", "category"]).round(4).to_csv(out, index=False)
    written.append(output_dir / "cells.csv")
    for category, statistic, stem in matrix_stems(types):
        label = "F1" if category == "overall" else f"{category} F1"
        table = matrix(frame, category, statistic)
        caption = f"Zero-shot {label} x 100 ({statistic} over seeds): rows checkpoint / training language, columns evaluation language."
        written += _write(table, output_dir / stem, caption)
        if statistic == "mean":
            written.append(heatmap(table, output_dir / f"{stem}.png", f"Zero-shot {label} (mean over seeds)"))
    table = in_language(frame, types)
    written += _write(table, output_dir / "in_language", "In-language precision, recall and F1 x 100 (mean ± std over seeds).", _mean_pm_std(table))
    run_dirs = list(run_dirs)
    if run_dirs:
        from .axes_tables import write_axes_tables

        written += write_axes_tables(run_dirs, frame, output_dir)
    return written
