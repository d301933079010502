"""Windows into model inputs: padded batches, batches of a few fixed shapes, and padding-free packs.

- `collate`: a batch padded to its longest window (dynamic padding), labels on each word's first
  subword. Rows are padded as Python lists and made into one tensor per batch.
- With `static_shapes` (a training setting, off by default) batches are padded to the next of a
  few bucket lengths (multiples of `BUCKET` subwords) and to the full batch size with empty rows,
  so that a training step takes one of a handful of shapes: what CUDA graphs (`cuda_graphs`) and
  `torch.compile(mode="reduce-overhead")` need. Padding changes no prediction (the attention
  ignores it); in training the dropout masks are drawn over more positions, so a cell's random
  draws, and its metrics within seed noise, differ from a dynamically padded one.
- `collate_packed`: windows one after another in a single row, without padding, with an
  attention mask that keeps each window to itself and position ids that restart per window. For
  XLM-R they must start at padding id + 1, as the model counts them for padded input; collators
  that number positions from 0 get this wrong (a test compares packed with padded logits).
"""

from __future__ import annotations

from typing import Sequence

import torch

from nertransfer.model.encoding import IGNORE, Window

BUCKET = 32  # subwords: padded widths are multiples of this (up to the window length)


def bucket_width(longest: int, max_length: int) -> int:
    """The padded width of a batch whose longest window is `longest`: the next bucket, at most `max_length`."""
    return min(max_length, -(-longest // BUCKET) * BUCKET)


def fixed_shape(windows: Sequence[Window], max_length: int, rows: int) -> dict:
    """`collate`'s width and rows for a static-shape batch: its longest window's bucket, `rows` rows."""
    return {"width": bucket_width(max(len(window) for window in windows), max_length), "rows": rows}


def collate(windows: Sequence[Window], pad_id: int, labels: Sequence[Sequence[int]] | None = None,
            width: int | None = None, rows: int | None = None) -> dict:
    """Pad a batch to its longest window (or to `width`), and with empty rows to `rows`; labels on first subwords.

    An empty row attends to its first position only and has no label: it changes no real row's
    output and adds nothing to the loss.
    """
    width = width or max(len(window) for window in windows)
    extra = (rows or len(windows)) - len(windows)
    batch = {
        "input_ids": torch.tensor([w.input_ids + [pad_id] * (width - len(w)) for w in windows] + [[pad_id] * width] * extra),
        "attention_mask": torch.tensor([[1] * len(w) + [0] * (width - len(w)) for w in windows]
                                       + [[1] + [0] * (width - 1)] * extra),
    }
    if labels is not None:
        label_rows = []
        for window, window_labels in zip(windows, labels, strict=True):
            row = [IGNORE] * width
            for start, label in zip(window.word_starts, window_labels, strict=True):
                row[start] = label
            label_rows.append(row)
        batch["labels"] = torch.tensor(label_rows + [[IGNORE] * width] * extra)
    return batch


def collate_packed(windows: Sequence[Window], pad_id: int, labels: Sequence[Sequence[int]] | None = None) -> dict:
    """The windows in one row without padding: a block-diagonal attention mask and per-window position ids
    (XLM-R numbers a sequence's positions from padding id + 1)."""
    lengths = [len(w) for w in windows]
    total = sum(lengths)
    mask = torch.zeros((1, 1, total, total), dtype=torch.bool)
    positions, start = [], 0
    for length in lengths:
        mask[0, 0, start : start + length, start : start + length] = True
        positions += range(pad_id + 1, pad_id + 1 + length)
        start += length
    batch = {"input_ids": torch.tensor([[i for w in windows for i in w.input_ids]]),
             "attention_mask": mask, "position_ids": torch.tensor([positions])}
    if labels is not None:
        row, start = [], 0
        for window, window_labels in zip(windows, labels, strict=True):
            window_row = [IGNORE] * len(window)
            for first, label in zip(window.word_starts, window_labels, strict=True):
                window_row[first] = label
            row += window_row
        batch["labels"] = torch.tensor([row])
    return batch
