"""Fine-tuning one cell: a checkpoint, a training language, a seed. Read it top to bottom.

The loop follows transformers' `run_ner_no_trainer.py`: AdamW with a linear warm-up schedule,
labels on each word's first subword, dynamic padding over length-grouped batches. After every
epoch it scores the dev set and saves a resumable state (model, optimizer, scheduler, random
state, epoch), so a job that is killed or preempted resumes where it stopped and ends with the
same metrics as an uninterrupted run. The seed fixes every source of randomness: the same cell
trained twice on CPU gives the same metrics.
"""

from __future__ import annotations

import json
import random
import signal
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch

from .card import model_card
from .conll import bio_labels, keep_types, read_conll, repair_iob2
from .encoding import encode, length_grouped_batches
from .files import atomic_directory, atomic_write, exclusive, write_json
from .metrics import score
from .predict import collate, load_model, predict_tags

RESUME_FILE = "resume.pt"


def training_subset(sentences: Sequence, size: int | float | None, seed: int) -> list:
    """The first `size` sentences (or that fraction) of a shuffle fixed by the seed: a learning-curve point.

    The shuffle depends on the seed only, so the 100 sentences of seed 1 are among its 500.
    """
    if size is None:
        return list(sentences)
    order = list(range(len(sentences)))
    random.Random(f"train-size-{seed}").shuffle(order)
    count = round(size * len(sentences)) if isinstance(size, float) else size
    return [sentences[i] for i in sorted(order[: max(1, min(count, len(sentences)))])]


def _labelled_windows(tokenizer, path: str, types: Sequence[str], max_length: int,
                      keep: Sequence[str] | None = None, size: int | float | None = None, seed: int = 0):
    """Windows of a training file with their label ids (gold entities opening with I- repaired).

    `keep`: the label set (other types become O); `size`: a seed-dependent subset of sentences.
    """
    sentences = training_subset(read_conll(path, types), size, seed)
    if keep is not None:
        sentences, types = keep_types(sentences, keep), keep
    label_ids = {label: i for i, label in enumerate(bio_labels(types))}
    windows = encode(tokenizer, [s.tokens for s in sentences], max_length)
    tags = [repair_iob2(s.tags)[0] for s in sentences]
    labels = [
        [label_ids[tag] for tag in tags[w.sentence][w.first_word : w.first_word + len(w.word_starts)]]
        for w in windows
    ]
    return windows, labels


def evaluate_sentences(model, tokenizer, sentences, types, hp: Mapping[str, Any]) -> dict:
    predicted = predict_tags(model, tokenizer, [s.tokens for s in sentences], hp["max_length"], hp["eval_batch_size"])
    return score([s.tags for s in sentences], predicted, types=types)


def _device_and_precision(hp: Mapping[str, Any]) -> tuple[torch.device, torch.dtype | None]:
    """CUDA when present (TF32 matmuls on), else CPU; bf16 autocast on a GPU that has it, fp32 on CPU."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    precision = hp.get("precision", "auto")
    if precision == "bf16" or (precision == "auto" and device.type == "cuda" and torch.cuda.is_bf16_supported()):
        return device, torch.bfloat16
    return device, None


@contextmanager
def _stop_requests():
    """Record SIGTERM/SIGUSR2 (what Slurm sends before preempting or at the time limit) instead of dying.

    The loop finishes the epoch in flight, saves its state and exits, so a requeued job resumes
    there. Handlers can only be installed from the main thread; elsewhere nothing is recorded.
    """
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return
    previous = {sig: signal.signal(sig, lambda number, frame: received.append(number)) for sig in (signal.SIGTERM, signal.SIGUSR2)}
    try:
        yield received
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _start_fingerprint(checkpoint: str, keep: Sequence[str] | None) -> list:
    """What a saved state must have started from to be resumed: the label set, and the starting
    checkpoint's files (name, size, modification time), which change when it is rebuilt, e.g. the
    model of another cell in sequential transfer. A hub id stands for itself."""
    folder = Path(checkpoint)
    files = sorted((f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in folder.iterdir() if f.is_file()) if folder.is_dir() else []
    return [list(keep) if keep is not None else None, [list(f) for f in files]]


def train(
    checkpoint: str,
    train_file: str,
    dev_file: str,
    types: Sequence[str],
    hp: Mapping[str, Any],
    output: str | Path,
    state_dir: str | Path | None = None,
    cell: Mapping[str, Any] | None = None,
    model_output: str | Path | None = None,
    save_state_every_seconds: float = 0.0,
    keep: Sequence[str] | None = None,
) -> dict:
    """Fine-tune `checkpoint` on `train_file`; write the records into `output`, the model into `model_output`.

    `model_output` defaults to `output/model`. The workflow keeps it apart so that a finished
    model can be deleted after its evaluations without touching the records.
    The resumable state is saved after an epoch once `save_state_every_seconds` have passed since
    the last save (0: every epoch), and always when a stop signal came. For xlm-roberta-base the
    state (model and optimizer) is 3.3 GB: written every epoch it would double a GPU epoch.
    `keep`: a label set, the types trained and scored (others become O); `hp["train_size"]`:
    train on a seed-dependent subset of that many sentences (or that fraction).
    """
    state_dir = Path(state_dir or Path(output).with_name(Path(output).name + ".state"))
    with exclusive(state_dir, f"the resumable state of {output}"), _stop_requests() as stop_signals:
        return _train(checkpoint, train_file, dev_file, types, hp, output, state_dir, cell, model_output,
                      save_state_every_seconds, stop_signals, keep)


def _train(checkpoint, train_file, dev_file, types, hp, output, state_dir, cell, model_output,
           save_state_every_seconds, stop_signals, keep) -> dict:
    output, started = Path(output), time.perf_counter()
    model_output = Path(model_output) if model_output else output / "model"
    state_path = Path(state_dir) / RESUME_FILE
    labels = bio_labels(keep if keep is not None else types)
    from transformers import get_linear_schedule_with_warmup, set_seed

    set_seed(hp["seed"])
    device, autocast_dtype = _device_and_precision(hp)
    tokenizer, model = load_model(checkpoint, labels, dtype=torch.float32)  # fp32 weights; autocast does bf16
    model.to(device)
    windows, window_labels = _labelled_windows(tokenizer, train_file, types, hp["max_length"], keep,
                                               hp.get("train_size"), hp["seed"])
    dev = read_conll(dev_file, types)
    if keep is not None:
        dev, types = keep_types(dev, keep), keep

    parameters = list(model.parameters())  # listed once, not walked through every module at every step
    decay = [p for n, p in model.named_parameters() if not any(k in n for k in ("bias", "LayerNorm", "layer_norm"))]
    rest = [p for n, p in model.named_parameters() if any(k in n for k in ("bias", "LayerNorm", "layer_norm"))]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": hp["weight_decay"]}, {"params": rest, "weight_decay": 0.0}],
        lr=hp["learning_rate"],
        fused=True,  # one kernel for all parameters (CUDA and, since torch 2.4, CPU)
    )
    accumulation = hp.get("gradient_accumulation_steps", 1)
    batches_per_epoch = -(-len(windows) // hp["batch_size"])
    steps_per_epoch = -(-batches_per_epoch // accumulation)
    total_steps = steps_per_epoch * hp["epochs"]
    scheduler = get_linear_schedule_with_warmup(optimizer, int(hp["warmup_ratio"] * total_steps), total_steps)
    forward = torch.compile(model, dynamic=True) if hp.get("compile", False) else model
    shuffle = random.Random(hp["seed"])
    history: list[dict] = []
    first_epoch = 0

    start = _start_fingerprint(checkpoint, keep)  # before training: the files of the checkpoint it starts from
    if state_path.exists():
        state = torch.load(state_path, weights_only=False, map_location=device)
        if (state["hyperparameters"] == dict(hp) and state["checkpoint"] == str(checkpoint)
                and state.get("start") == start):
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            shuffle.setstate(state["shuffle"])
            torch.set_rng_state(state["torch_rng"])
            history, first_epoch = state["history"], state["epoch"] + 1
            print(f"resuming after epoch {first_epoch} from {state_path}", flush=True)

    lengths, pad = [len(w) for w in windows], tokenizer.pad_token_id
    eval_every = hp.get("eval_every", 1)
    dev_scores = None
    last_save = time.perf_counter()
    for epoch in range(first_epoch, hp["epochs"]):
        epoch_start = time.perf_counter()
        model.train()
        loss_sum = torch.zeros((), device=device)
        tokens = 0
        batches = length_grouped_batches(lengths, hp["batch_size"], shuffle)
        for index, batch in enumerate(batches):
            inputs = collate([windows[i] for i in batch], pad, [window_labels[i] for i in batch])
            tokens += sum(lengths[i] for i in batch)
            inputs = {key: value.to(device, non_blocking=True) for key, value in inputs.items()}
            with torch.autocast(device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
                loss = forward(**inputs).loss
            (loss / accumulation).backward()
            loss_sum += loss.detach()  # no .item() per step: no host-device synchronisation
            if (index + 1) % accumulation == 0 or index + 1 == len(batches):
                torch.nn.utils.clip_grad_norm_(parameters, hp["max_grad_norm"])
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
        train_seconds = time.perf_counter() - epoch_start
        record = {"epoch": epoch + 1, "train_loss": loss_sum.item() / len(batches),
                  "train_tokens_per_second": round(tokens / train_seconds, 1)}
        dev_scores = None
        if (epoch + 1) % eval_every == 0 or epoch + 1 == hp["epochs"]:  # dev scoring need not run every epoch
            dev_scores = evaluate_sentences(model, tokenizer, dev, types, hp)
            record.update(dev_precision=dev_scores["precision"], dev_recall=dev_scores["recall"], dev_f1=dev_scores["f1"])
        record["seconds"] = round(time.perf_counter() - epoch_start, 3)
        history.append(record)
        print(json.dumps(record), flush=True)
        stopping = bool(stop_signals)
        due = time.perf_counter() - last_save >= save_state_every_seconds
        if epoch + 1 < hp["epochs"] and (stopping or due):
            state_path.parent.mkdir(parents=True, exist_ok=True)
            partial = state_path.with_suffix(".partial")
            torch.save(
                {
                    "epoch": epoch, "hyperparameters": dict(hp), "checkpoint": str(checkpoint), "history": history,
                    "start": start,
                    "model": model.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                    "shuffle": shuffle.getstate(), "torch_rng": torch.get_rng_state(),
                },
                partial,
            )
            partial.replace(state_path)
            last_save = time.perf_counter()
        if stopping and epoch + 1 < hp["epochs"]:
            raise SystemExit(f"stopped by signal {stop_signals[0]} after epoch {epoch + 1}; state saved in {state_path}")

    if dev_scores is None:  # resumed after the last epoch: score the finished model once more
        dev_scores = evaluate_sentences(model, tokenizer, dev, types, hp)
    summary = {
        **(cell or {}),
        "checkpoint_path": str(checkpoint),
        "train_file": str(train_file),
        "dev_file": str(dev_file),
        "hyperparameters": dict(hp),
        "train_windows": len(windows),
        "train_sentences": len({w.sentence for w in windows}),
        "device": str(device),
        "seconds": round(time.perf_counter() - started, 3),
    }
    save_dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[hp.get("save_dtype", "float32")]

    def save_model(folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        model.to(save_dtype).save_pretrained(folder)  # bf16/fp16 halve the disk of 150 checkpoints
        tokenizer.save_pretrained(folder)
        (folder / "README.md").write_text(model_card(summary, dev_scores, None), encoding="utf-8")

    inside = model_output == output / "model"
    if not inside:
        with atomic_directory(model_output) as folder:
            save_model(folder)
    with atomic_directory(output) as folder:
        if inside:
            save_model(folder / "model")
        with atomic_write(folder / "epochs.jsonl") as out:
            out.writelines(json.dumps(record) + "\n" for record in history)
        write_json(folder / "dev_metrics.json", dev_scores)
        write_json(folder / "train_config.json", summary)
    state_path.unlink(missing_ok=True)
    return dev_scores
