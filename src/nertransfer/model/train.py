"""Fine-tuning one cell: a checkpoint, a training language, a seed. Read it top to bottom.

The loop follows transformers' `run_ner_no_trainer.py`: AdamW with a linear warm-up schedule,
labels on each word's first subword, dynamic padding over length-grouped batches. It scores the
dev set every `eval_every` epochs and saves a resumable state (model, optimizer, scheduler,
random state, epoch), so a job that is killed or preempted resumes where it stopped and ends
with the same metrics as an uninterrupted run. The seed fixes every source of randomness: the
same cell trained twice on CPU gives the same metrics.

`train(FineTune(...), TrainingSettings.from_mapping(hyperparameters))` is the whole of it; the
steps below run in the order they are written.
"""

from __future__ import annotations

import errno
import json
import os
import random
import shutil
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch

from nertransfer.analysis.card import model_card
from nertransfer.data.conll import Sentence, bio_labels, keep_types, read_conll, repair_iob2
from nertransfer.data.files import atomic_directory, atomic_file, atomic_write, exclusive, write_json
from nertransfer.data.fingerprints import check_planned, check_unchanged, data_sha256, sha256_of
from nertransfer.data.mixing import epoch_sample, union
from nertransfer.experiment.config import ConfigError
from nertransfer.experiment.layout import DEV_METRICS, EPOCHS, MODEL, RESUME_FILE, STATE_SUMMARY, TRAIN_CONFIG, state_dir
from nertransfer.experiment.matrix import DEFAULT_TRAINING, data_role
from nertransfer.model.adapters import load_trainable_state, save_adapter, trainable_state, with_adapter
from nertransfer.model.collation import collate, fixed_shape
from nertransfer.model.device import Compute, choose
from nertransfer.model.encoding import Window, encode, length_grouped_batches
from nertransfer.model.hub import source_of
from nertransfer.model.predict import load_model, predict_tags
from nertransfer.scoring.metrics import mean_scores, score


@dataclass(frozen=True)
class TrainingSettings:
    """A fine-tune's hyperparameters, as `nertransfer.experiment.matrix` resolves them for a cell."""

    seed: int
    epochs: int
    learning_rate: float
    batch_size: int
    eval_batch_size: int
    warmup_ratio: float
    weight_decay: float
    max_length: int
    max_grad_norm: float
    gradient_accumulation_steps: int
    eval_every: int  # dev scoring every N epochs, and after the last
    precision: str  # see nertransfer.model.device
    compile: bool  # torch.compile the training forward pass
    save_dtype: str  # float32, bfloat16 or float16: the kept model
    train_size: int | float | None = None  # a seed-dependent subset of that many sentences (or that fraction)
    static_shapes: bool = False  # batches of a few fixed shapes (nertransfer.model.collation)
    cuda_graphs: bool = False  # on a GPU: the forward and backward captured as CUDA graphs (static shapes)
    dropout: float | None = None  # hidden and attention dropout (the dropout axis); None: the checkpoint's own
    freeze_embeddings: bool = False  # keep the word embedding as it starts: no gradient, no optimizer state for it
    adapter: Mapping[str, Any] | None = None  # the method axis: {"method": "lora", rank, alpha, ...}; None: every weight
    sampling_alpha: float | None = None  # several training languages: temperature sampling (nertransfer.data.mixing)

    @classmethod
    def from_mapping(cls, hyperparameters: Mapping[str, Any]) -> "TrainingSettings":
        """From the resolved `hyperparameters` of a cell; keys it leaves out take the package's defaults."""
        unknown = sorted(set(hyperparameters) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"unknown hyperparameter(s) {', '.join(unknown)}")
        return cls(**{**DEFAULT_TRAINING, **hyperparameters})

    def record(self) -> dict[str, Any]:
        """The settings as recorded with the results and in a saved state, keys sorted as the resolved config's JSON;
        an optional setting left at its default is left out (as the config leaves it out)."""
        optional = {f.name: f.default for f in fields(self) if f.name not in DEFAULT_TRAINING and f.name != "seed"}
        return {key: value for key, value in sorted(asdict(self).items()) if optional.get(key, object()) != value}


@dataclass(frozen=True)
class FineTune:
    """What to fine-tune on what, and where its outputs go."""

    checkpoint: str  # a folder (or hub id) loadable with from_pretrained
    train_file: str | Sequence[str]  # one file, or one per language of `languages` (a training set)
    dev_file: str | Sequence[str]
    types: Sequence[str]  # the dataset's entity types
    output: Path  # the records: epochs, dev metrics, settings
    model_output: Path | None = None  # the model's folder (default: output/model); kept apart so it can be deleted alone
    cell: Mapping[str, Any] = field(default_factory=dict)  # the cell's axes, recorded with the results
    keep: Sequence[str] | None = None  # a label set: the types trained and scored (others become O)
    save_state_every_seconds: float = 0.0  # 0: after every epoch; always when a stop signal came
    expected_sha256: Mapping[str, str] = field(default_factory=dict)  # role (data_roles) -> what the workflow planned on
    languages: Sequence[str] = ()  # a training set: the language of each train and dev file, in their order
    language_adapter: str | None = None  # MAD-X: the training language's language adapter (a peft folder)

    def sources(self, split: str) -> list[tuple[str, str]]:
        """(language, file) of a split ("train" or "dev"): ("", file) for a single language."""
        files = self.train_file if split == "train" else self.dev_file
        if isinstance(files, str) and not self.languages:
            return [("", files)]
        files = _listed(files)
        if len(files) != len(self.languages) or len(set(self.languages)) != len(self.languages):
            raise ValueError(f"a training set needs one {split} file per language, each language once: got {len(files)} "
                             f"{split} files for languages {', '.join(self.languages) or 'none'}")
        return list(zip(self.languages, files, strict=True))

    def data_roles(self) -> dict[str, str]:
        """role -> data file, as nertransfer.experiment.matrix.Experiment.training_data names them (`data_role`)."""
        return {data_role(split, language): path for split in ("train", "dev") for language, path in self.sources(split)}

    @property
    def model_folder(self) -> Path:
        return Path(self.model_output) if self.model_output else Path(self.output) / MODEL

    @property
    def state_file(self) -> Path:
        return state_dir(self.output) / RESUME_FILE


def train(job: FineTune, settings: TrainingSettings) -> dict:
    """Fine-tune `job.checkpoint` on `job.train_file`; write the records and the model; return the dev scores.

    The state is saved after an epoch once `save_state_every_seconds` have passed since the last
    save: for xlm-roberta-base it is 3.3 GB (model and optimizer), written every epoch it would
    double a GPU epoch. One process trains a cell at a time (a second fails naming the first).
    """
    with exclusive(job.state_file.parent, f"the resumable state of {job.output}", remove=True), \
            _stop_requests() as stop_signals:
        return _fine_tune(job, settings, stop_signals)


def _listed(files: str | Sequence[str]) -> list[str]:
    return [files] if isinstance(files, str) else list(files)


@dataclass
class _Training:
    """Everything one fine-tune works with; what changes epoch to epoch is what a saved state holds."""

    compute: Compute
    tokenizer: Any
    model: Any
    windows: list[Window]
    labels: list[list[int]]
    dev: Mapping[str, list[Sentence]]  # language ("" for a single one) -> its dev sentences
    types: Sequence[str]
    window_sources: list[int] = field(default_factory=list)  # each window's training language (its index)
    forward: Any = None  # the model, or torch.compile of it
    optimizer: Any = None
    scheduler: Any = None
    shuffle: random.Random = field(default_factory=random.Random)
    history: list[dict] = field(default_factory=list)
    first_epoch: int = 0


def _fine_tune(job: FineTune, settings: TrainingSettings, stop_signals: list[int]) -> dict:
    started = time.perf_counter()
    from transformers import set_seed

    set_seed(settings.seed)
    read = _inputs_read(job)  # before reading them: a change from here on is caught at the end
    run = _prepare(job, settings)
    start = [list(job.keep) if job.keep is not None else None, {role: sha for role, (_, sha) in read.items()}]
    _resume(run, job, settings, start)
    dev_scores, last_save = None, time.perf_counter()
    for epoch in range(run.first_epoch, settings.epochs):
        record = _train_epoch(run, settings, epoch)
        dev_scores = None
        if (epoch + 1) % settings.eval_every == 0 or epoch + 1 == settings.epochs:  # dev scoring need not run every epoch
            dev_scores = _score_dev(run, settings)
            record.update(dev_precision=dev_scores["precision"], dev_recall=dev_scores["recall"], dev_f1=dev_scores["f1"])
        record["seconds"] = round(time.perf_counter() - record.pop("started"), 3)
        run.history.append(record)
        print(json.dumps(_progress_line(record, settings, started, run.first_epoch)), flush=True)
        stopping, last_epoch = bool(stop_signals), epoch + 1 == settings.epochs
        # A stop in the last epoch saves too: the outputs are written, but the run that asked for the stop
        # never records them as complete, and the next run (which makes them again) resumes from here.
        if stopping or (not last_epoch and time.perf_counter() - last_save >= job.save_state_every_seconds):
            _save_state(run, job, settings, epoch, start)
            last_save = time.perf_counter()
        if stopping and not last_epoch:
            raise SystemExit(f"stopped by signal {stop_signals[0]} after epoch {epoch + 1}; state saved in {job.state_file}")
    if dev_scores is None:  # resumed after the last epoch: score the finished model once more
        dev_scores = _score_dev(run, settings)
    check_unchanged({role: (path, sha) for role, (path, sha) in read.items()}, "while this fine-tune ran")
    _write_outputs(run, job, settings, dev_scores, time.perf_counter() - started, read)
    if not stop_signals:
        job.state_file.unlink(missing_ok=True)
        job.state_file.with_name(STATE_SUMMARY).unlink(missing_ok=True)
    return dev_scores


def _inputs_read(job: FineTune) -> dict[str, tuple[str, str]]:
    """role -> (path, SHA-256) of every file the fine-tune reads: its data, and its starting checkpoint's folder.
    Data that is not what the workflow planned the job on (edited since) fails the job at once, naming the file."""
    read = {role: (path, data_sha256(path)) for role, path in job.data_roles().items()}
    if Path(job.checkpoint).exists():  # a hub id stands for itself
        read["checkpoint"] = (str(job.checkpoint), sha256_of(job.checkpoint))
    if job.language_adapter is not None:
        read["language_adapter"] = (str(job.language_adapter), sha256_of(job.language_adapter))
    for role, expected in job.expected_sha256.items():
        check_planned(role, *read[role], expected)
    return read


def _progress_line(record: dict, settings: TrainingSettings, started: float, first_epoch: int) -> dict:
    """An epoch's record as the job log shows it: with the number of epochs, the time so far and the time left
    (at this run's pace), which `nertransfer status` shows beside a running cell."""
    elapsed = time.perf_counter() - started
    pace = elapsed / (record["epoch"] - first_epoch)
    return {**record, "of": settings.epochs, "elapsed": round(elapsed, 1),
            "eta": round(pace * (settings.epochs - record["epoch"]), 1)}


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


def labelled_windows(tokenizer, path: str | Sequence[str], types: Sequence[str], max_length: int,
                     keep: Sequence[str] | None = None, size: int | float | None = None, seed: int = 0,
                     sources: list[int] | None = None) -> tuple[list[Window], list[list[int]]]:
    """Windows of a training file (or the union of several: a training set) with their label ids (gold entities
    opening with I- repaired).

    `keep`: the label set (other types become O); `size`: a seed-dependent subset of the sentences (of the union);
    `sources`: filled with each window's file index (its language), for language sampling.
    """
    sentences, origin = union([read_conll(file, types) for file in _listed(path)])
    chosen = training_subset(range(len(sentences)), size, seed)
    sentences, origin = [sentences[i] for i in chosen], [origin[i] for i in chosen]
    if keep is not None:
        sentences, types = keep_types(sentences, keep), keep
    label_ids = {label: i for i, label in enumerate(bio_labels(types))}
    windows = encode(tokenizer, [s.tokens for s in sentences], max_length)
    tags = [repair_iob2(s.tags)[0] for s in sentences]
    labels = [
        [label_ids[tag] for tag in tags[w.sentence][w.first_word : w.first_word + len(w.word_starts)]]
        for w in windows
    ]
    if sources is not None:
        sources[:] = [origin[w.sentence] for w in windows]
    return windows, labels


def _prepare(job: FineTune, settings: TrainingSettings) -> _Training:
    """The model (fp32 weights: autocast does the low precision) on its device, the data, optimizer and schedule."""
    compute = choose(settings.precision)
    tokenizer, model = load_model(job.checkpoint, bio_labels(job.keep if job.keep is not None else job.types),
                                  compute, dtype=torch.float32, dropout=settings.dropout)
    positions = subword_positions(model)
    if positions is not None and settings.max_length > positions:
        raise ConfigError("training.max_length", f"{settings.max_length} is more than the {positions} subword "
                          f"positions of {job.checkpoint}")
    if settings.adapter is not None:  # the start's weights stay as they are: only the adapter and the head train
        model = with_adapter(model, settings.adapter, job.language_adapter)
    sources: list[int] = []
    windows, labels = labelled_windows(tokenizer, [path for _, path in job.sources("train")], job.types,
                                       settings.max_length, keep=job.keep, size=settings.train_size, seed=settings.seed,
                                       sources=sources)
    dev = {language: read_conll(path, job.types) for language, path in job.sources("dev")}
    types = job.types
    if job.keep is not None:
        dev, types = {language: keep_types(sentences, job.keep) for language, sentences in dev.items()}, job.keep
    run = _Training(compute=compute, tokenizer=tokenizer, model=model, windows=windows, labels=labels, dev=dev, types=types,
                    shuffle=random.Random(settings.seed), forward=_forward(model, settings, compute),
                    window_sources=sources)
    if settings.freeze_embeddings:
        model.get_input_embeddings().weight.requires_grad_(False)
    run.optimizer, run.scheduler = _optimizer_and_schedule(model, settings, len(windows))
    return run


def subword_positions(model) -> int | None:
    """How many subwords, special tokens included, one input of `model` can hold.

    BERT numbers positions from 0 (512 for multilingual-e5-small); the RoBERTa family (XLM-R, the
    tiny recipe) from its padding index + 1, so 514 position embeddings hold 512 subwords. The
    position embedding says which: RoBERTa's has a padding index.
    """
    positions = getattr(model.config, "max_position_embeddings", None)
    embedding = getattr(getattr(model.base_model, "embeddings", None), "position_embeddings", None)
    if positions is None or embedding is None:
        return positions
    return positions - (embedding.padding_idx + 1 if embedding.padding_idx is not None else 0)


def _forward(model, settings: TrainingSettings, compute: Compute):
    """The model, compiled if asked: CUDA graphs (`reduce-overhead`, static shapes) on a GPU, or `compile` as it is.

    CUDA graphs are a GPU's: on a CPU the switch is noted in the log and the model runs as it is.
    """
    if settings.cuda_graphs and compute.device.type == "cuda":
        return torch.compile(model, mode="reduce-overhead", dynamic=False)
    if settings.cuda_graphs:
        print("cuda_graphs: no GPU here; training without them", flush=True)
    return torch.compile(model, dynamic=True) if settings.compile else model


def _optimizer_and_schedule(model, settings: TrainingSettings, windows: int):
    """AdamW (no weight decay on biases and layer norms) with a linear warm-up and decay over all steps; frozen
    parameters (`freeze_embeddings`) get no optimizer state: for a 250k-piece vocabulary that state is most of it."""
    from transformers import get_linear_schedule_with_warmup

    no_decay = ("bias", "LayerNorm", "layer_norm")
    trained = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    decay = [p for n, p in trained if not any(k in n for k in no_decay)]
    rest = [p for n, p in trained if any(k in n for k in no_decay)]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": settings.weight_decay}, {"params": rest, "weight_decay": 0.0}],
        lr=settings.learning_rate,
        fused=True,  # one kernel for all parameters (CUDA and, since torch 2.4, CPU)
    )
    batches_per_epoch = -(-windows // settings.batch_size)
    steps_per_epoch = -(-batches_per_epoch // settings.gradient_accumulation_steps)
    total_steps = steps_per_epoch * settings.epochs
    return optimizer, get_linear_schedule_with_warmup(optimizer, int(settings.warmup_ratio * total_steps), total_steps)


def _train_epoch(run: _Training, settings: TrainingSettings, epoch: int) -> dict:
    """One pass over the training windows in length-grouped batches; the epoch's record (loss, speed)."""
    started = time.perf_counter()
    model, device, accumulation = run.model, run.compute.device, settings.gradient_accumulation_steps
    parameters = list(model.parameters())  # listed once, not walked through every module at every step
    # the epoch's windows: every one once, or a language-sampled draw of as many (a training set with sampling_alpha)
    drawn = epoch_sample(run.window_sources, settings.sampling_alpha, settings.seed, epoch)
    lengths, pad = [len(w) for w in run.windows], run.tokenizer.pad_token_id
    model.train()
    loss_sum, tokens = torch.zeros((), device=device), 0
    grouped = length_grouped_batches([lengths[i] for i in drawn], settings.batch_size, run.shuffle)
    batches = [[drawn[i] for i in batch] for batch in grouped]
    for index, batch in enumerate(batches):
        members = [run.windows[i] for i in batch]
        shape = (fixed_shape(members, settings.max_length, settings.batch_size)
                 if settings.static_shapes or settings.cuda_graphs else {})
        inputs = collate(members, pad, [run.labels[i] for i in batch], **shape)
        tokens += sum(lengths[i] for i in batch)
        inputs = {key: value.to(device, non_blocking=True) for key, value in inputs.items()}
        with run.compute.autocast_context():
            loss = run.forward(**inputs).loss
        (loss / accumulation).backward()
        loss_sum += loss.detach()  # no .item() per step: no host-device synchronisation
        if (index + 1) % accumulation == 0 or index + 1 == len(batches):
            torch.nn.utils.clip_grad_norm_(parameters, settings.max_grad_norm)
            run.optimizer.step()
            run.scheduler.step()
            run.optimizer.zero_grad(set_to_none=True)
    seconds = time.perf_counter() - started
    return {"epoch": epoch + 1, "train_loss": loss_sum.item() / len(batches),
            "train_tokens_per_second": round(tokens / seconds, 1), "started": started}


def _score_dev(run: _Training, settings: TrainingSettings) -> dict:
    """The dev set scored in the precision training uses (conlleval convention). A training set's languages are
    scored one by one, and its dev score is their mean (`mean_scores`): model selection weighs each language alike,
    however large its dev set."""
    scores = {}
    for language, sentences in run.dev.items():
        predicted = predict_tags(run.model, run.tokenizer, [s.tokens for s in sentences], settings.max_length,
                                 batch_size=settings.eval_batch_size, compute=run.compute,
                                 static_shapes=settings.static_shapes)
        scores[language] = score([s.tags for s in sentences], predicted, types=run.types)
    return scores[""] if list(scores) == [""] else mean_scores(scores)


# -- the resumable state ----------------------------------------------------------------------

def _resume(run: _Training, job: FineTune, settings: TrainingSettings, start: list) -> None:
    """Continue from a saved state, if there is one for the same settings and label set, started from the same
    content of checkpoint and data (`start`: content fingerprints, so a copied work folder resumes too)."""
    if not job.state_file.exists():
        return
    state = torch.load(job.state_file, weights_only=False, map_location=run.compute.device)
    if (state["hyperparameters"] != settings.record() or state["checkpoint"] != str(job.checkpoint)
            or state.get("start") != start):
        return
    load_trainable_state(run.model, state["model"])
    run.optimizer.load_state_dict(state["optimizer"])
    run.scheduler.load_state_dict(state["scheduler"])
    run.shuffle.setstate(state["shuffle"])
    torch.set_rng_state(state["torch_rng"])
    run.history, run.first_epoch = state["history"], state["epoch"] + 1
    print(f"resuming after epoch {run.first_epoch} from {job.state_file}", flush=True)


def _save_state(run: _Training, job: FineTune, settings: TrainingSettings, epoch: int, start: list) -> None:
    """Write the state under a temporary name, then move it into place (`atomic_file`): a kill never leaves half a
    state, and a full disk leaves the previous state as it was (and no partial file taking the room). The fine-tune
    holds the state folder alone, so the temporary name is fixed: one that a kill -9 left is replaced by the next save."""
    try:
        with atomic_file(job.state_file, partial=job.state_file.with_suffix(".partial")) as partial:
            torch.save(
                {
                    "epoch": epoch, "hyperparameters": settings.record(), "checkpoint": str(job.checkpoint),
                    "history": run.history, "start": start,
                    "model": trainable_state(run.model), "optimizer": run.optimizer.state_dict(),
                    "scheduler": run.scheduler.state_dict(), "shuffle": run.shuffle.getstate(),
                    "torch_rng": torch.get_rng_state(),
                },
                partial,
            )
    except (OSError, RuntimeError) as error:  # torch reports a full disk as a RuntimeError of its zip writer
        free = shutil.disk_usage(job.state_file.parent).free
        raise OSError(getattr(error, "errno", None) or errno.ENOSPC,
                      f"the resumable state after epoch {epoch + 1} could not be saved in {job.state_file} "
                      f"({free:,} bytes free: {' '.join(str(error).split())[:120]}); the state saved before is kept") from None
    # what `nertransfer status` reads (no torch): the epoch the saved state resumes after, and the content it was
    # trained on; a summary that cannot be written is removed rather than left naming an older epoch
    summary = job.state_file.with_name(STATE_SUMMARY)
    try:
        write_json(summary, {"epoch": epoch + 1, "of": settings.epochs,
                             **{f"{role}_sha256": sha for role, sha in start[1].items()}})
    except OSError:
        summary.unlink(missing_ok=True)
        raise


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
    previous = {sig: signal.signal(sig, lambda number, frame: received.append(number))
                for sig in (signal.SIGTERM, signal.SIGUSR2)}
    try:
        yield received
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


# -- the outputs --------------------------------------------------------------------------------

SAVE_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def _write_outputs(run: _Training, job: FineTune, settings: TrainingSettings, dev_scores: dict, seconds: float,
                   read: Mapping[str, tuple[str, str]]) -> None:
    """The model (with a card) and the records (epochs, dev metrics, settings, what was read), each folder moved
    into place whole. The start is also recorded relative to the records, which stays true when the whole
    work folder is moved or copied."""
    summary = {
        **job.cell,
        "checkpoint_path": str(job.checkpoint),
        **({"checkpoint_from_records": os.path.relpath(job.checkpoint, job.output)} if "checkpoint" in read else {}),
        "train_file": job.train_file if isinstance(job.train_file, str) else list(job.train_file),
        "dev_file": job.dev_file if isinstance(job.dev_file, str) else list(job.dev_file),
        **({"languages": list(job.languages)} if job.languages else {}),
        **{f"{role}_sha256": sha for role, (_, sha) in read.items()},
        **({"checkpoint_source": source} if (source := source_of(job.checkpoint)) else {}),  # repository and commit
        "hyperparameters": settings.record(),
        "train_windows": len(run.windows),
        "train_sentences": len({w.sentence for w in run.windows}),
        "device": str(run.compute.device),
        "seconds": round(seconds, 3),
    }

    def save_model(folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        if settings.adapter is not None:  # peft's adapter files (kept in fp32: a few MB)
            save_adapter(run.model, folder, job.language_adapter)
        else:
            run.model.to(SAVE_DTYPES[settings.save_dtype]).save_pretrained(folder)  # bf16/fp16 halve the disk of 150 checkpoints
        run.tokenizer.save_pretrained(folder)
        (folder / "README.md").write_text(model_card(summary, dev_scores, None), encoding="utf-8")

    inside = job.model_folder == Path(job.output) / MODEL
    if not inside:
        with atomic_directory(job.model_folder) as folder:
            save_model(folder)
    with atomic_directory(job.output) as folder:
        if inside:
            save_model(folder / MODEL)
        with atomic_write(folder / EPOCHS) as out:
            out.writelines(json.dumps(record) + "\n" for record in run.history)
        write_json(folder / DEV_METRICS, dev_scores)
        write_json(folder / TRAIN_CONFIG, summary)
