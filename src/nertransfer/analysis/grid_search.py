"""The hyperparameter search's tables: every configuration judged on dev F1 alone (no torch).

`grid_dev` lists every configuration's dev F1 (mean ± std over seeds) and marks the one with the
best mean per model; `grid_best` reports the test results of that choice, so the test sets never
influence it. Only cells of a grid take part; a model's other cells (other blocks of the
experiment) do not.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from nertransfer.analysis.records import EXTRA_AXES, row_axes
from nertransfer.analysis.rendering import mean_pm_std, write_table
from nertransfer.experiment.layout import GRID_STEMS

if TYPE_CHECKING:
    import pandas as pd


def grid_tables(runs: "pd.DataFrame", frame: "pd.DataFrame", output_dir: Path) -> list[Path]:
    """`grid_dev`: dev F1 per configuration; `grid_best`: test F1 of the best-on-dev configuration."""
    dev_stem, best_stem = GRID_STEMS
    runs = runs[runs["grid_point"] != EXTRA_AXES["grid_point"]]  # the search: cells of a grid, not other blocks'
    axes = [a for a in row_axes(runs) if a != "grid_point"]
    dev = runs.groupby([*axes, "grid_point"])["dev_f1"].agg(["mean", "std", "count"])
    best = dev["mean"].groupby(level=axes).idxmax().map(lambda index: index[-1]).rename("grid_point")
    chosen_keys = set(best.reset_index().itertuples(index=False, name=None))
    dev["chosen"] = [key in chosen_keys for key in dev.index]
    shown = mean_pm_std(dev.rename(columns={"mean": "dev_f1_mean", "std": "dev_f1_std"})).assign(
        seeds=dev["count"], chosen=["yes" if c else "" for c in dev["chosen"]])
    written = write_table(dev.rename(columns={"count": "seeds"}), output_dir / dev_stem,
                          "Hyperparameter search: dev F1 x 100 (mean ± std over seeds); "
                          "the chosen configuration has the best mean.",
                          shown)
    overall = frame[frame["category"] == "overall"]
    chosen = overall.merge(best.reset_index(), on=[*axes, "grid_point"])
    test = chosen.groupby([*axes, "grid_point", "eval_language"])["f1"].mean().unstack("eval_language")
    written += write_table(test, output_dir / best_stem,
                           "Test F1 x 100 (mean over seeds) of the configuration chosen on dev: "
                           "rows model, columns evaluation language.")
    return written
