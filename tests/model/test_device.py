"""Device and precision: one decision (nertransfer.model.device) that training, dev scoring, evaluation and adaptation obey."""

from __future__ import annotations

import argparse

import pytest
import torch

from conftest import SCHEMA, TINY_TRAINING, TYPES, fine_tune
from nertransfer.model.device import PRECISIONS, choose, decide

CPU = {"cuda": False}
GPU = {"cuda": True, "cuda_bf16": True}  # an A100, H100 ...
OLD_GPU = {"cuda": True, "cuda_bf16": False}  # a V100, T4: no bf16


@pytest.mark.parametrize("machine, precision, device, autocast, weights", [
    (CPU, "auto", "cpu", None, torch.float32),  # CPU half precision is slow: auto is full precision there
    (CPU, "fp32", "cpu", None, torch.float32),
    (CPU, "bf16", "cpu", torch.bfloat16, torch.float32),  # asked for: autocast, weights still loaded in fp32
    (GPU, "auto", "cuda", torch.bfloat16, "auto"),  # a kept bf16 model is loaded as saved
    (GPU, "fp32", "cuda", None, torch.float32),
    (GPU, "bf16", "cuda", torch.bfloat16, "auto"),
    (OLD_GPU, "auto", "cuda", None, torch.float32),
    (OLD_GPU, "bf16", "cuda", torch.bfloat16, "auto"),
], ids=lambda value: value if isinstance(value, str) else None)
def test_the_device_and_the_autocast_follow_from_the_machine_and_the_precision(machine, precision, device, autocast, weights):
    compute = decide(precision, **machine)
    assert (compute.device.type, compute.autocast, compute.weights_dtype) == (device, autocast, weights)


def test_an_unknown_precision_is_refused_naming_the_known_ones():
    for machine in (CPU, GPU):
        with pytest.raises(ValueError, match="unknown precision 'fp16': expected one of auto, fp32, bf16"):
            decide("fp16", **machine)
    with pytest.raises(ValueError, match="unknown precision 'fp16'"):
        choose("fp16")


def test_choose_decides_on_this_machine_s_facts():
    cuda = torch.cuda.is_available()
    for precision in PRECISIONS:
        assert choose(precision) == decide(precision, cuda, cuda and torch.cuda.is_bf16_supported())


def _option_choices(parser: argparse.ArgumentParser, command: str, option: str):
    commands = next(action for action in parser._actions if isinstance(action, argparse._SubParsersAction))
    return next(action for action in commands.choices[command]._actions if option in action.option_strings).choices


def test_the_precisions_are_the_config_schema_s_and_the_command_line_offers_the_same():
    from nertransfer.cli import build_parser

    assert PRECISIONS == tuple(SCHEMA["$defs"]["training"]["properties"]["precision"]["enum"]) == ("auto", "fp32", "bf16")
    assert sorted(_option_choices(build_parser(), "evaluate", "--precision")) == sorted(PRECISIONS)


@pytest.fixture
def autocast_seen(monkeypatch):
    """(model class, training?, autocast dtype or None) of every forward pass of an XLM-R model."""
    from transformers import XLMRobertaForMaskedLM, XLMRobertaForTokenClassification

    seen = []
    device = choose().device.type  # the steps run where choose puts them: this machine's GPU, else its CPU
    for model_class in (XLMRobertaForTokenClassification, XLMRobertaForMaskedLM):
        original = model_class.forward

        def forward(self, *args, _original=original, _name=model_class.__name__, **kwargs):
            enabled = torch.is_autocast_enabled(device)
            seen.append((_name, self.training, torch.get_autocast_dtype(device) if enabled else None))
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(model_class, "forward", forward)
    return seen


@pytest.mark.parametrize("precision, expected", [("bf16", torch.bfloat16), ("fp32", None)])
def test_every_step_runs_in_the_configured_precision(tmp_path, tiny_checkpoint, mini_corpus, autocast_seen, precision, expected):
    from nertransfer.model.adapt import adapt
    from nertransfer.model.evaluate import evaluate

    fine_tune(tiny_checkpoint, mini_corpus, {**TINY_TRAINING, "epochs": 1, "precision": precision}, tmp_path / "run")
    steps = {(name, training) for name, training, _ in autocast_seen}
    assert steps == {("XLMRobertaForTokenClassification", True), ("XLMRobertaForTokenClassification", False)}  # train, dev
    evaluate(str(tmp_path / "run" / "model"), str(mini_corpus / "luo" / "test.txt"), TYPES, predictions_file=tmp_path / "p",
             metrics_file=tmp_path / "m", max_length=64, precision=precision)
    adapt(str(tiny_checkpoint), [str(mini_corpus / "hau" / "train.txt")], TYPES, tmp_path / "adapted",
          {"epochs": 1, "precision": precision})
    assert ("XLMRobertaForMaskedLM", True) in {(name, training) for name, training, _ in autocast_seen}
    assert {dtype for _, _, dtype in autocast_seen} == {expected}  # training, dev scoring, evaluation, adaptation
