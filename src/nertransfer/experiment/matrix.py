"""The experiment matrix: datasets, checkpoints, cells and blocks, and what a cell needs to be trained.

An experiment is one or more blocks (the `experiment` keys of the config, and each of
`experiment.extra`), each the product of its axes; a cell is one fine-tune. Its `id`,
`checkpoint[@checkpoint language]/train language/setup/seedN`, is a path fragment that names every
axis value off its default (`setup` is "base", or e.g. "labels-no-date+size-100+lr0.001"), so
cells that two blocks share are one cell, and adding an axis value adds only new ids. A training
language may also be a training set (`train_sets`: several languages trained together, or one
leave-one-out set per held-out language), named in the id as a language is.
`nertransfer.experiment.config` builds an Experiment from a config mapping and checks it.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Mapping

from nertransfer.experiment import axes
from nertransfer.experiment.checkpoints import Checkpoint, FinetunedCheckpoint, canonical_json
from nertransfer.experiment.layout import Layout

DEFAULT_TYPES = ("DATE", "LOC", "ORG", "PER")  # MasakhaNER's entity types
BOOTSTRAP_RESAMPLES = 1000  # analyses.bootstrap_resamples when the config gives none (nertransfer.scoring.bootstrap)
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


def data_role(split: str, language: str = "") -> str:
    """How records and fingerprints name a data file a fine-tune reads: `train`, or `train.<language>` for one language
    of a training set."""
    return f"{split}.{language}" if language else split


@dataclass(frozen=True)
class Cell:
    """One fine-tune: a checkpoint trained on one language with one seed, and a value of every setup axis.

    `checkpoint_language`: for a per-language checkpoint, whose language it was adapted to (the
    training language unless the experiment crosses them). `values`: (axis, value) of each setup
    axis (nertransfer.experiment.axes) off its default, in AXES order; `cell.label_set`,
    `cell.train_size`, ... read any axis, its default when the cell leaves it out.
    """

    checkpoint: str
    train_language: str
    seed: int
    checkpoint_language: str | None = None
    values: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def of(cls, checkpoint: str, train_language: str, seed: int, checkpoint_language: str | None = None,
           **values: Any) -> "Cell":
        """A cell from axis values by name; a value at its axis's default is left out, so the cell is the one it was
        before the axis existed."""
        unknown = sorted(set(values) - set(axes.BY_NAME))
        if unknown:
            raise TypeError(f"unknown axis {', '.join(unknown)}; declared: {', '.join(axes.BY_NAME)}")
        kept = tuple((axis.name, values[axis.name]) for axis in axes.AXES
                     if axis.name in values and values[axis.name] != axis.default)
        return cls(checkpoint, train_language, seed, checkpoint_language, kept)

    def __getattr__(self, name: str) -> Any:
        axis = axes.BY_NAME.get(name)
        if axis is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return dict(self.values).get(name, axis.default)

    @property
    def setup(self) -> str:
        """The path component of the setup axes off their defaults ("base" when all are at theirs)."""
        return axes.setup_label(dict(self.values))

    @property
    def id(self) -> str:
        crossed = self.checkpoint_language not in (None, self.train_language)
        start = f"{self.checkpoint}@{self.checkpoint_language}" if crossed else self.checkpoint
        return f"{start}/{self.train_language}/{self.setup}/seed{self.seed}"

    def axes(self) -> dict[str, Any]:
        """The cell's axes as its records carry them (nertransfer.experiment.axes.recorded)."""
        return {"checkpoint": self.checkpoint, axes.START_COLUMN: self.checkpoint_language or "",
                "train_language": self.train_language, **axes.recorded(dict(self.values)), "seed": self.seed}


@dataclass(frozen=True)
class Block:
    """One matrix of the experiment: every combination of its axis values is a cell."""

    checkpoints: tuple[str, ...]
    train_languages: tuple[str, ...]
    seeds: tuple[int, ...]
    checkpoint_languages: tuple[str, ...] | None = None  # None: each cell's own training language
    setup: Mapping[str, tuple] = field(default_factory=dict)  # axis name -> its values (absent: the default alone)

    def setups(self) -> list[dict[str, Any]]:
        """Every combination of the setup axes' values, as axis name -> value."""
        values = [self.setup.get(axis.name, (axis.default,)) for axis in axes.AXES]
        return [dict(zip(axes.BY_NAME, combination, strict=True)) for combination in itertools.product(*values)]


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
    train_sets: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # name -> its languages, dataset order
    held_out: Mapping[str, str] = field(default_factory=dict)  # a leave-one-out set -> the language it leaves out

    def languages_of(self, train_language: str) -> tuple[str, ...]:
        """The languages whose training files a training language or set trains on."""
        return self.train_sets.get(train_language, (train_language,))

    def training_data(self, cell: Cell) -> dict[str, str]:
        """role -> data file a cell's fine-tune reads: `train` and `dev` for one language, `train.<language>` and
        `dev.<language>` for each language of a set (the roles its records and fingerprints are keyed by)."""
        languages = self.languages_of(cell.train_language)
        several = languages != (cell.train_language,)
        return {data_role(split, language if several else ""): self.dataset.file(language, split)
                for split in ("train", "dev") for language in languages}

    def cells(self) -> list[Cell]:
        """Every block's cells, then the cells that sequential transfer starts from, each once, in order."""
        cells: dict[str, Cell] = {}
        for block in self.blocks:
            for name in block.checkpoints:
                per_language = self.checkpoints[name].per_language
                for language in block.train_languages:
                    starts = (block.checkpoint_languages or (language,)) if per_language else (None,)
                    several = len(self.languages_of(language)) > 1
                    for start, setup, seed in itertools.product(starts, block.setups(), block.seeds):
                        setup = {axis: value for axis, value in setup.items()  # sampling: for a set only
                                 if several or not axes.BY_NAME[axis].multi_source_only}
                        cell = Cell.of(name, language, seed, start, **setup)
                        cells.setdefault(cell.id, cell)
        pending = list(cells.values())
        while pending:  # a sequential start is a fine-tune of its own, trained (and evaluated) too
            cell = pending.pop()
            source = self.checkpoints[cell.checkpoint].source_cell(self, cell)
            if source is not None and source.id not in cells:
                cells[source.id] = source
                pending.append(source)
        return list(cells.values())

    def source_cell(self, cell: Cell, checkpoint: FinetunedCheckpoint) -> Cell:
        """The cell whose model a sequential start is: the start's checkpoint on its language, same seed, and the
        values of the axes a start shares (the label set)."""
        start = self.checkpoints[checkpoint.start]
        shared = {axis.name: getattr(cell, axis.name) for axis in axes.AXES if axis.shared_with_start}
        return Cell.of(checkpoint.start, checkpoint.language, cell.seed,
                       checkpoint.language if start.per_language else None, **shared)

    def evaluation_languages(self, cell: Cell) -> tuple[str, ...]:
        """Every configured evaluation language, and always the cell's own: its training language, or every language
        of its training set."""
        own = tuple(language for language in self.languages_of(cell.train_language) if language not in self.eval_languages)
        return (*self.eval_languages, *own)

    def language_adapter(self, cell: Cell, language: str) -> tuple[str, str] | None:
        """A MAD-X cell's language adapter for a language (its training language's in training): (folder, the
        adapter's language). A language without an adapter falls back to the training language's; None for a cell
        of another method."""
        name = axes.language_adapters_of(cell.method)
        if name is None:
            return None
        adapters = self.checkpoints[name]
        used = language if adapters.has_adapter(language) else cell.train_language
        return adapters.folder(self, used), used

    def own_languages(self, cell: Cell) -> tuple[str, ...]:
        """The languages a cell is trained on, whose test sets are its in-language scores (its model card shows them)."""
        return self.languages_of(cell.train_language)

    def root_checkpoint(self, name: str) -> Checkpoint:
        """The checkpoint a chain of fine-tunes and adaptations starts from (a hub model, a folder or a recipe)."""
        checkpoint = self.checkpoints[name]
        while checkpoint.source is not None:
            checkpoint = self.checkpoints[checkpoint.source]
        return checkpoint

    def data_needed(self) -> dict[tuple[str, str], str]:
        """Every (language, split) of the dataset the experiment reads, with the first thing that reads it."""
        needed: dict[tuple[str, str], str] = {}
        for checkpoint in self.checkpoints.values():  # what making a start reads whatever the language (a recipe's tokenizer)
            needed.update({place: f"the {checkpoint.key} checkpoint {checkpoint.name!r}"
                           for place in checkpoint.reads(self.dataset, None)})
        for cell in self.cells():
            for language in self.languages_of(cell.train_language):
                needed.setdefault((language, "train"), f"cell {cell.id}")
                needed.setdefault((language, "dev"), f"cell {cell.id}")
            for language in self.evaluation_languages(cell):
                needed.setdefault((language, "test"), f"cell {cell.id}")
            for place in self.checkpoints[cell.checkpoint].reads(self.dataset, cell.checkpoint_language):
                needed.setdefault(place, f"the start of cell {cell.id}")
            for language in (cell.train_language, *self.evaluation_languages(cell)):  # MAD-X: the language adapters
                adapter = self.language_adapter(cell, language)
                if adapter is not None:
                    needed.setdefault((adapter[1], "train"), f"the language adapter of {adapter[1]} (cell {cell.id})")
        return needed

    def types(self, cell: Cell) -> tuple[str, ...]:
        """The entity types a cell is trained and scored on (its label set)."""
        return self.label_sets.get(cell.label_set, self.dataset.types)

    def hyperparameters(self, cell: Cell) -> dict[str, Any]:
        """Training settings of a cell: defaults, the config's, the checkpoint's own, the seed, and what each of its
        setup axes off its default sets (a grid point's settings, a training size, a dropout)."""
        hp = {**DEFAULT_TRAINING, **self.training, **self.checkpoints[cell.checkpoint].training, "seed": cell.seed}
        for name, value in cell.values:
            hp.update(axes.BY_NAME[name].training(value))
        return hp

    def start_identity(self, cell: Cell) -> tuple:
        """What a cell's starting files are, whatever the checkpoint is called: a hub repository at a
        revision, a folder, a recipe's settings, an adaptation of another start, or a fine-tune's identity."""
        return self.checkpoints[cell.checkpoint].start_identity(self, cell)

    def training_identity(self, cell: Cell) -> tuple:
        """Everything a fine-tune's result depends on: its start, data, label set and settings (seed and the setup
        axes' settings included)."""
        return (self.start_identity(cell), self.languages_of(cell.train_language), self.types(cell),
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
        """How many seeds each table row (a cell's axes but the seed, as axes.row_key writes them) is configured with."""
        return dict(Counter(axes.row_key(axes.record_axes(cell.axes())) for cell in self.cells()))

    def hub_downloads(self) -> dict[tuple[str, str], list[tuple[str, str | None]]]:
        """(repository, revision) -> the (checkpoint, language) pairs that start from it, each downloaded once."""
        downloads: dict[tuple[str, str], list[tuple[str, str | None]]] = {}
        for cell in self.cells():
            for download, name, language in self.checkpoints[cell.checkpoint].downloads(self, cell.checkpoint_language):
                users = downloads.setdefault(download, [])
                if (name, language) not in users:
                    users.append((name, language))
        return downloads

    def adaptation_settings(self, name: str) -> dict[str, Any]:
        """An adapted checkpoint's settings, and the precision every model step of the experiment runs in."""
        return {**self.checkpoints[name].adapt, "precision": {**DEFAULT_TRAINING, **self.training}["precision"]}

    def made_by(self, rule: str) -> list[str]:
        """The checkpoints whose folders `rule` makes (build_recipe, prefetch_checkpoint, adapt_checkpoint)."""
        return [name for name, checkpoint in self.checkpoints.items() if checkpoint.made_by == rule]

    def checkpoint_dir(self, cell: Cell) -> str:
        """Where the training job loads its starting checkpoint from (built, downloaded, adapted or fine-tuned by a rule)."""
        return self.checkpoints[cell.checkpoint].start_folder(self, cell)

    def model_dir(self, cell: Cell) -> str:
        """The fine-tuned model of a cell: its own, or that of the cell whose fine-tune it shares."""
        return self.layout.model(self.fine_tunes()[cell.id].id)

    def start_dir(self, name: str, language: str | None = None) -> str:
        """The folder of a checkpoint that is not another cell's model: its own path, or where a rule builds,
        downloads or adapts it (per language for a hub template or an adapted checkpoint)."""
        checkpoint = self.checkpoints[name]
        return checkpoint.folder(self, language if checkpoint.per_language else None)
