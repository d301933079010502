"""Language-adaptive pretraining: continue a checkpoint's masked-language-model training on one language's text.

This is how the Davlan `xlm-roberta-base-finetuned-{language}` checkpoints were made (on far
more text). Here the unlabeled text is the tokens of a language's training sentences; they are
concatenated and cut into blocks of `block_size` subwords as in transformers' `run_mlm.py`, so
nothing is truncated. Masking is transformers' `DataCollatorForLanguageModeling` (15% of
subwords, 80/10/10 mask/random/keep), seeded, so the same settings give the same checkpoint.

With `lora` in the settings it trains a language adapter instead (MAD-X): a LoRA adapter on the
frozen checkpoint, saved as peft saves it (nertransfer.model.adapters), a few hundred KB where the
checkpoint is hundreds of MB.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch

from nertransfer.data.conll import read_conll
from nertransfer.data.files import atomic_directory
from nertransfer.experiment.layout import ADAPTATION
from nertransfer.model.device import choose

DEFAULT_ADAPTATION = {"epochs": 3, "learning_rate": 5e-5, "batch_size": 32, "mask_probability": 0.15, "seed": 0,
                      "block_size": 128, "precision": "auto"}


def text_blocks(tokenizer, sentences: Sequence[Sequence[str]], block_size: int) -> list[list[int]]:
    """All sentences' subword ids, concatenated with separators and cut into blocks of at most `block_size`."""
    stream: list[int] = []
    for ids in tokenizer([" ".join(words) for words in sentences], add_special_tokens=False)["input_ids"]:
        stream += ids + [tokenizer.sep_token_id]
    inner = block_size - 2  # room for <s> ... </s>
    return [[tokenizer.cls_token_id, *stream[i : i + inner], tokenizer.sep_token_id] for i in range(0, len(stream), inner)]


def adapt(checkpoint: str, text_files: Sequence[str], types: Sequence[str], output: str | Path,
          settings: Mapping[str, Any] | None = None) -> list[dict]:
    """Continue masked-LM training of `checkpoint` on the sentences of `text_files`; save the model in `output`."""
    from transformers import (
        AutoModelForMaskedLM,
        AutoTokenizer,
        DataCollatorForLanguageModeling,
        get_linear_schedule_with_warmup,
        set_seed,
    )

    settings = {**DEFAULT_ADAPTATION, **(settings or {})}
    set_seed(settings["seed"])
    compute = choose(settings["precision"])
    device = compute.device
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    model = AutoModelForMaskedLM.from_pretrained(checkpoint, dtype=torch.float32).to(device)
    if settings.get("lora") is not None:  # a language adapter: the checkpoint stays as it is
        from peft import get_peft_model

        from nertransfer.model.adapters import lora_config

        model = get_peft_model(model, lora_config(settings["lora"], task=False))
    sentences = [s.tokens for path in text_files for s in read_conll(path, types)]
    blocks = text_blocks(tokenizer, sentences, settings["block_size"])
    collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=settings["mask_probability"])
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=settings["learning_rate"])
    steps = -(-len(blocks) // settings["batch_size"]) * settings["epochs"]
    scheduler = get_linear_schedule_with_warmup(optimizer, int(0.1 * steps), steps)
    shuffle, history = random.Random(settings["seed"]), []
    for epoch in range(settings["epochs"]):
        started, order = time.perf_counter(), list(range(len(blocks)))
        shuffle.shuffle(order)
        model.train()
        loss_sum, batches = torch.zeros((), device=device), 0
        for start in range(0, len(order), settings["batch_size"]):
            batch = collator([{"input_ids": blocks[i]} for i in order[start : start + settings["batch_size"]]])
            batch = {key: value.to(device) for key, value in batch.items()}
            with compute.autocast_context():
                loss = model(**batch).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            loss_sum += loss.detach()
            batches += 1
        record = {"epoch": epoch + 1, "mlm_loss": loss_sum.item() / batches, "seconds": round(time.perf_counter() - started, 3)}
        history.append(record)
        print(json.dumps(record), flush=True)
    with atomic_directory(output) as folder:
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        summary = {"adapted_from": str(checkpoint), "text_files": list(map(str, text_files)), "settings": settings,
                   "sentences": len(sentences), "blocks": len(blocks), "epochs": history}
        (Path(folder) / ADAPTATION).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return history
