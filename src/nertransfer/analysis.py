"""The NERTransfer study's analyses, from the tables' `cells.csv` and the data (no torch).

- Checkpoint effects: how much a starting checkpoint changes F1 against a baseline checkpoint
  (e.g. language-adapted or Swahili start against xlm-roberta-base), per category, training and
  evaluation language: mean F1 over seeds of one minus the other, matched on every other axis.
- Overlap: for each pair (training language A, test language B), the share of B's test tokens
  whose form occurs in A's training set, and the share of B's test entity mentions (type and
  words) that occur as entities in A's training set; their correlation with zero-shot F1 over
  the pairs A != B (Pearson and Spearman, with two-sided p-values from scipy.stats).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Mapping

from .conll import read_conll
from .metrics import conlleval_entities
from .tables import EXTRA_AXES, _write, save_figure

if TYPE_CHECKING:
    import pandas as pd


def _mean_f1(cells: "pd.DataFrame") -> "pd.DataFrame":
    axes = ["checkpoint", *EXTRA_AXES, "train_language", "eval_language", "category"]
    return cells.fillna({axis: "" for axis in EXTRA_AXES}).astype({a: str for a in EXTRA_AXES}).groupby(axes)["f1"].mean()


def checkpoint_effect(cells: "pd.DataFrame", checkpoint: str, baseline: str) -> "pd.DataFrame":
    """F1 of `checkpoint` minus F1 of `baseline` (means over seeds): rows category / training language."""
    import pandas as pd

    means = _mean_f1(cells).reset_index()
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


def training_vocabulary(path: str | Path, types) -> tuple[set[str], set[tuple[str, tuple[str, ...]]]]:
    """Word forms (lower-cased) and entity mentions (type, lower-cased words) of a training file."""
    words, mentions = set(), set()
    for sentence in read_conll(path, types):
        lowered = [w.lower() for w in sentence.tokens]
        words.update(lowered)
        mentions.update((kind, tuple(lowered[first : last + 1])) for _, kind, first, last in conlleval_entities([sentence.tags]))
    return words, mentions


def overlap(train_files: Mapping[str, str], test_files: Mapping[str, str], types) -> "pd.DataFrame":
    """Token and entity overlap (%) of every training language's train set with every language's test set."""
    import pandas as pd

    vocabularies = {language: training_vocabulary(path, types) for language, path in train_files.items()}
    rows = []
    for test_language, path in test_files.items():
        test = read_conll(path, types)
        tokens = [w.lower() for s in test for w in s.tokens]
        mentions = [(kind, tuple(w.lower() for w in s.tokens[first : last + 1]))
                    for s in test for _, kind, first, last in conlleval_entities([s.tags])]
        for train_language, (words, known) in vocabularies.items():
            rows.append({
                "train_language": train_language, "eval_language": test_language,
                "token_overlap": 100 * sum(t in words for t in tokens) / len(tokens),
                "entity_overlap": 100 * sum(m in known for m in mentions) / max(1, len(mentions)),
            })
    return pd.DataFrame(rows)


def overlap_correlations(pairs: "pd.DataFrame") -> "pd.DataFrame":
    """Pearson and Spearman correlation (with p-values) of each overlap with zero-shot F1, per checkpoint."""
    import pandas as pd
    from scipy.stats import pearsonr, spearmanr

    rows = []
    for checkpoint, group in pairs.groupby("checkpoint"):
        for measure in ("token_overlap", "entity_overlap"):
            row = {"checkpoint": checkpoint, "overlap": measure, "pairs": len(group)}
            if len(group) >= 3:  # fewer pairs determine no correlation (two points always lie on a line)
                pearson, spearman = pearsonr(group[measure], group["f1"]), spearmanr(group[measure], group["f1"])
                row.update(pearson_r=pearson.statistic, pearson_p=pearson.pvalue,
                           spearman_rho=spearman.statistic, spearman_p=spearman.pvalue)
            rows.append(row)
    columns = ["checkpoint", "overlap", "pairs", "pearson_r", "pearson_p", "spearman_rho", "spearman_p"]
    return pd.DataFrame(rows, columns=columns).set_index(["checkpoint", "overlap"])


def scatter(pairs: "pd.DataFrame", correlations: "pd.DataFrame", path: Path) -> Path:
    import matplotlib
    import pandas as pd

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, panels = plt.subplots(1, 2, figsize=(10, 4), dpi=120, layout="constrained", sharey=True)
    for panel, measure in zip(panels, ("token_overlap", "entity_overlap")):
        for checkpoint, group in pairs.groupby("checkpoint"):
            stats = correlations.loc[(checkpoint, measure)]
            label = checkpoint if pd.isna(stats["pearson_r"]) else (
                f"{checkpoint}: r={stats['pearson_r']:.2f} (p={stats['pearson_p']:.2g}), "
                f"rho={stats['spearman_rho']:.2f} (p={stats['spearman_p']:.2g})")
            panel.scatter(group[measure], group["f1"], s=14, label=label)
        panel.set_xlabel(measure.replace("_", " ") + " (% of test)")
        panel.legend(fontsize=6)
    panels[0].set_ylabel("zero-shot F1 (train != test language)")
    figure.suptitle("Overlap between training and test sets vs zero-shot F1")
    save_figure(figure, path)
    return path


def write_overlap(cells_csv: str | Path, train_files: Mapping[str, str], test_files: Mapping[str, str], types,
                  output_dir: str | Path) -> list[Path]:
    """`overlap` (every pair with its F1), `overlap_correlation`, `overlap_scatter.png`."""
    import pandas as pd

    output_dir = Path(output_dir)
    cells = pd.read_csv(cells_csv, keep_default_na=False)
    f1 = _mean_f1(cells[cells["category"] == "overall"]).reset_index()
    at_defaults = (f1[list(EXTRA_AXES)] == pd.Series(EXTRA_AXES)).all(axis=1)  # base cells, not crossed
    f1 = f1[(f1["train_language"] != f1["eval_language"]) & at_defaults]
    pairs = overlap(train_files, test_files, types).merge(f1[["checkpoint", "train_language", "eval_language", "f1"]],
                                                          on=["train_language", "eval_language"])
    correlations = overlap_correlations(pairs)
    written = _write(pairs.set_index(["checkpoint", "train_language", "eval_language"]).sort_index(), output_dir / "overlap",
                     "Token and entity overlap (% of the test set found in the training set) and zero-shot F1 x 100.")
    shown = correlations.copy()  # p-values in scientific notation for reading: 2 decimals would show 0.00
    for column in ("pearson_p", "spearman_p"):
        shown[column] = [f"{p:.2g}" if pd.notna(p) else "–" for p in correlations[column]]
    written += _write(correlations, output_dir / "overlap_correlation",
                      "Correlation of overlap with zero-shot F1 over language pairs (train != test): Pearson and Spearman, two-sided p.",
                      shown, floatfmt=("", "", ".0f", ".2f", ".2g", ".2f", ".2g"))
    return [*written, scatter(pairs, correlations, output_dir / "overlap_scatter.png")]


def write_checkpoint_effect(cells_csv: str | Path, checkpoint: str, baseline: str, output_dir: str | Path) -> list[Path]:
    import pandas as pd

    cells = pd.read_csv(cells_csv, keep_default_na=False)
    table = checkpoint_effect(cells, checkpoint, baseline)
    return _write(table, Path(output_dir) / effect_stem(checkpoint, baseline),
                  f"Effect of the starting checkpoint: F1 of {checkpoint} minus F1 of {baseline} (x 100, means over seeds), "
                  "rows category / training language, columns evaluation language.")


def effect_stem(checkpoint: str, baseline: str) -> str:
    return f"effect_{checkpoint}_vs_{baseline}"
