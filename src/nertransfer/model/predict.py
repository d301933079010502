"""Loading a token-classification model and predicting one BIO tag for every word.

The same functions serve a hub checkpoint, a local folder and the offline recipe: the model is
loaded with AutoTokenizer / AutoModelForTokenClassification and nothing else. Prediction sorts
windows by length and runs them in large batches under inference mode, in the device and
precision `nertransfer.model.device` chose, then maps the logits of each word's first subword back to
the word.
"""

from __future__ import annotations

from typing import Sequence

import torch

from nertransfer.model.adapters import is_adapter, load_adapter_model
from nertransfer.model.collation import collate, fixed_shape
from nertransfer.model.device import Compute, choose
from nertransfer.model.encoding import encode, length_grouped_batches

# On CPU a batch of long windows runs slower per subword than a smaller one (the caches), so a
# CPU batch also holds at most this many subwords once padded (bench/README.md has the A/B). On
# a GPU, where bigger batches pay, only the count applies.
CPU_BATCH_TOKENS = 2048
# What model configs call hidden and attention dropout: BERT and XLM-R (and most encoders), then DistilBERT-style.
DROPOUT_SETTINGS = ("hidden_dropout_prob", "attention_probs_dropout_prob", "dropout", "attention_dropout")


def dropout_settings(path: str, dropout: float) -> dict[str, float]:
    """The model config's own names for hidden and attention dropout, each set to `dropout` (the dropout axis).

    Each architecture names them its own way; a setting the config does not have would reach the
    model's constructor and fail there, so only those it has are set, and a config with none is refused.
    """
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(path)
    names = [name for name in DROPOUT_SETTINGS if hasattr(config, name)]
    if not names:
        raise ValueError(f"{path}: its {type(config).__name__} has none of the dropout settings {', '.join(DROPOUT_SETTINGS)}")
    return {name: dropout for name in names}


def load_model(path: str, labels: Sequence[str] | None = None, compute: Compute | None = None,
               dtype: torch.dtype | str | None = None, dropout: float | None = None, language_adapter: str | None = None):
    """Tokenizer and model from a folder or hub id, on `compute`'s device; with `labels`, a fresh
    classification head if needed.

    `dtype` None: what `compute` predicts in (see `Compute.weights_dtype`). Training passes
    float32: its optimizer needs full-precision weights, also when it starts from a model that
    was kept in bf16 (sequential transfer). `dropout`: hidden and attention dropout (None: the model's own). A folder
    that holds an adapter (nertransfer.model.adapters) is loaded on its base; a MAD-X task adapter over
    `language_adapter` (default: the one it was trained over).
    """
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    def load(path: str, labels: Sequence[str] | None, dtype, **options):
        if labels is not None:
            options.update(
                num_labels=len(labels),
                id2label=dict(enumerate(labels)),
                label2id={label: i for i, label in enumerate(labels)},
                ignore_mismatched_sizes=True,  # a model fine-tuned on other labels gets a new head
            )
        return AutoModelForTokenClassification.from_pretrained(path, dtype=dtype, **options)

    tokenizer = AutoTokenizer.from_pretrained(path)
    compute = compute or choose()
    if is_adapter(path):  # a LoRA cell's model: its adapter on the base it was trained from
        model = load_adapter_model(path, load, dtype or compute.weights_dtype, language_adapter)
        return tokenizer, model.to(compute.device)
    options = dropout_settings(path, dropout) if dropout is not None else {}
    return tokenizer, load(path, labels, dtype or compute.weights_dtype, **options).to(compute.device)


@torch.inference_mode()
def predict_tags(model, tokenizer, sentences: Sequence[Sequence[str]], max_length: int, batch_size: int = 64,
                 compute: Compute | None = None, static_shapes: bool = False) -> list[list[str]]:
    """One predicted tag per word of every sentence, long sentences split into windows, in `compute`'s precision.

    `static_shapes`: batches padded to bucket widths and the full batch size (nertransfer.model.collation).
    """
    model.eval()
    compute = compute or choose()
    device = next(model.parameters()).device
    id2label, pad = model.config.id2label, tokenizer.pad_token_id
    windows = encode(tokenizer, sentences, max_length)
    tags: list[list[str | None]] = [[None] * len(words) for words in sentences]
    max_tokens = CPU_BATCH_TOKENS if device.type == "cpu" else None
    for batch in length_grouped_batches([len(w) for w in windows], batch_size, max_tokens=max_tokens):
        members = [windows[i] for i in batch]
        shape = fixed_shape(members, max_length, batch_size) if static_shapes else {}
        inputs = {k: v.to(device, non_blocking=True) for k, v in collate(members, pad, **shape).items()}
        with compute.autocast_context():
            best = model(**inputs).logits.argmax(-1).cpu().tolist()  # one transfer per batch
        for window, row in zip(members, best, strict=False):  # a fixed-shape batch has empty rows after the members
            for offset, start in enumerate(window.word_starts):
                tags[window.sentence][window.first_word + offset] = id2label[row[start]]
    missing = sum(tag is None for sentence in tags for tag in sentence)
    assert not missing, f"{missing} words got no prediction"  # encode() gives every word a subword
    return tags  # type: ignore[return-value]
