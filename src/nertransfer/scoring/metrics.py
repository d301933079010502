"""Entity-level precision, recall and F1, overall and per category, without torch or sklearn.

Two modes, as seqeval offers them:
- `conlleval` (seqeval's default mode, the convention the MasakhaNER papers report): an entity
  may start with I-; a change of type ends one entity and starts the next. seqeval's default mode
  lives in a module that imports scikit-learn (about a second per process); the chunking rules
  below are seqeval's own `get_entities` for BIO tags, and tests check both agree on published runs.
- `strict` (seqeval's IOB2 scheme, `mode="strict"`): an entity must start with B-; the chunking
  follows seqeval's `seqeval.scheme.IOB2` rules (tests check both agree). The gold side is repaired first (see
  `conll.repair_iob2`) so that a gold entity written with a leading I- is not lost.
"""

from __future__ import annotations

import itertools
from collections import Counter
from typing import Any, Iterable, Iterator, Mapping, Sequence

from nertransfer.data.conll import ConllError, Sentence, iter_conll, quoted, repair_iob2

Entity = tuple[int, str, int, int]  # sentence, type, first token, last token
MODES = ("conlleval", "strict")


def conlleval_entities(sentences: Sequence[Sequence[str]]) -> list[Entity]:
    """Entities under the conlleval convention, by seqeval's `get_entities` rules for BIO tags."""
    entities: list[Entity] = []
    for index, tags in enumerate(sentences):
        previous_tag, previous_type, begin = "O", "_", 0
        for position, label in enumerate([*tags, "O"]):
            tag, entity_type = label[0], (label[2:] or "_")
            ends = (previous_tag in "BI" and tag in "BO") or (previous_tag != "O" and previous_type != entity_type)
            if ends:
                entities.append((index, previous_type, begin, position - 1))
            if tag == "B" or (previous_tag == "O" and tag == "I") or (tag != "O" and previous_type != entity_type):
                begin = position
            previous_tag, previous_type = tag, entity_type
    return entities


def _entity_type(tag: str) -> str:
    """A tag's type as seqeval's scheme module reads it: after the prefix, dashes stripped ('_' if none)."""
    return tag[1:].strip("-") or "_"


def strict_entities(sentences: Sequence[Sequence[str]]) -> list[Entity]:
    """Entities under strict IOB2, by the rules of seqeval's `scheme.IOB2` (`mode="strict"`).

    An entity is a B- tag and the I- tags of its type that follow it; an I- tag that does not
    continue one is no entity. Written out here because seqeval's token objects made strict
    scoring most of the time of scoring a file; tests check both agree on random and published tags.
    """
    entities: list[Entity] = []
    for index, tags in enumerate(sentences):
        position, length = 0, len(tags)
        while position < length:
            if tags[position][0] != "B":
                position += 1
                continue
            kind, end = _entity_type(tags[position]), position + 1
            while end < length and tags[end][0] == "I" and _entity_type(tags[end]) == kind:
                end += 1
            entities.append((index, kind, position, end - 1))
            position = end
    return entities


def _ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else 0.0


def _scores(correct: int, predicted: int, support: int) -> dict:
    precision, recall = _ratio(correct, predicted), _ratio(correct, support)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "support": support,
        "predicted": predicted,
        "correct": correct,
    }


class EntityCounts:
    """Entity counts accumulated sentence by sentence: correct, predicted and gold, per type.

    Scores depend on these totals only, so a file can be scored a chunk of sentences at a time,
    with memory flat in its size, and give exactly the numbers of scoring it whole.
    """

    def __init__(self, mode: str = "conlleval"):
        if mode not in MODES:
            raise ValueError(f"unknown scoring mode {mode!r}: expected one of {', '.join(MODES)}")
        self.mode = mode
        self.correct: Counter = Counter()
        self.support: Counter = Counter()
        self.guessed: Counter = Counter()

    def add(self, gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]) -> None:
        """Count the entities of aligned gold and predicted tag sequences (a chunk of sentences)."""
        if self.mode == "conlleval":
            gold_set, predicted_set = set(conlleval_entities(gold)), set(conlleval_entities(predicted))
        else:
            gold_set = set(strict_entities([repair_iob2(tags)[0] for tags in gold]))
            predicted_set = set(strict_entities(predicted))
        self.correct.update(entity[1] for entity in gold_set & predicted_set)
        self.support.update(entity[1] for entity in gold_set)
        self.guessed.update(entity[1] for entity in predicted_set)

    def scores(self, types: Iterable[str] = ()) -> dict:
        """Micro-averaged totals and `per_category` (every type in `types`, gold or predictions)."""
        categories = sorted(set(types) | set(self.support) | set(self.guessed))
        result = _scores(sum(self.correct.values()), sum(self.guessed.values()), sum(self.support.values()))
        result["per_category"] = {c: _scores(self.correct[c], self.guessed[c], self.support[c]) for c in categories}
        return result


def score(
    gold: Sequence[Sequence[str]],
    predicted: Sequence[Sequence[str]],
    mode: str = "conlleval",
    types: Iterable[str] = (),
) -> dict:
    """Score predicted tag sequences against gold ones: micro-averaged totals and per category.

    Returns fractions in [0, 1] under keys precision, recall, f1, support (gold entities),
    plus predicted and correct counts, and `per_category` with the same keys per entity type
    (every type in `types`, gold or predictions).
    """
    counts = EntityCounts(mode)
    counts.add(gold, predicted)
    return counts.scores(types)


def mean_scores(by_language: Mapping[str, Mapping[str, Any]]) -> dict:
    """Several languages' scores as one: precision, recall and F1 the mean over languages (macro: each language
    weighs alike), counts summed, the same per category; each language's own scores kept under `languages`.

    A training set's dev score: what its model selection and tables read as `f1`.
    """
    def mean_of(parts: list[Mapping[str, Any]]) -> dict:
        return {**{key: sum(part[key] for part in parts) / len(parts) for key in ("precision", "recall", "f1")},
                **{key: sum(part[key] for part in parts) for key in ("support", "predicted", "correct")}}

    parts = list(by_language.values())
    categories = sorted({category for part in parts for category in part["per_category"]})
    empty = _scores(0, 0, 0)
    return {**mean_of(parts),
            "per_category": {c: mean_of([part["per_category"].get(c, empty) for part in parts]) for c in categories},
            "languages": {language: dict(part) for language, part in by_language.items()}}


def score_all_modes(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]], types: Iterable[str] = ()) -> dict:
    """The conlleval scores at the top level, the strict IOB2 scores under `strict`."""
    types = list(types)
    result = score(gold, predicted, "conlleval", types)
    result["strict"] = score(gold, predicted, "strict", types)
    return result


def same_token(gold: str, predicted: str) -> bool:
    """Whether a prediction file's token stands for the gold token.

    Identical text, or digit strings of the same number: some prediction writers parse digit
    tokens as numbers ('000' comes back as '0'), as the published MasakhaNER 2.0 nya runs do.
    """
    return gold == predicted or (gold.isascii() and predicted.isascii() and gold.isdigit()
                                 and predicted.isdigit() and int(gold) == int(predicted))


def _misaligned(gold: Sentence, predicted: Sentence, number: int, gold_path: str, predicted_path: str) -> ConllError | None:
    """Why sentence `number` of a prediction file does not stand for the gold file's, or None."""
    for position, (gold_token, predicted_token) in enumerate(zip(gold.tokens, predicted.tokens, strict=False)):
        if not same_token(gold_token, predicted_token):
            return ConllError(
                predicted_path, predicted.line + position,
                f"does not align with {gold_path}: sentence {number}, token {position + 1} is "
                f"{quoted(predicted_token)} here but {quoted(gold_token)} in the gold file (line {gold.line + position})")
    if len(gold) != len(predicted):
        return ConllError(predicted_path, predicted.line, f"does not align with {gold_path}: sentence {number} has "
                          f"{len(predicted)} tokens here but {len(gold)} in the gold file (line {gold.line})")
    if len(predicted.columns) == 2:  # `token GOLD PRED` beside a gold file: its gold column must be the gold file's
        for position, (gold_tag, own_gold) in enumerate(zip(gold.tags, predicted.columns[0], strict=True)):
            if gold_tag != own_gold:
                return ConllError(
                    predicted_path, predicted.line + position,
                    f"its gold column disagrees with {gold_path}: sentence {number}, token {position + 1} is "
                    f"{quoted(own_gold)} here but {quoted(gold_tag)} in the gold file (line {gold.line + position})")
    return None


def aligned_pairs(gold: Iterable[Sentence], predicted: Iterable[Sentence], gold_path: str,
                  predicted_path: str) -> Iterator[tuple[Sentence, Sentence]]:
    """(gold, predicted) sentence pairs, raising a ConllError at the first place the two files part."""
    done = object()
    gold, predicted = iter(gold), iter(predicted)
    number = 0
    while True:
        g, p = next(gold, done), next(predicted, done)
        if g is done or p is done:
            if g is not p:
                more, fewer = (gold_path, predicted_path) if p is done else (predicted_path, gold_path)
                raise ConllError(predicted_path, None, f"does not align with {gold_path}: {fewer} ends after "
                                 f"{number} sentences, {more} has more")
            return
        number += 1
        problem = _misaligned(g, p, number, gold_path, predicted_path)
        if problem:
            raise problem
        yield g, p


SCORING_CHUNK = 4096  # sentences scored at a time: large enough to amortise per-call costs, small enough for flat memory


def score_files(gold_path: str | None, predicted_path: str, types: Iterable[str] | None = None) -> dict:
    """Score a prediction file: `token PRED` aligned with a gold file, or `token GOLD PRED` alone.

    Both files are streamed: memory stays flat in their size. A gold file has `token TAG` lines;
    a `token GOLD PRED` file given beside one must agree with it on every gold tag.
    """
    predicted = iter_conll(predicted_path, types, n_columns=(2, 3))
    if gold_path is None:
        pairs = ((p, p) for p in _three_columns(predicted, predicted_path))
    else:
        gold = iter_conll(gold_path, types, n_columns=2)
        pairs = aligned_pairs(gold, predicted, str(gold_path), str(predicted_path))
    counts = {mode: EntityCounts(mode) for mode in MODES}
    while chunk := list(itertools.islice(pairs, SCORING_CHUNK)):
        gold_tags = [g.columns[0] for g, _ in chunk]
        predicted_tags = [p.tags for _, p in chunk]
        for mode_counts in counts.values():
            mode_counts.add(gold_tags, predicted_tags)
    types = list(types or ())
    return {**counts["conlleval"].scores(types), "strict": counts["strict"].scores(types)}


def _three_columns(sentences: Iterable[Sentence], path: str) -> Iterator[Sentence]:
    for sentence in sentences:
        if len(sentence.columns) != 2:  # the first token line fixes the file's columns (iter_conll)
            raise ConllError(path, sentence.line, "expected 'token GOLD PRED' lines when no gold file is given")
        yield sentence
