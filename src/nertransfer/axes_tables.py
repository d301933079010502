"""Tables of the optional axes: the hyperparameter search (dev only) and learning curves (no torch).

A grid search is judged on dev F1 alone: `grid_dev` lists every configuration's dev F1 (mean ±
std over seeds), and `grid_best` reports the test results of the configuration with the best
mean dev F1 per model, so the test sets never influence the choice. A learning curve is the
in-language test F1 against the number of training sentences.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from .tables import EXTRA_AXES, _mean_pm_std, _write, record_axes, row_axes, save_figure

if TYPE_CHECKING:
    import pandas as pd


def load_runs(run_dirs: Iterable[str | Path]) -> "pd.DataFrame":
    """One row per fine-tune: its axes, dev F1 x 100 and the number of training sentences."""
    import pandas as pd

    rows = []
    for run in map(Path, run_dirs):
        summary = json.loads((run / "train_config.json").read_text())
        dev = json.loads((run / "dev_metrics.json").read_text())
        rows.append({**record_axes(summary), "dev_f1": 100 * dev["f1"], "train_sentences": summary.get("train_sentences")})
    return pd.DataFrame(rows)


def grid_tables(runs: "pd.DataFrame", frame: "pd.DataFrame", output_dir: Path) -> list[Path]:
    """`grid_dev`: dev F1 per configuration; `grid_best`: test F1 of the best-on-dev configuration.

    Only cells of a grid take part; a model's other cells (other blocks of the experiment) do not.
    """
    runs = runs[runs["grid_point"] != EXTRA_AXES["grid_point"]]  # the search: cells of a grid, not other blocks'
    axes = [a for a in row_axes(runs) if a != "grid_point"]
    dev = runs.groupby([*axes, "grid_point"])["dev_f1"].agg(["mean", "std", "count"])
    best = dev["mean"].groupby(level=axes).idxmax().map(lambda index: index[-1]).rename("grid_point")
    chosen_keys = set(best.reset_index().itertuples(index=False, name=None))
    dev["chosen"] = [key in chosen_keys for key in dev.index]
    shown = _mean_pm_std(dev.rename(columns={"mean": "dev_f1_mean", "std": "dev_f1_std"})).assign(
        seeds=dev["count"], chosen=["yes" if c else "" for c in dev["chosen"]])
    written = _write(dev.rename(columns={"count": "seeds"}), output_dir / "grid_dev",
                     "Hyperparameter search: dev F1 x 100 (mean ± std over seeds); the chosen configuration has the best mean.",
                     shown)
    overall = frame[frame["category"] == "overall"]
    chosen = overall.merge(best.reset_index(), on=[*axes, "grid_point"])
    test = chosen.groupby([*axes, "grid_point", "eval_language"])["f1"].mean().unstack("eval_language")
    written += _write(test, output_dir / "grid_best",
                      "Test F1 x 100 (mean over seeds) of the configuration chosen on dev: rows model, columns evaluation language.")
    return written


def learning_curve(runs: "pd.DataFrame", frame: "pd.DataFrame", output_dir: Path) -> list[Path]:
    """In-language test F1 (mean ± std over seeds) against training sentences, per model; a plot.

    A model (every axis but the size) is on the curve when it was trained on two sizes or more.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    axes = [a for a in row_axes(frame) if a != "train_size"]
    own = frame[(frame["category"] == "overall") & (frame["train_language"] == frame["eval_language"])]
    sizes = runs.groupby([*axes, "train_size"])["train_sentences"].first()
    curve = own.groupby([*axes, "train_size"])["f1"].agg(["mean", "std"]).join(sizes).reset_index()
    curve = curve[curve.groupby(axes)["train_size"].transform("nunique") > 1]  # models with a curve, not one point
    curve = curve.sort_values([*axes, "train_sentences"]).set_index([*axes, "train_size"])
    written = _write(curve.rename(columns={"mean": "f1_mean", "std": "f1_std"}), output_dir / "learning_curve",
                     "Learning curve: in-language test F1 x 100 (mean ± std over seeds) by training sentences.")
    figure, plot = plt.subplots(figsize=(6, 4), dpi=120, layout="constrained")
    for key, points in curve.reset_index().groupby(axes):
        label = " / ".join(str(k) for k in (key if isinstance(key, tuple) else (key,)) if k != "")
        plot.errorbar(points["train_sentences"], points["mean"], yerr=points["std"].fillna(0), marker="o", capsize=3, label=label)
    plot.set_xscale("log")
    plot.set_xlabel("training sentences")
    plot.set_ylabel("in-language test F1")
    plot.set_title("Learning curves")
    plot.legend(fontsize=6, ncols=2)
    path = output_dir / "learning_curve.png"
    save_figure(figure, path)
    return [*written, path]


def axes_table_names(grid: bool, curve: bool) -> list[str]:
    """The files `write_axes_tables` writes for these axes (for the workflow's outputs)."""
    formats = (".csv", ".md", ".tex")
    names = [f"{stem}{ext}" for stem in ("grid_dev", "grid_best") for ext in formats] if grid else []
    return names + ([f"learning_curve{ext}" for ext in (*formats, ".png")] if curve else [])


def write_axes_tables(runs_dirs: Iterable[str | Path], frame: "pd.DataFrame", output_dir: str | Path) -> list[Path]:
    runs = load_runs(runs_dirs)
    output_dir = Path(output_dir)
    written = []
    if (runs["grid_point"] != EXTRA_AXES["grid_point"]).any():
        written += grid_tables(runs, frame, output_dir)
    if (runs["train_size"] != EXTRA_AXES["train_size"]).any():
        written += learning_curve(runs, frame, output_dir)
    return written

