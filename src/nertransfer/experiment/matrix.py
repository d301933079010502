"""The experiment matrix: datasets, checkpoints, cells and blocks, and what a cell needs to be trained.

An experiment is one or more blocks (the `experiment` keys of the config, and each of
`experiment.extra`), each the product of its axes; a cell is one fine-tune. Its `id`,
`checkpoint[@checkpoint language]/train language/setup/seedN`, is a path fragment that names every
axis value off its default (`setup` is "base", or e.g. "labels-no-date+size-100+lr0.001"), so
cells that two blocks share are one cell, and adding an axis value adds only new ids.
`nertransfer.experiment.config` builds an Experiment from a config mapping and checks it.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Mapping

from nertransfer.experiment.layout import Layout

RECIPES = ("tiny-xlmr",)
TINY_DEFAULTS = {"vocab_size": 8000, "hidden_size": 128, "layers": 2, "heads": 4, "max_positions": 514, "seed": 0}
DEFAULT_TYPES = ("DATE", "LOC", "ORG", "PER")  # MasakhaNER's entity types
DEFAULT_TRAINING = {
    "epochs": 3,
    "learning_rate": 5e-5,
    "batch_size": 32,
    "eval_batch_size": 64,  # best on CPU (larger batches are slower there); raise it on a GPU
    "warmup_ratio": 0.1,
    "weight_decay": 0.0,
    "max_length": 128,
    "max_grad_norm": 1.0,
    "gradient_accumulation_steps": 1,
    "eval_every": 1,  # dev scoring every N epochs (and always after the last)
    "precision": "auto",  # bf16 autocast on a GPU that supports it, fp32 otherwise
    "compile": False,  # torch.compile the training forward pass
    "save_dtype": "float32",  # or bfloat16 / float16: half the disk per kept model
}


@dataclass(frozen=True)
class Dataset:
    """A CoNLL-style NER corpus: a path pattern over language and split, its languages and types."""

    name: str
    path: str  # pattern with {language} and {split}
    languages: Mapping[str, str]  # code -> full name (used by checkpoint templates)
    types: tuple[str, ...]

    def file(self, language: str, split: str) -> str:
        return self.path.format(language=language, split=split)


@dataclass(frozen=True)
class Checkpoint:
    """A starting point for fine-tuning.

    Kinds: `hub` (an id, maybe a template over the language), `path`, `recipe` (built offline),
    `finetuned` (the NER model of another cell: sequential transfer; `source` names that cell's
    checkpoint, `language` its training language) and `adapt` (language-adaptive pretraining:
    `source` continued as a masked language model on one language's text, `adapt` its settings).
    """

    name: str
    kind: str  # "hub", "path", "recipe", "finetuned" or "adapt"
    source: str  # hub id or template, local path, recipe name, or the checkpoint it starts from
    revision: str | None = None
    recipe: Mapping[str, Any] = field(default_factory=dict)
    training: Mapping[str, Any] = field(default_factory=dict)
    language: str | None = None  # finetuned: the training language of the cell it starts from
    adapt: Mapping[str, Any] = field(default_factory=dict)

    @property
    def per_language(self) -> bool:
        """Whether the checkpoint differs per language (a hub template like `...-finetuned-{language_name}`, or adapted)."""
        return (self.kind == "hub" and "{" in self.source) or self.kind == "adapt"

    def hub_id(self, language: str | None, dataset: Dataset) -> str:
        """The repository id: the template filled in for a language (a per-language checkpoint), else the id itself."""
        if language is None or "{" not in self.source:
            return self.source
        return self.source.format(language=language, language_name=dataset.languages[language])

    def hub_download(self, language: str | None, dataset: Dataset) -> tuple[str, str]:
        """(repository id, revision) of the download a hub checkpoint starts from ("main" when unpinned)."""
        return self.hub_id(language, dataset), self.revision or "main"


GRID_KEYS = {"learning_rate": "lr", "batch_size": "bs", "epochs": "ep", "weight_decay": "wd", "warmup_ratio": "wu"}


@dataclass(frozen=True)
class Cell:
    """One fine-tune: a checkpoint trained on one language with one seed, and the optional axes.

    `checkpoint_language`: for a per-language checkpoint, whose language it was adapted to (the
    training language unless the experiment crosses them). `label_set`: the entity types kept
    (others become O). `train_size`: "full", a number of sentences, or a fraction. `grid_point`:
    hyperparameters of a grid search. Axes at their defaults leave the id as it was.
    """

    checkpoint: str
    train_language: str
    seed: int
    checkpoint_language: str | None = None
    label_set: str = "all"
    train_size: str = "full"
    grid_point: tuple[tuple[str, Any], ...] = ()

    @property
    def hyperparameter_label(self) -> str:
        return "_".join(f"{GRID_KEYS[key]}{value}" for key, value in self.grid_point) or "default"

    @property
    def setup(self) -> str:
        """The path component of the label set, training size and grid point ("base" when all default)."""
        parts = [f"labels-{self.label_set}"] if self.label_set != "all" else []
        parts += [f"size-{self.train_size}"] if self.train_size != "full" else []
        parts += [self.hyperparameter_label] if self.grid_point else []
        return "+".join(parts) or "base"

    @property
    def id(self) -> str:
        crossed = self.checkpoint_language not in (None, self.train_language)
        start = f"{self.checkpoint}@{self.checkpoint_language}" if crossed else self.checkpoint
        return f"{start}/{self.train_language}/{self.setup}/seed{self.seed}"

    def axes(self) -> dict[str, Any]:
        return {"checkpoint": self.checkpoint, "checkpoint_language": self.checkpoint_language or "",
                "train_language": self.train_language, "label_set": self.label_set, "train_size": self.train_size,
                "grid_point": self.hyperparameter_label, "seed": self.seed}


@dataclass(frozen=True)
class Block:
    """One matrix of the experiment: every combination of its axis values is a cell."""

    checkpoints: tuple[str, ...]
    train_languages: tuple[str, ...]
    seeds: tuple[int, ...]
    checkpoint_languages: tuple[str, ...] | None = None  # None: each cell's own training language
    label_sets: tuple[str, ...] = ("all",)
    train_sizes: tuple[str, ...] = ("full",)
    grid: tuple[tuple[tuple[str, Any], ...], ...] = ((),)


@dataclass(frozen=True)
class Experiment:
    """The resolved config: which cells to train, on which languages to evaluate, and where files go."""

    dataset: Dataset
    checkpoints: Mapping[str, Checkpoint]
    blocks: tuple[Block, ...]
    eval_languages: tuple[str, ...]
    training: Mapping[str, Any]
    layout: Layout = Layout()
    keep_models: bool = True
    save_state_every_seconds: float = 0.0
    label_sets: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    analyses: Mapping[str, Any] = field(default_factory=dict)
    table_std: str = "sample"  # the tables' standard deviation over seeds: sample (ddof=1) or population (ddof=0)
    notes: tuple[str, ...] = ()  # what the config loader left out or decided that the user should read

    def cells(self) -> list[Cell]:
        """Every block's cells, then the cells that sequential transfer starts from, each once, in order."""
        cells: dict[str, Cell] = {}
        for block in self.blocks:
            for name in block.checkpoints:
                per_language = self.checkpoints[name].per_language
                for language in block.train_languages:
                    starts = (block.checkpoint_languages or (language,)) if per_language else (None,)
                    for start, label_set, size, point, seed in itertools.product(
                            starts, block.label_sets, block.train_sizes, block.grid, block.seeds):
                        cell = Cell(name, language, seed, checkpoint_language=start, label_set=label_set,
                                    train_size=size, grid_point=point)
                        cells.setdefault(cell.id, cell)
        pending = list(cells.values())
        while pending:  # a sequential start is a fine-tune of its own, trained (and evaluated) too
            source = self.source_cell(pending.pop())
            if source is not None and source.id not in cells:
                cells[source.id] = source
                pending.append(source)
        return list(cells.values())

    def source_cell(self, cell: Cell) -> Cell | None:
        """For a `finetuned` start: the cell whose model this cell starts from (same seed, label set)."""
        checkpoint = self.checkpoints[cell.checkpoint]
        if checkpoint.kind != "finetuned":
            return None
        start = self.checkpoints[checkpoint.source]
        return Cell(checkpoint.source, checkpoint.language, cell.seed,
                    checkpoint.language if start.per_language else None, cell.label_set)

    def evaluation_languages(self, cell: Cell) -> tuple[str, ...]:
        """Every configured evaluation language, and always the cell's training language itself."""
        own = () if cell.train_language in self.eval_languages else (cell.train_language,)
        return (*self.eval_languages, *own)

    def root_checkpoint(self, name: str) -> Checkpoint:
        """The checkpoint a chain of fine-tunes and adaptations starts from (a hub model, a folder or a recipe)."""
        checkpoint = self.checkpoints[name]
        while checkpoint.kind in ("finetuned", "adapt"):
            checkpoint = self.checkpoints[checkpoint.source]
        return checkpoint

    def data_needed(self) -> dict[tuple[str, str], str]:
        """Every (language, split) of the dataset the experiment reads, with the first thing that reads it."""
        needed: dict[tuple[str, str], str] = {}
        if any(c.kind == "recipe" for c in self.checkpoints.values()):  # a recipe's tokenizer sees every language
            needed.update({(language, "train"): "a recipe's tokenizer" for language in self.dataset.languages})
        for cell in self.cells():
            needed.setdefault((cell.train_language, "train"), f"cell {cell.id}")
            needed.setdefault((cell.train_language, "dev"), f"cell {cell.id}")
            for language in self.evaluation_languages(cell):
                needed.setdefault((language, "test"), f"cell {cell.id}")
            if self.checkpoints[cell.checkpoint].kind == "adapt":
                needed.setdefault((cell.checkpoint_language, "train"), f"adaptation for cell {cell.id}")
        return needed

    def types(self, cell: Cell) -> tuple[str, ...]:
        """The entity types a cell is trained and scored on (its label set)."""
        return self.label_sets.get(cell.label_set, self.dataset.types)

    def hyperparameters(self, cell: Cell) -> dict[str, Any]:
        """Training settings of a cell: defaults, the config's, the checkpoint's own, its grid point, seed, size."""
        hp = {**DEFAULT_TRAINING, **self.training, **self.checkpoints[cell.checkpoint].training, **dict(cell.grid_point),
              "seed": cell.seed}
        if cell.train_size != "full":
            size = float(cell.train_size)  # "100", "0.25", "5e-05"
            hp["train_size"] = int(size) if size >= 1 else size
        return hp

    def start_identity(self, cell: Cell) -> tuple:
        """What a cell's starting files are, whatever the checkpoint is called: a hub repository at a
        revision, a folder, a recipe's settings, an adaptation of another start, or a fine-tune's identity."""
        checkpoint = self.checkpoints[cell.checkpoint]
        if checkpoint.kind == "finetuned":
            return ("finetuned", self.training_identity(self.source_cell(cell)))
        return self._identity(checkpoint.name, cell.checkpoint_language)

    def _identity(self, name: str, language: str | None) -> tuple:
        checkpoint = self.checkpoints[name]
        if checkpoint.kind == "hub":
            return ("hub", *checkpoint.hub_download(language, self.dataset))
        if checkpoint.kind == "path":
            return ("path", checkpoint.source)
        if checkpoint.kind == "recipe":
            return ("recipe", canonical_json(checkpoint.recipe))
        return ("adapt", self._identity(checkpoint.source, None), canonical_json(self.adaptation_settings(name)), language)

    def training_identity(self, cell: Cell) -> tuple:
        """Everything a fine-tune's result depends on: its start, data, label set, size and settings (seed included)."""
        return (self.start_identity(cell), cell.train_language, self.types(cell), cell.train_size,
                canonical_json(self.hyperparameters(cell)))

    def fine_tunes(self) -> dict[str, Cell]:
        """Cell id -> the cell whose fine-tune it is: itself, or the first cell with the same training identity
        (e.g. the study's `xlmr-language` and `xlmr-swahili` on swa: both start from Davlan's Swahili model)."""
        return self._fine_tunes

    @cached_property
    def _fine_tunes(self) -> dict[str, Cell]:  # asked for per job by the rules: worked out once
        first: dict[tuple, Cell] = {}
        return {cell.id: first.setdefault(self.training_identity(cell), cell) for cell in self.cells()}

    def effect_evaluations(self, checkpoint: str, baseline: str) -> list[tuple[Cell, str]]:
        """(cell, evaluation language) of every evaluation an effect table compares: both checkpoints' own-language cells."""
        return [(cell, language) for cell in self.cells() if cell.checkpoint in (checkpoint, baseline)
                and cell.checkpoint_language in (None, cell.train_language) for language in self.evaluation_languages(cell)]

    def seeds_per_row(self) -> dict[str, int]:
        """How many seeds each table row (a cell's axes but the seed, as records.row_key writes them) is configured with."""
        from nertransfer.analysis.records import record_axes, row_key

        counts = Counter(row_key(record_axes(cell.axes())) for cell in self.cells())
        return dict(counts)

    def hub_downloads(self) -> dict[tuple[str, str], list[tuple[str, str | None]]]:
        """(repository, revision) -> the (checkpoint, language) pairs that start from it, each downloaded once."""
        downloads: dict[tuple[str, str], list[tuple[str, str | None]]] = {}
        for cell in self.cells():
            checkpoint = self.checkpoints[cell.checkpoint]
            if checkpoint.kind == "adapt":
                checkpoint, language = self.checkpoints[checkpoint.source], None
            else:
                language = cell.checkpoint_language if checkpoint.per_language else None
            if checkpoint.kind == "hub":
                users = downloads.setdefault(checkpoint.hub_download(language, self.dataset), [])
                if (checkpoint.name, language) not in users:
                    users.append((checkpoint.name, language))
        return downloads

    def adaptation_settings(self, name: str) -> dict[str, Any]:
        """An adapted checkpoint's settings, and the precision every model step of the experiment runs in."""
        return {**self.checkpoints[name].adapt, "precision": {**DEFAULT_TRAINING, **self.training}["precision"]}

    def checkpoint_dir(self, cell: Cell) -> str:
        """Where the training job loads its starting checkpoint from (built, downloaded, adapted or fine-tuned by a rule)."""
        checkpoint = self.checkpoints[cell.checkpoint]
        if checkpoint.kind == "finetuned":
            return self.model_dir(self.source_cell(cell))
        return self.start_dir(checkpoint.name, cell.checkpoint_language)

    def model_dir(self, cell: Cell) -> str:
        """The fine-tuned model of a cell: its own, or that of the cell whose fine-tune it shares."""
        return self.layout.model(self.fine_tunes()[cell.id].id)

    def start_dir(self, name: str, language: str | None = None) -> str:
        """The folder of a checkpoint that is not another cell's model: its own path, or where a rule builds,
        downloads or adapts it (per language for a hub template or an adapted checkpoint)."""
        checkpoint = self.checkpoints[name]
        if checkpoint.kind == "path":
            return checkpoint.source
        if checkpoint.kind == "hub":
            return self.layout.hub_checkpoint(*checkpoint.hub_download(language, self.dataset))
        return self.layout.checkpoint(name, language if checkpoint.per_language else None)


def canonical_json(data: Any) -> str:
    """A stable one-line JSON form, used as a rule parameter so that Snakemake sees real changes only."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"))
