"""The tables of an experiment from the metrics of all its evaluation cells (no torch).

Scores are F1 x 100 (conlleval convention), averaged over seeds with their standard deviation:
the sample one (ddof=1, empty with a single seed) by default, or the population one (ddof=0, as
numpy computes it and many published tables report) with `std="population"`. The tables: the
zero-shot matrices (overall and per category, each mean with a heatmap), the in-language table,
the long-form cells.csv the analyses read, and, when the experiment has those axes, the grid
search and learning curves.

Every number knows how many seeds it averages: cells.csv and the in-language table have a seeds
column, and in Markdown and LaTeX a mean or deviation over fewer seeds than the configuration
asks for is marked with a dagger, explained under the table. A missing evaluation can thus never
pass for a complete table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Mapping, Sequence

from nertransfer.analysis.records import (
    EXTRA_AXES,
    METRICS,
    ROW_AXES,
    load_metrics,
    load_runs,
    row_axes,
    row_key,
    without_unused_axes,
)
from nertransfer.analysis.rendering import heatmap, mean_pm_std, write_table
from nertransfer.data.files import atomic_write
from nertransfer.experiment.layout import CELLS_TABLE, IN_LANGUAGE, matrix_stems

if TYPE_CHECKING:
    import pandas as pd

STD = {"sample": 1, "population": 0}  # the std setting and its ddof
FEWER = "†"  # marks a number averaged over fewer seeds than configured
FALLBACK = "‡"  # marks a MAD-X evaluation that used the training language's adapter (the language has none)
FALLBACK_NOTE = (f"{FALLBACK}: MAD-X with no language adapter for this language: evaluated over the training "
                 "language's adapter (cells.csv's language_adapter column).")


@dataclass(frozen=True)
class Seeds:
    """How many seeds each row is configured with (row_key -> count) and which standard deviation to report."""

    expected: Mapping[str, int] = field(default_factory=dict)
    std: str = "sample"

    @property
    def ddof(self) -> int:
        return STD[self.std]

    @staticmethod
    def note() -> str:
        return f"{FEWER}: over fewer seeds than the configuration asks for ({CELLS_TABLE} gives each cell's seeds)."


def count_seeds(frame: "pd.DataFrame", seeds: Seeds) -> "pd.DataFrame":
    """cells.csv's rows with `seeds` (seeds behind the cell's mean) and `seeds_configured` (what the config asks)."""
    frame = frame.copy()
    keys = [*ROW_AXES, *EXTRA_AXES]
    frame["seeds"] = frame.groupby([*keys, "eval_language", "category"])["seed"].transform("nunique")
    fallback = int(frame["seeds"].max()) if len(frame) else 0  # no configuration given: the most any cell has
    frame["seeds_configured"] = [seeds.expected.get(row_key(axes), fallback) for axes in frame[keys].to_dict("records")]
    return frame


def matrix(frame: "pd.DataFrame", category: str, statistic: str, ddof: int = 1) -> "pd.DataFrame":
    """Checkpoint x training language rows, evaluation language columns, mean or std of F1 over seeds."""
    subset = frame[frame["category"] == category]
    grouped = subset.groupby([*row_axes(frame), "eval_language"])["f1"]
    table = (grouped.mean() if statistic == "mean" else grouped.std(ddof=ddof)).unstack("eval_language")
    return table[sorted(table.columns)]


def _flagged(frame: "pd.DataFrame", category: str, like: "pd.DataFrame", flag) -> "pd.DataFrame":
    """True where `flag(rows)` holds for some record of a matrix cell (same shape as `like`)."""
    subset = frame[frame["category"] == category]
    flags = flag(subset).groupby([subset[a] for a in [*row_axes(frame), "eval_language"]]).any()
    return flags.unstack("eval_language").reindex_like(like).fillna(False).astype(bool)


def short_of_seeds(frame: "pd.DataFrame", category: str, like: "pd.DataFrame") -> "pd.DataFrame":
    """True where a matrix cell averages fewer seeds than configured (same shape as `like`)."""
    return _flagged(frame, category, like, lambda rows: rows["seeds"] < rows["seeds_configured"])


def marked(table: "pd.DataFrame", flags: "pd.DataFrame", mark: str = FEWER,
           more: Sequence[tuple["pd.DataFrame", str]] = ()) -> "pd.DataFrame":
    """The table as text for reading, 2 decimals, `mark` where `flags` is true (a dagger: fewer seeds than configured),
    and each further (flags, mark) of `more` where its flags are."""
    import pandas as pd

    text = table.astype(object)
    for i in range(table.shape[0]):
        for j in range(table.shape[1]):
            value = table.iat[i, j]
            marks = "".join(symbol for symbols, symbol in [(flags, mark), *more] if symbols.iat[i, j])
            text.iat[i, j] = "–" if pd.isna(value) else f"{value:.2f}" + marks
    return text


def adapter_fallback(frame: "pd.DataFrame", category: str, like: "pd.DataFrame") -> "pd.DataFrame":
    """True where a matrix cell's evaluation used another language's adapter (MAD-X without one for its language;
    load_metrics gives every record a language_adapter, "" when none was used)."""
    return _flagged(frame, category, like, lambda rows: (rows["language_adapter"] != "")
                    & (rows["language_adapter"] != rows["eval_language"]))


def in_language(frame: "pd.DataFrame", types: Sequence[str], ddof: int = 1) -> "pd.DataFrame":
    """Each model on its own language: seeds, P, R, F1 overall and F1 per category, mean and std over seeds."""
    own = frame[frame["train_language"] == frame["eval_language"]]
    axes = row_axes(frame)
    statistics = ["mean", lambda values: values.std(ddof=ddof)]
    overall = own[own["category"] == "overall"]
    table = overall.groupby(axes)[["seeds", "seeds_configured"]].max()
    summary = overall.groupby(axes)[METRICS].agg(statistics)
    summary.columns = [f"{metric}_{'mean' if statistic == 'mean' else 'std'}" for metric, statistic in summary.columns]
    per_type = own[own["category"].isin(types)].groupby([*axes, "category"])["f1"].agg(statistics).unstack("category")
    per_type.columns = [f"{category}_f1_{'mean' if statistic == 'mean' else 'std'}" for statistic, category in per_type.columns]
    return table.join(summary).join(per_type)


def write_tables(metric_files: Iterable[str | Path], output_dir: str | Path, types: Sequence[str],
                 records: Iterable[str | Path] = (), seeds: Seeds = Seeds(), held_out: Mapping[str, str] = {}) -> list[Path]:
    """Write every table (CSV, Markdown, LaTeX) and heatmap into `output_dir`; return the paths.

    With the fine-tunes' records folders, also the grid-search and learning-curve tables when
    some cell has those axes; with `held_out` (leave-one-out set -> its held-out language), the
    leave-one-out table.
    """
    output_dir = Path(output_dir)
    frame = count_seeds(load_metrics(metric_files, types), seeds)
    records = list(records)
    runs = load_runs(records) if records else None  # every record read (and checked) before any table is written
    written = [output_dir / CELLS_TABLE]
    with atomic_write(written[0]) as out:
        sorted_rows = frame.sort_values([*row_axes(frame), "seed", "eval_language", "category"])
        if "language_adapter" in sorted_rows and (sorted_rows["language_adapter"] == "").all():
            sorted_rows = sorted_rows.drop(columns="language_adapter")  # no MAD-X cell: the cells.csv of before
        without_unused_axes(sorted_rows).round(4).to_csv(out, index=False)
    spread = f"{seeds.std} standard deviation, ddof={seeds.ddof}"
    shorts = {}  # per category: the same cells fall short for its mean and its std
    for category, statistic, stem in matrix_stems(types):
        label = "F1" if category == "overall" else f"{category} F1"
        table = matrix(frame, category, statistic, seeds.ddof)
        if category not in shorts:
            shorts[category] = short_of_seeds(frame, category, table)
        short, fallback = shorts[category], adapter_fallback(frame, category, table)
        over = "mean over seeds" if statistic == "mean" else f"{spread}, over seeds"
        caption = f"Zero-shot {label} x 100 ({over}): rows checkpoint / training language, columns evaluation language."
        incomplete, swapped = bool(short.to_numpy().any()), bool(fallback.to_numpy().any())
        notes = " ".join([*([seeds.note()] if incomplete else []), *([FALLBACK_NOTE] if swapped else [])])
        written += write_table(table, output_dir / stem, caption,
                               marked(table, short, more=[(fallback, FALLBACK)]) if incomplete or swapped else None,
                               note=notes)
        if statistic == "mean":
            written.append(heatmap(table, output_dir / f"{stem}.png", f"Zero-shot {label} (mean over seeds)"))
    written += _in_language_table(frame, types, seeds, output_dir, spread)
    if held_out:
        from nertransfer.analysis.leave_one_out import write_leave_one_out

        written += write_leave_one_out(frame, held_out, output_dir)
    if runs is not None:
        written += _axes_tables(runs, frame, output_dir)
    return written


def _in_language_table(frame, types, seeds: Seeds, output_dir: Path, spread: str) -> list[Path]:
    table = in_language(frame, types, seeds.ddof)
    shown = mean_pm_std(table)
    short = table["seeds"] < table["seeds_configured"]
    shown.insert(0, "seeds", [f"{n}{FEWER if flag else ''}" for n, flag in zip(table["seeds"], short, strict=True)])
    return write_table(table, output_dir / IN_LANGUAGE, f"In-language precision, recall and F1 x 100 (mean ± {spread}).",
                       shown, note=seeds.note() if short.any() else "")


def _axes_tables(runs: "pd.DataFrame", frame: "pd.DataFrame", output_dir: Path) -> list[Path]:
    """The grid search's and learning curves' tables, when some cell has those axes."""
    written = []
    if (runs["grid_point"] != EXTRA_AXES["grid_point"]).any():
        from nertransfer.analysis.grid_search import grid_tables

        written += grid_tables(runs, frame, output_dir)
    if (runs["train_size"] != EXTRA_AXES["train_size"]).any():
        from nertransfer.analysis.learning_curve import learning_curve

        written += learning_curve(runs, frame, output_dir)
    return written

