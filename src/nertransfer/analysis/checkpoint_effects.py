"""The study's checkpoint effects: how much a starting checkpoint changes F1 against a baseline, and whether it is
chance (no torch).

For example the language-adapted or the Swahili start against xlm-roberta-base: mean F1 over
seeds of one minus the other's, per category, training and evaluation language, matched on every
other axis. Crossed cells (a checkpoint of another language than the training language) are left
out: the comparison is each language's own start against the baseline. From the evaluations'
prediction files, each difference gets a 95% confidence interval and a p-value by a paired
bootstrap over test sentences (nertransfer.scoring.bootstrap); a difference whose interval excludes zero
is marked with * in the Markdown and LaTeX tables and on the heatmap.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence

from nertransfer.analysis.records import EXTRA_AXES, mean_f1, read_record, record_axes
from nertransfer.analysis.rendering import heatmap, write_table
from nertransfer.experiment.layout import METRICS, PREDICTIONS, effect_stem

if TYPE_CHECKING:
    import pandas as pd

MATCHED = [a for a in EXTRA_AXES if a != "checkpoint_language"]  # axes a pair of cells shares, besides the languages
PAIR = [*MATCHED, "train_language", "eval_language"]  # what identifies a pair of evaluations on one test set
SIGNIFICANT = "*"


def checkpoint_effect(cells: "pd.DataFrame", checkpoint: str, baseline: str) -> "pd.DataFrame":
    """F1 of `checkpoint` minus F1 of `baseline` (means over seeds): rows category / training language."""
    import pandas as pd

    means = mean_f1(cells).reset_index()
    means = means[means["checkpoint_language"] == ""]  # a checkpoint of the training language itself, not crossed
    keys = [*MATCHED, "category", "train_language", "eval_language"]
    pair = pd.merge(means[means["checkpoint"] == checkpoint], means[means["checkpoint"] == baseline], on=keys,
                    suffixes=("", "_baseline"))
    pair["difference"] = pair["f1"] - pair["f1_baseline"]
    varying = [a for a in MATCHED if pair[a].nunique() > 1]
    categories = ["overall", *sorted(set(pair["category"]) - {"overall"})]
    pair["category"] = pd.Categorical(pair["category"], categories, ordered=True)  # overall first, then the types
    table = pair.pivot_table(index=[*varying, "category", "train_language"], columns="eval_language",
                             values="difference", observed=True)
    return table.sort_index()


def effect_intervals(evaluations: Iterable[str | Path], checkpoint: str, baseline: str, types: Sequence[str],
                     resamples: int) -> "pd.DataFrame":
    """Per matched cell and category: the difference, its 95% interval and p-value, from the prediction files.

    `evaluations`: the evaluation folders (metrics.json and predictions.conll) of both checkpoints.
    """
    import pandas as pd

    from nertransfer.scoring.bootstrap import paired_bootstrap, prediction_counts

    categories = ["overall", *types]
    systems: dict[tuple, dict[str, list]] = {}
    tokens: dict[tuple, tuple] = {}
    for folder in map(Path, evaluations):
        record = read_record(folder / METRICS)
        axes = record_axes(record)
        if axes["checkpoint"] not in (checkpoint, baseline) or axes["checkpoint_language"]:
            continue
        key = (*(axes[a] for a in MATCHED), axes["train_language"], record["eval_language"])
        words, counts = prediction_counts(folder / PREDICTIONS, categories)
        words = tuple(words)
        if tokens.setdefault(key, words) != words:
            raise ValueError(f"{folder / PREDICTIONS}: not the test sentences of the other predictions of {key}")
        systems.setdefault(key, {checkpoint: [], baseline: []})[axes["checkpoint"]].append(counts)
    rows = []
    for key, pair in sorted(systems.items()):
        if pair[checkpoint] and pair[baseline]:
            for category, result in zip(categories, paired_bootstrap(pair[checkpoint], pair[baseline], resamples), strict=True):
                rows.append({**dict(zip(PAIR, key, strict=True)), "category": category,
                             "difference": result.difference, "ci_low": result.low, "ci_high": result.high,
                             "p": result.p, "significant": result.significant})
    return pd.DataFrame(rows, columns=[*PAIR, "category", "difference", "ci_low",
                                       "ci_high", "p", "significant"])


def _significance(intervals: "pd.DataFrame", table: "pd.DataFrame") -> "pd.DataFrame":
    """True where the interval of a table cell excludes zero (same shape as `table`)."""
    import pandas as pd

    names = [*table.index.names, "eval_language"]
    flags = {tuple(map(str, row)): significant
             for *row, significant in intervals[[*names, "significant"]].itertuples(index=False)}
    rows = [index if isinstance(index, tuple) else (index,) for index in table.index]
    return pd.DataFrame([[flags.get((*map(str, row), column), False) for column in table.columns] for row in rows],
                        index=table.index, columns=table.columns)


def write_checkpoint_effect(cells_csv: str | Path, checkpoint: str, baseline: str, output_dir: str | Path,
                            evaluations: Iterable[str | Path] = (), types: Sequence[str] = (),
                            resamples: int | None = None) -> list[Path]:
    """`effect_<A>_vs_<B>`: the differences (marked where significant) with a heatmap; `..._ci`: each with its interval.

    `resamples`: of the paired bootstrap; None, the bootstrap's own default (nertransfer.scoring.bootstrap.RESAMPLES)."""
    import pandas as pd

    from nertransfer.analysis.tables import marked
    from nertransfer.scoring.bootstrap import RESAMPLES, SEED

    resamples = RESAMPLES if resamples is None else resamples
    output_dir, stem = Path(output_dir), effect_stem(checkpoint, baseline)
    table = checkpoint_effect(pd.read_csv(cells_csv, keep_default_na=False), checkpoint, baseline)
    intervals = effect_intervals(evaluations, checkpoint, baseline, types, resamples)
    varying = [a for a in table.index.names if a not in ("category", "train_language")]
    intervals = intervals[[*varying, "category", "train_language", "eval_language", "difference", "ci_low", "ci_high", "p",
                           "significant"]]
    significant = _significance(intervals, table)
    method = (f"{SIGNIFICANT}: the 95% interval of a paired bootstrap over test sentences ({resamples} resamples, seeds "
              f"pooled, random seed {SEED}) excludes zero ({stem}_ci has every interval and p-value).")
    caption = (f"Effect of the starting checkpoint: F1 of {checkpoint} minus F1 of {baseline} (x 100, means over seeds), "
               "rows category / training language, columns evaluation language.")
    written = write_table(table, output_dir / stem, caption, marked(table, significant, SIGNIFICANT), note=method)
    written.append(heatmap(table, output_dir / f"{stem}.png", f"F1 of {checkpoint} minus {baseline}", scale=(-20, 20),
                           colors="RdBu", marks=significant, ylabel="category / training language"))
    shown = intervals.set_index([*varying, "category", "train_language", "eval_language"])
    written += write_table(shown, output_dir / f"{stem}_ci",
                           f"{checkpoint} minus {baseline}: F1 difference x 100 with its 95% interval and two-sided p-value "
                           f"(paired bootstrap over test sentences, {resamples} resamples, seeds pooled).",
                           floatfmt=(*[""] * (len(varying) + 3), ".2f", ".2f", ".2f", ".2g", ""))
    return written
