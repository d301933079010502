"""Where models run and in what precision: one decision that training, dev scoring, evaluation and adaptation obey.

`precision` is the config's `training.precision`: `auto` (bf16 autocast on a GPU that has it,
fp32 elsewhere: CPU half precision is slow), `bf16` (autocast wherever asked, a CPU too) or
`fp32` (full precision everywhere, also for a model that was kept in bf16). `decide` is the decision
from the machine's facts; `choose` asks this machine for them.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass

import torch

from nertransfer.experiment.config import schema

# The precisions a config may ask for, as the config schema (config.schema.yaml) lists them: their one home.
PRECISIONS = tuple(schema()["$defs"]["training"]["properties"]["precision"]["enum"])


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


def decide(precision: str, cuda: bool, cuda_bf16: bool = False) -> Compute:
    """The device and the autocast dtype for `precision` on a machine with a GPU (`cuda`) or without, whose GPU
    supports bf16 or not (`cuda_bf16`): a GPU whenever there is one; bf16 autocast where `bf16` is asked for, or
    `auto` on a GPU that supports it; no autocast (fp32) otherwise."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}: expected one of {', '.join(PRECISIONS)}")
    wants_bf16 = precision == "bf16" or (precision == "auto" and cuda and cuda_bf16)
    return Compute(torch.device("cuda" if cuda else "cpu"), torch.bfloat16 if wants_bf16 else None)


def choose(precision: str = "auto") -> Compute:
    """`decide` on this machine's facts; on a GPU, matrix products in TF32 too."""
    cuda = torch.cuda.is_available()
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    return decide(precision, cuda, cuda and torch.cuda.is_bf16_supported())
