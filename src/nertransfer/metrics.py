"""Entity-level precision, recall and F1, overall and per category, without torch or sklearn.

Two modes, as seqeval offers them:
- `conlleval` (seqeval's default mode, the convention the MasakhaNER papers report): an entity
  may start with I-; a change of type ends one entity and starts the next. seqeval's default mode
  lives in a module that imports scikit-learn (about a second per process); the chunking rules
  below are seqeval's own `get_entities` for BIO tags, and tests check both agree on published runs.
- `strict` (seqeval's IOB2 scheme, `mode="strict"`): an entity must start with B-; seqeval's light
  `seqeval.scheme` module does the chunking. The gold side is repaired first (see
  `conll.repair_iob2`) so that a gold entity written with a leading I- is not lost.
"""

from __future__ import annotations

from collections import Counter
from typing import Iterable, Sequence

from .conll import ConllError, Sentence, read_conll, repair_iob2

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


def strict_entities(sentences: Sequence[Sequence[str]]) -> list[Entity]:
    """Entities under strict IOB2, by seqeval's own scheme module."""
    from seqeval.scheme import IOB2, Entities

    found = Entities([list(tags) for tags in sentences], IOB2, suffix=False)
    return [entity.to_tuple() for sentence in found.entities for entity in sentence]


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
    if mode == "conlleval":
        gold_entities, predicted_entities = conlleval_entities(gold), conlleval_entities(predicted)
    elif mode == "strict":
        gold_entities = strict_entities([repair_iob2(tags)[0] for tags in gold])
        predicted_entities = strict_entities(predicted)
    else:
        raise ValueError(f"unknown scoring mode {mode!r}: expected one of {', '.join(MODES)}")
    gold_set, predicted_set = set(gold_entities), set(predicted_entities)
    correct = Counter(entity[1] for entity in gold_set & predicted_set)
    support = Counter(entity[1] for entity in gold_set)
    guessed = Counter(entity[1] for entity in predicted_set)
    categories = sorted(set(types) | set(support) | set(guessed))
    result = _scores(sum(correct.values()), len(predicted_set), len(gold_set))
    result["per_category"] = {c: _scores(correct[c], guessed[c], support[c]) for c in categories}
    return result


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


def check_aligned(gold: Sequence[Sentence], predicted: Sequence[Sentence], gold_path: str, predicted_path: str) -> None:
    """Raise a ConllError at the first sentence and token where a prediction file leaves its gold file."""
    for number, (g, p) in enumerate(zip(gold, predicted), start=1):
        for position, (gold_token, predicted_token) in enumerate(zip(g.tokens, p.tokens)):
            if not same_token(gold_token, predicted_token):
                raise ConllError(
                    predicted_path,
                    p.line + position,
                    f"does not align with {gold_path}: sentence {number}, token {position + 1} is "
                    f"{predicted_token!r} here but {gold_token!r} in the gold file (line {g.line + position})",
                )
        if len(g) != len(p):
            raise ConllError(
                predicted_path,
                p.line,
                f"does not align with {gold_path}: sentence {number} has {len(p)} tokens here "
                f"but {len(g)} in the gold file (line {g.line})",
            )
    if len(gold) != len(predicted):
        raise ConllError(
            predicted_path,
            None,
            f"does not align with {gold_path}: {len(predicted)} sentences here, {len(gold)} in the gold file",
        )


def score_files(gold_path: str | None, predicted_path: str, types: Iterable[str] | None = None) -> dict:
    """Score a prediction file: `token PRED` aligned with a gold file, or `token GOLD PRED` alone."""
    predicted = read_conll(predicted_path, types, n_columns=(2, 3))
    if gold_path is None:
        if len(predicted[0].columns) != 2:
            raise ConllError(predicted_path, predicted[0].line, "expected 'token GOLD PRED' lines when no gold file is given")
        gold_tags = [sentence.columns[0] for sentence in predicted]
    else:
        gold = read_conll(gold_path, types, n_columns=(2, 3))
        check_aligned(gold, predicted, str(gold_path), str(predicted_path))
        gold_tags = [sentence.columns[0] for sentence in gold]
    return score_all_modes(gold_tags, [sentence.tags for sentence in predicted], types or ())
