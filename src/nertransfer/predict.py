"""Loading a token-classification model and predicting one BIO tag for every word.

The same functions serve a hub checkpoint, a local folder and the offline recipe: the model is
loaded with AutoTokenizer / AutoModelForTokenClassification and nothing else. Prediction sorts
windows by length and runs them in large batches under inference mode, in the device and
precision `nertransfer.device` chose, then maps the logits of each word's first subword back to
the word.
"""

from __future__ import annotations

from typing import Sequence

import torch

from .device import Compute, choose
from .encoding import IGNORE, Window, encode, length_grouped_batches

# On CPU a batch of long windows runs slower per subword than a smaller one (the caches), so a
# CPU batch also holds at most this many subwords once padded (bench/README.md has the A/B). On
# a GPU, where bigger batches pay, only the count applies.
CPU_BATCH_TOKENS = 2048


def load_model(path: str, labels: Sequence[str] | None = None, compute: Compute | None = None,
               dtype: torch.dtype | str | None = None):
    """Tokenizer and model from a folder or hub id, on `compute`'s device; with `labels`, a fresh
    classification head if needed.

    `dtype` None: what `compute` predicts in (see `Compute.weights_dtype`). Training passes
    float32: its optimizer needs full-precision weights, also when it starts from a model that
    was kept in bf16 (sequential transfer).
    """
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    options = {}
    if labels is not None:
        options = dict(
            num_labels=len(labels),
            id2label=dict(enumerate(labels)),
            label2id={label: i for i, label in enumerate(labels)},
            ignore_mismatched_sizes=True,  # a model fine-tuned on other labels gets a new head
        )
    compute = compute or choose()
    model = AutoModelForTokenClassification.from_pretrained(path, dtype=dtype or compute.weights_dtype, **options)
    return tokenizer, model.to(compute.device)


def collate(windows: Sequence[Window], pad_id: int, labels: Sequence[Sequence[int]] | None = None) -> dict:
    """Pad a batch to its longest window (dynamic padding); labels sit on each word's first subword.

    Rows are padded as Python lists and made into one tensor per batch, not a tensor and a copy
    per row, which costs a tensor construction per row.
    """
    width = max(len(window) for window in windows)
    batch = {
        "input_ids": torch.tensor([w.input_ids + [pad_id] * (width - len(w)) for w in windows]),
        "attention_mask": torch.tensor([[1] * len(w) + [0] * (width - len(w)) for w in windows]),
    }
    if labels is not None:
        rows = []
        for window, window_labels in zip(windows, labels):
            row = [IGNORE] * width
            for start, label in zip(window.word_starts, window_labels):
                row[start] = label
            rows.append(row)
        batch["labels"] = torch.tensor(rows)
    return batch


@torch.inference_mode()
def predict_tags(model, tokenizer, sentences: Sequence[Sequence[str]], max_length: int, batch_size: int = 64,
                 compute: Compute | None = None) -> list[list[str]]:
    """One predicted tag per word of every sentence, long sentences split into windows, in `compute`'s precision."""
    model.eval()
    compute = compute or choose()
    device = next(model.parameters()).device
    id2label, pad = model.config.id2label, tokenizer.pad_token_id
    windows = encode(tokenizer, sentences, max_length)
    tags: list[list[str | None]] = [[None] * len(words) for words in sentences]
    max_tokens = CPU_BATCH_TOKENS if device.type == "cpu" else None
    for batch in length_grouped_batches([len(w) for w in windows], batch_size, max_tokens=max_tokens):
        members = [windows[i] for i in batch]
        inputs = {k: v.to(device, non_blocking=True) for k, v in collate(members, pad).items()}
        with compute.autocast_context():
            best = model(**inputs).logits.argmax(-1).cpu().tolist()  # one transfer per batch
        for window, row in zip(members, best):
            for offset, start in enumerate(window.word_starts):
                tags[window.sentence][window.first_word + offset] = id2label[row[start]]
    missing = sum(tag is None for sentence in tags for tag in sentence)
    assert not missing, f"{missing} words got no prediction"  # encode() gives every word a subword
    return tags  # type: ignore[return-value]
