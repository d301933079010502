"""Loading a token-classification model and predicting one BIO tag for every word.

The same functions serve a hub checkpoint, a local folder and the offline recipe: the model is
loaded with AutoTokenizer / AutoModelForTokenClassification and nothing else. Prediction sorts
windows by length and runs them in large batches under inference mode, then maps the logits of
each word's first subword back to the word.
"""

from __future__ import annotations

from typing import Sequence

import torch

from .encoding import IGNORE, Window, encode, length_grouped_batches

# On CPU a batch of long windows runs slower per subword than a smaller one (caches), so a CPU
# batch also holds at most this many subwords once padded. Measured on the tiny model, swa test:
# 0.17-0.18 s of model time against 0.22-0.25 s for plain batches of 64 windows; 1,024, 1,536
# and 4,096 were slower than 2,048. On a GPU, where bigger batches pay, only the count applies.
CPU_BATCH_TOKENS = 2048


def load_model(path: str, labels: Sequence[str] | None = None, dtype: torch.dtype | None = None):
    """Tokenizer and model from a folder or hub id; with `labels`, a fresh classification head if needed.

    `dtype` None: float32 on CPU (CPU half precision is slow), as saved on a GPU (a model kept in
    bf16 predicts in bf16). Training passes float32: its optimizer needs full-precision weights,
    also when it starts from a model that was kept in bf16 (sequential transfer).
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
    dtype = dtype or ("auto" if torch.cuda.is_available() else torch.float32)
    model = AutoModelForTokenClassification.from_pretrained(path, dtype=dtype, **options)
    if torch.cuda.is_available():
        model.to("cuda")
    return tokenizer, model


def collate(windows: Sequence[Window], pad_id: int, labels: Sequence[Sequence[int]] | None = None) -> dict:
    """Pad a batch to its longest window (dynamic padding); labels sit on each word's first subword.

    Rows are padded as Python lists and made into one tensor per batch, not a tensor and a copy
    per row: an epoch of hau's 60 training batches collates in 66 ms instead of 103 ms.
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
def predict_tags(model, tokenizer, sentences: Sequence[Sequence[str]], max_length: int, batch_size: int = 64) -> list[list[str]]:
    """One predicted tag per word of every sentence, long sentences split into windows."""
    model.eval()
    device = next(model.parameters()).device
    id2label, pad = model.config.id2label, tokenizer.pad_token_id
    windows = encode(tokenizer, sentences, max_length)
    tags: list[list[str | None]] = [[None] * len(words) for words in sentences]
    max_tokens = CPU_BATCH_TOKENS if device.type == "cpu" else None
    for batch in length_grouped_batches([len(w) for w in windows], batch_size, max_tokens=max_tokens):
        members = [windows[i] for i in batch]
        inputs = {k: v.to(device, non_blocking=True) for k, v in collate(members, pad).items()}
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            best = model(**inputs).logits.argmax(-1).cpu().tolist()  # one transfer per batch
        for window, row in zip(members, best):
            for offset, start in enumerate(window.word_starts):
                tags[window.sentence][window.first_word + offset] = id2label[row[start]]
    missing = sum(tag is None for sentence in tags for tag in sentence)
    assert not missing, f"{missing} words got no prediction"  # encode() gives every word a subword
    return tags  # type: ignore[return-value]
