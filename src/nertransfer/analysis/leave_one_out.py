"""Leave-one-out transfer: each held-out language's F1 from every other language trained together, beside the best
single source (no torch).

The MasakhaNER 2.0 paper's question: does a model trained on all the other languages transfer to
a held-out one better than the best single source language? For each leave-one-out set (a
training set that holds out language X) the table gives its zero-shot F1 on X (mean over seeds),
the single training language of the same experiment (same checkpoint, same other axes) that
transfers best to X, its F1 on X, and the difference. The best single source is chosen on the
test scores shown, so it is an upper bound of what choosing one source would give.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Mapping

from nertransfer.analysis.records import row_axes
from nertransfer.analysis.rendering import write_table
from nertransfer.experiment.layout import LEAVE_ONE_OUT

if TYPE_CHECKING:
    import pandas as pd


def leave_one_out(frame: "pd.DataFrame", held_out: Mapping[str, str]) -> "pd.DataFrame":
    """One row per leave-one-out set and model: F1 on its held-out language, the best single source's, the difference."""
    import pandas as pd

    overall = frame[frame["category"] == "overall"]
    axes = [a for a in row_axes(frame) if a != "train_language"]
    f1 = overall.groupby([*axes, "train_language", "eval_language"])["f1"].mean().reset_index()
    languages = set(f1["eval_language"])
    rows = []
    for (key, group) in f1.groupby(axes) if axes else [((), f1)]:
        key = key if isinstance(key, tuple) else (key,)
        for name, language in held_out.items():
            own = group[(group["train_language"] == name) & (group["eval_language"] == language)]
            if own.empty:
                continue
            singles = group[(group["eval_language"] == language) & group["train_language"].isin(languages)
                            & (group["train_language"] != language)]
            best = singles.loc[singles["f1"].idxmax()] if len(singles) else None
            rows.append({**dict(zip(axes, key, strict=True)), "held_out": language, "trained_on": name,
                         "f1": own["f1"].iloc[0],
                         "best_single_source": best["train_language"] if best is not None else "",
                         "best_single_f1": best["f1"] if best is not None else float("nan"),
                         "difference": own["f1"].iloc[0] - best["f1"] if best is not None else float("nan")})
    return pd.DataFrame(rows).set_index([*axes, "held_out"]).sort_index()


def write_leave_one_out(frame: "pd.DataFrame", held_out: Mapping[str, str], output_dir: Path) -> list[Path]:
    table = leave_one_out(frame, held_out)
    return write_table(table, output_dir / LEAVE_ONE_OUT,
                       "Leave-one-out: zero-shot F1 x 100 (mean over seeds) on each held-out language of the model trained "
                       "on the other languages, the best single source language of the same experiment on it (chosen on "
                       "these test scores: an upper bound), and the difference.")
