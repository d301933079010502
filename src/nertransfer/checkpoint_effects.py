"""The study's checkpoint effects: how much a starting checkpoint changes F1 against a baseline (no torch).

For example the language-adapted or the Swahili start against xlm-roberta-base: mean F1 over
seeds of one minus the other's, per category, training and evaluation language, matched on every
other axis. Crossed cells (a checkpoint of another language than the training language) are left
out: the comparison is each language's own start against the baseline.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .layout import effect_stem
from .records import EXTRA_AXES, mean_f1
from .rendering import write_table

if TYPE_CHECKING:
    import pandas as pd


def checkpoint_effect(cells: "pd.DataFrame", checkpoint: str, baseline: str) -> "pd.DataFrame":
    """F1 of `checkpoint` minus F1 of `baseline` (means over seeds): rows category / training language."""
    import pandas as pd

    means = mean_f1(cells).reset_index()
    means = means[means["checkpoint_language"] == ""]  # a checkpoint of the training language itself, not crossed
    keys = [*[a for a in EXTRA_AXES if a != "checkpoint_language"], "category", "train_language", "eval_language"]
    pair = pd.merge(means[means["checkpoint"] == checkpoint], means[means["checkpoint"] == baseline], on=keys,
                    suffixes=("", "_baseline"))
    pair["difference"] = pair["f1"] - pair["f1_baseline"]
    varying = [a for a in keys[:3] if pair[a].nunique() > 1]
    categories = ["overall", *sorted(set(pair["category"]) - {"overall"})]
    pair["category"] = pd.Categorical(pair["category"], categories, ordered=True)  # overall first, then the types
    table = pair.pivot_table(index=[*varying, "category", "train_language"], columns="eval_language",
                             values="difference", observed=True)
    return table.sort_index()


def write_checkpoint_effect(cells_csv: str | Path, checkpoint: str, baseline: str, output_dir: str | Path) -> list[Path]:
    import pandas as pd

    cells = pd.read_csv(cells_csv, keep_default_na=False)
    table = checkpoint_effect(cells, checkpoint, baseline)
    return write_table(table, Path(output_dir) / effect_stem(checkpoint, baseline),
                       f"Effect of the starting checkpoint: F1 of {checkpoint} minus F1 of {baseline} (x 100, means over seeds), "
                       "rows category / training language, columns evaluation language.")
