"""Learning curves: in-language test F1 against the number of training sentences, a table and a plot (no torch).

A model (every axis but the training size) is on the curve when it was trained on two sizes or more.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from nertransfer.analysis.records import row_axes
from nertransfer.analysis.rendering import save_figure, write_table
from nertransfer.experiment.layout import LEARNING_CURVE

if TYPE_CHECKING:
    import pandas as pd


def learning_curve(runs: "pd.DataFrame", frame: "pd.DataFrame", output_dir: Path) -> list[Path]:
    """In-language test F1 (mean ± std over seeds) against training sentences, per model; a plot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    axes = [a for a in row_axes(frame) if a != "train_size"]
    own = frame[(frame["category"] == "overall") & (frame["train_language"] == frame["eval_language"])]
    sizes = runs.groupby([*axes, "train_size"])["train_sentences"].first()
    curve = own.groupby([*axes, "train_size"])["f1"].agg(["mean", "std"]).join(sizes).reset_index()
    curve = curve[curve.groupby(axes)["train_size"].transform("nunique") > 1]  # models with a curve, not one point
    curve = curve.sort_values([*axes, "train_sentences"]).set_index([*axes, "train_size"])
    written = write_table(curve.rename(columns={"mean": "f1_mean", "std": "f1_std"}), output_dir / LEARNING_CURVE,
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
    return [*written, save_figure(figure, output_dir / f"{LEARNING_CURVE}.png")]
