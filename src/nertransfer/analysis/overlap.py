"""The study's overlap analysis: how much of a test set its training set has already seen, against zero-shot F1 (no torch).

For each pair (training language A, test language B): the share of B's test tokens whose
lower-cased form occurs in A's training set, and the share of B's test entity mentions (type
and words) that occur as entities in A's training set; their correlation with zero-shot F1 over
the pairs A != B (Pearson and Spearman, with two-sided p-values from scipy.stats), per checkpoint.
A training set (several languages) is the union of its languages' training files, and its pairs
are those whose test language is not one of them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Mapping

from nertransfer.analysis.records import EXTRA_AXES, mean_f1
from nertransfer.analysis.rendering import save_figure, write_table
from nertransfer.data.conll import read_conll
from nertransfer.experiment.layout import OVERLAP_SCATTER, OVERLAP_STEMS
from nertransfer.scoring.metrics import conlleval_entities

if TYPE_CHECKING:
    import pandas as pd

MEASURES = ("token_overlap", "entity_overlap")


def training_vocabulary(path: str | Path, types) -> tuple[set[str], set[tuple[str, tuple[str, ...]]]]:
    """Word forms (lower-cased) and entity mentions (type, lower-cased words) of a training file."""
    words, mentions = set(), set()
    for sentence in read_conll(path, types):
        lowered = [w.lower() for w in sentence.tokens]
        words.update(lowered)
        mentions.update((kind, tuple(lowered[first : last + 1])) for _, kind, first, last in conlleval_entities([sentence.tags]))
    return words, mentions


def overlap(train_files: Mapping[str, Mapping[str, str]], test_files: Mapping[str, str], types) -> "pd.DataFrame":
    """Token and entity overlap (%) of every training language's (or set's) train set with every language's test set.
    `train_files`: training language or set -> {language: its training file}."""
    import pandas as pd

    vocabularies = {}
    for name, files in train_files.items():
        parts = [training_vocabulary(path, types) for path in files.values()]
        vocabularies[name] = (set().union(*(words for words, _ in parts)), set().union(*(known for _, known in parts)))
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
        for measure in MEASURES:
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
    for panel, measure in zip(panels, MEASURES, strict=True):
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
    return save_figure(figure, path)


def write_overlap(cells_csv: str | Path, train_files: Mapping[str, Mapping[str, str]], test_files: Mapping[str, str],
                  types, output_dir: str | Path) -> list[Path]:
    """`overlap` (every pair with its F1), `overlap_correlation`, `overlap_scatter.png`."""
    import pandas as pd

    output_dir = Path(output_dir)
    pairs_stem, correlation_stem = OVERLAP_STEMS
    cells = pd.read_csv(cells_csv, keep_default_na=False)
    f1 = mean_f1(cells[cells["category"] == "overall"]).reset_index()
    at_defaults = (f1[list(EXTRA_AXES)] == pd.Series(EXTRA_AXES)).all(axis=1)  # base cells, not crossed
    trained_on = {name: set(files) for name, files in train_files.items()}  # a set's pairs: tested on none of its languages
    zero_shot = [language not in trained_on.get(name, {name})
                 for name, language in zip(f1["train_language"], f1["eval_language"], strict=True)]
    f1 = f1[pd.Series(zero_shot, index=f1.index, dtype=bool) & at_defaults]
    pairs = overlap(train_files, test_files, types).merge(f1[["checkpoint", "train_language", "eval_language", "f1"]],
                                                          on=["train_language", "eval_language"])
    correlations = overlap_correlations(pairs)
    written = write_table(pairs.set_index(["checkpoint", "train_language", "eval_language"]).sort_index(),
                          output_dir / pairs_stem,
                          "Token and entity overlap (% of the test set found in the training set) and zero-shot F1 x 100.")
    shown = correlations.copy()  # p-values in scientific notation for reading: 2 decimals would show 0.00
    for column in ("pearson_p", "spearman_p"):
        shown[column] = [f"{p:.2g}" if pd.notna(p) else "–" for p in correlations[column]]
    written += write_table(correlations, output_dir / correlation_stem,
                           "Correlation of overlap with zero-shot F1 over language pairs (train != test): "
                           "Pearson and Spearman, two-sided p.",
                           shown, floatfmt=("", "", ".0f", ".2f", ".2g", ".2f", ".2g"))
    return [*written, scatter(pairs, correlations, output_dir / OVERLAP_SCATTER)]
