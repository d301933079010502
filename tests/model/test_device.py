"""Device and precision: one decision (nertransfer.model.device) that training, dev scoring, evaluation and adaptation obey."""

from __future__ import annotations

import pytest
import torch

from nertransfer.model.device import choose

from conftest import TINY_TRAINING, TYPES, fine_tune


def test_on_a_cpu_auto_and_fp32_run_in_full_precision_and_bf16_autocasts():
    assert choose("auto").device.type == "cpu" and choose("auto").autocast is None
    assert choose("fp32").autocast is None and choose("fp32").weights_dtype == torch.float32
    assert choose("bf16").autocast == torch.bfloat16
    with pytest.raises(ValueError, match="unknown precision 'fp16'"):
        choose("fp16")


@pytest.fixture
def autocast_seen(monkeypatch):
    """(model class, training?, autocast dtype or None) of every forward pass of an XLM-R model."""
    from transformers import XLMRobertaForMaskedLM, XLMRobertaForTokenClassification

    seen = []
    for model_class in (XLMRobertaForTokenClassification, XLMRobertaForMaskedLM):
        original = model_class.forward

        def forward(self, *args, _original=original, _name=model_class.__name__, **kwargs):
            enabled = torch.is_autocast_enabled("cpu")
            seen.append((_name, self.training, torch.get_autocast_dtype("cpu") if enabled else None))
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
