"""Where models run and in what precision: one decision that training, dev scoring, evaluation and adaptation obey.

`precision` is the config's `training.precision`: `auto` (bf16 autocast on a GPU that has it,
fp32 elsewhere: CPU half precision is slow), `bf16` (autocast wherever asked, a CPU too) or
`fp32` (full precision everywhere, also for a model that was kept in bf16).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass

import torch

PRECISIONS = ("auto", "bf16", "fp32")


@dataclass(frozen=True)
class Compute:
    device: torch.device
    autocast: torch.dtype | None  # None: no autocast, fp32 arithmetic

    def autocast_context(self) -> AbstractContextManager:
        return torch.autocast(self.device.type, dtype=self.autocast, enabled=self.autocast is not None)

    @property
    def weights_dtype(self) -> torch.dtype | str:
        """The dtype a model is loaded in for prediction: as saved (a kept bf16 model stays bf16) when autocast
        runs on a GPU anyway, float32 otherwise (on CPU, and whenever fp32 was asked for)."""
        return "auto" if self.device.type == "cuda" and self.autocast is not None else torch.float32


def choose(precision: str = "auto") -> Compute:
    """The device (a GPU when there is one, with TF32 matrix products) and the autocast dtype for `precision`."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}: expected one of {', '.join(PRECISIONS)}")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    wants_bf16 = precision == "bf16" or (precision == "auto" and device.type == "cuda" and torch.cuda.is_bf16_supported())
    return Compute(device, torch.bfloat16 if wants_bf16 else None)
