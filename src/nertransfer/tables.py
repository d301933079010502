"""The tables of an experiment from the metrics of all its evaluation cells (no torch).

Scores are F1 x 100 (conlleval convention), averaged over seeds with their sample standard
deviation (empty with a single seed): the zero-shot matrices (overall and per category, each
mean with a heatmap), the in-language table, the long-form cells.csv the analyses read, and,
when the experiment has those axes, the grid search and learning curves.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence

from .files import atomic_write
from .layout import CELLS_TABLE, IN_LANGUAGE, matrix_stems
from .records import EXTRA_AXES, METRICS, load_metrics, load_runs, row_axes
from .rendering import heatmap, mean_pm_std, write_table

if TYPE_CHECKING:
    import pandas as pd


def matrix(frame: "pd.DataFrame", category: str, statistic: str) -> "pd.DataFrame":
    """Checkpoint x training language rows, evaluation language columns, mean or std of F1 over seeds."""
    subset = frame[frame["category"] == category]
    grouped = subset.groupby([*row_axes(frame), "eval_language"])["f1"]
    table = (grouped.mean() if statistic == "mean" else grouped.std()).unstack("eval_language")
    return table[sorted(table.columns)]


def in_language(frame: "pd.DataFrame", types: Sequence[str]) -> "pd.DataFrame":
    """Each model on its own language: P, R, F1 overall and F1 per category, mean and std over seeds."""
    own = frame[frame["train_language"] == frame["eval_language"]]
    axes = row_axes(frame)
    overall = own[own["category"] == "overall"].groupby(axes)[METRICS].agg(["mean", "std"])
    overall.columns = [f"{metric}_{statistic}" for metric, statistic in overall.columns]
    per_type = own[own["category"].isin(types)].groupby([*axes, "category"])["f1"].agg(["mean", "std"]).unstack("category")
    per_type.columns = [f"{category}_f1_{statistic}" for statistic, category in per_type.columns]
    return overall.join(per_type)


def write_tables(metric_files: Iterable[str | Path], output_dir: str | Path, types: Sequence[str],
                 records: Iterable[str | Path] = ()) -> list[Path]:
    """Write every table (CSV, Markdown, LaTeX) and heatmap into `output_dir`; return the paths.

    With the fine-tunes' records folders, also the grid-search and learning-curve tables when
    some cell has those axes.
    """
    output_dir = Path(output_dir)
    frame = load_metrics(metric_files, types)
    written = [output_dir / CELLS_TABLE]
    with atomic_write(written[0]) as out:
        frame.sort_values([*row_axes(frame), "seed", "eval_language", "category"]).round(4).to_csv(out, index=False)
    for category, statistic, stem in matrix_stems(types):
        label = "F1" if category == "overall" else f"{category} F1"
        table = matrix(frame, category, statistic)
        caption = f"Zero-shot {label} x 100 ({statistic} over seeds): rows checkpoint / training language, columns evaluation language."
        written += write_table(table, output_dir / stem, caption)
        if statistic == "mean":
            written.append(heatmap(table, output_dir / f"{stem}.png", f"Zero-shot {label} (mean over seeds)"))
    table = in_language(frame, types)
    written += write_table(table, output_dir / IN_LANGUAGE, "In-language precision, recall and F1 x 100 (mean ± std over seeds).",
                           mean_pm_std(table))
    records = list(records)
    if records:
        runs = load_runs(records)
        if (runs["grid_point"] != EXTRA_AXES["grid_point"]).any():
            from .grid_search import grid_tables

            written += grid_tables(runs, frame, output_dir)
        if (runs["train_size"] != EXTRA_AXES["train_size"]).any():
            from .learning_curve import learning_curve

            written += learning_curve(runs, frame, output_dir)
    return written
