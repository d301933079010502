"""The experiment matrix: datasets, checkpoints and cells, resolved from a config mapping.

The workflow validates the config's shape against `workflow/schemas/config.schema.yaml`; this
module checks what a schema cannot (languages that exist in the dataset, checkpoints that are a
hub id, an existing path or a known recipe, starts that do not loop) and expands the matrix into
cells. An experiment is one or more blocks (the `experiment` keys, and each of `experiment.extra`),
each the product of its axes; a cell is one fine-tune. Its `id`,
`checkpoint[@checkpoint language]/train language/setup/seedN`, is a path fragment that names every
axis value off its default (`setup` is "base", or e.g. "labels-no-date+size-100+lr0.001"), so
cells that two blocks share are one cell, and adding an axis value adds only new ids.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

RECIPES = ("tiny-xlmr",)
DEFAULT_TYPES = ("DATE", "LOC", "ORG", "PER")  # MasakhaNER's entity types
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.{}-]+$")
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


class ConfigError(ValueError):
    """A config that names something that does not exist; the message starts with the key."""

    def __init__(self, key: str, message: str):
        super().__init__(f"config key '{key}': {message}")


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

    def hub_id(self, language: str, dataset: Dataset) -> str:
        return self.source.format(language=language, language_name=dataset.languages[language])


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
    work_dir: str = "work"
    results_dir: str = "results"
    keep_models: bool = True
    save_state_every_seconds: float = 0.0
    label_sets: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    analyses: Mapping[str, Any] = field(default_factory=dict)

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
                        cell = Cell(name, language, seed, start, label_set, size, point)
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

    def checkpoint_dir(self, cell: Cell) -> str:
        """Where the training job loads its starting checkpoint from (built, downloaded, adapted or fine-tuned by a rule)."""
        checkpoint = self.checkpoints[cell.checkpoint]
        if checkpoint.kind == "path":
            return checkpoint.source
        if checkpoint.kind == "finetuned":
            return f"{self.run_dir(self.source_cell(cell))}/model"
        if checkpoint.per_language:
            return f"{self.work_dir}/checkpoints/{checkpoint.name}/{cell.checkpoint_language}"
        return f"{self.work_dir}/checkpoints/{checkpoint.name}"

    def run_dir(self, cell: Cell) -> str:
        return f"{self.work_dir}/runs/{cell.id}"


def _languages(value: Any, dataset: Dataset, key: str) -> tuple[str, ...]:
    if value in (None, "all"):
        return tuple(dataset.languages)
    unknown = [language for language in value if language not in dataset.languages]
    if unknown:
        raise ConfigError(
            key, f"unknown language(s) {', '.join(map(repr, unknown))}; dataset '{dataset.name}' has {', '.join(dataset.languages)}"
        )
    return tuple(value)


KINDS = ("hub", "path", "recipe", "finetuned", "adapt")


def _checkpoint(name: str, spec: Mapping[str, Any], base: Path) -> Checkpoint:
    key = f"checkpoints.{name}"
    kinds = [kind for kind in KINDS if kind in spec]
    if len(kinds) != 1:
        raise ConfigError(key, "expected exactly one of 'hub' (a hub id), 'path' (a local folder), 'recipe' (one of "
                          + ", ".join(RECIPES) + "), 'finetuned' (another cell's model) or 'adapt' (masked-LM adaptation)")
    kind = kinds[0]
    training = dict(spec.get("training", {}))
    if kind == "hub":
        if not HUB_ID.match(spec["hub"]):
            raise ConfigError(f"{key}.hub", f"{spec['hub']!r} is not a hub id of the form 'owner/name'")
        return Checkpoint(name, "hub", spec["hub"], spec.get("revision"), training=training)
    if kind == "path":
        path = Path(spec["path"])
        if not (path if path.is_absolute() else base / path).is_dir():
            raise ConfigError(f"{key}.path", f"{spec['path']!r} is not an existing folder")
        return Checkpoint(name, "path", spec["path"], training=training)
    if kind == "finetuned":
        return Checkpoint(name, "finetuned", spec["finetuned"]["checkpoint"], training=training,
                          language=spec["finetuned"]["language"])
    if kind == "adapt":
        adapt = dict(spec["adapt"])
        return Checkpoint(name, "adapt", adapt.pop("checkpoint"), training=training, adapt=adapt)
    recipe = dict(spec["recipe"])
    if recipe.get("name") not in RECIPES:
        raise ConfigError(f"{key}.recipe.name", f"{recipe.get('name')!r} is not a known recipe; known: {', '.join(RECIPES)}")
    return Checkpoint(name, "recipe", recipe["name"], recipe=recipe, training=training)


def _checkpoints(names: list[str], config: Mapping[str, Any], dataset: Dataset, base: Path, key: str) -> dict[str, Checkpoint]:
    """The named checkpoints and every checkpoint they start from (sequential transfer, adaptation)."""
    defined = config.get("checkpoints", {})
    resolved: dict[str, Checkpoint] = {}
    pending = [(name, key) for name in names]
    while pending:
        name, where = pending.pop(0)
        if name in resolved:
            continue
        if name not in defined:
            raise ConfigError(where, f"unknown checkpoint {name!r}; defined: " + ", ".join(defined))
        checkpoint = resolved[name] = _checkpoint(name, defined[name], base)
        if checkpoint.kind in ("finetuned", "adapt"):
            pending.append((checkpoint.source, f"checkpoints.{name}.{checkpoint.kind}.checkpoint"))
        if checkpoint.kind == "finetuned":
            _languages([checkpoint.language], dataset, f"checkpoints.{name}.finetuned.language")
    for checkpoint in resolved.values():
        chain, current = [checkpoint.name], checkpoint
        while current.kind in ("finetuned", "adapt"):
            current = resolved[current.source]
            if current.name in chain:
                raise ConfigError(f"checkpoints.{checkpoint.name}", "starts from itself: " + " -> ".join([*chain, current.name]))
            chain.append(current.name)
        if checkpoint.kind == "adapt" and (resolved[checkpoint.source].per_language
                                           or resolved[checkpoint.source].kind == "finetuned"):
            raise ConfigError(f"checkpoints.{checkpoint.name}.adapt.checkpoint",
                              f"{checkpoint.source!r} differs per language or per seed; adapt a single checkpoint")
    return resolved


def _train_size(value: Any, key: str) -> str:
    if value == "full":
        return "full"
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0 or (isinstance(value, float) and value >= 1):
        raise ConfigError(key, f"{value!r}: expected 'full', a number of sentences (>= 1) or a fraction (0 < f < 1)")
    return str(value)


def _grid(grid: Mapping[str, list] | None, key: str) -> tuple[tuple[tuple[str, Any], ...], ...]:
    """Every combination of the grid's values, as (key, value) pairs in a fixed key order."""
    if not grid:
        return ((),)
    unknown = [name for name in grid if name not in GRID_KEYS]
    if unknown:
        raise ConfigError(key, f"cannot search over {', '.join(unknown)}; searchable: {', '.join(GRID_KEYS)}")
    names = [name for name in GRID_KEYS if name in grid]
    return tuple(tuple(zip(names, values)) for values in itertools.product(*(grid[name] for name in names)))


def _block(spec: Mapping[str, Any], defaults: Mapping[str, Any], dataset: Dataset, label_sets, key: str,
           checkpoints: Mapping[str, "Checkpoint"]) -> Block:
    merged = {**defaults, **spec}
    crossed = merged.get("checkpoint_languages", "same")
    label_set_names = tuple(merged.get("label_sets", ["all"]))
    unknown = [name for name in label_set_names if name != "all" and name not in label_sets]
    if unknown:
        raise ConfigError(f"{key}.label_sets", f"unknown label set(s) {', '.join(unknown)}; defined: "
                          + ", ".join(["all", *label_sets]))
    crossed_languages = None if crossed == "same" else _languages(crossed, dataset, f"{key}.checkpoint_languages")
    if crossed != "same" and "checkpoint_languages" in spec and not any(
            checkpoints[name].per_language for name in merged["checkpoints"] if name in checkpoints):
        raise ConfigError(f"{key}.checkpoint_languages", "none of this block's checkpoints differs per language "
                          "(a hub template or an adapted checkpoint), so there is nothing to cross")
    return Block(
        checkpoints=tuple(merged["checkpoints"]),
        train_languages=_languages(merged.get("train_languages"), dataset, f"{key}.train_languages"),
        seeds=tuple(merged.get("seeds", [1])),
        checkpoint_languages=crossed_languages,
        label_sets=label_set_names,
        train_sizes=tuple(_train_size(v, f"{key}.train_sizes") for v in merged.get("train_sizes", ["full"])),
        grid=_grid(merged.get("grid"), f"{key}.grid"),
    )


def load_experiment(config: Mapping[str, Any], base: str | Path = ".") -> Experiment:
    """Resolve a (schema-valid) config mapping into an Experiment, checking cross-references."""
    base = Path(base)
    spec = config["experiment"]
    name = spec["dataset"]
    if name not in config["datasets"]:
        raise ConfigError("experiment.dataset", f"unknown dataset {name!r}; configured: {', '.join(config['datasets'])}")
    raw = config["datasets"][name]
    languages = raw["languages"]
    if isinstance(languages, list):
        languages = {language: language for language in languages}
    dataset = Dataset(name, raw["path"], dict(languages), tuple(raw.get("types", DEFAULT_TYPES)))

    label_sets = {}
    for set_name, types in (config.get("label_sets") or {}).items():
        if set_name == "all":
            raise ConfigError("label_sets.all", "'all' is reserved for every type of the dataset; choose another name")
        unknown = [t for t in types if t not in dataset.types]
        if unknown:
            raise ConfigError(f"label_sets.{set_name}", f"unknown type(s) {', '.join(unknown)}; dataset '{dataset.name}' "
                              f"has {', '.join(dataset.types)}")
        label_sets[set_name] = tuple(t for t in dataset.types if t in types)  # the dataset's order
    axes = {k: v for k, v in spec.items() if k not in ("dataset", "eval_languages", "extra")}
    extras = spec.get("extra", [])
    names = list(dict.fromkeys([*axes["checkpoints"], *(n for extra in extras for n in extra.get("checkpoints", []))]))
    checkpoints = _checkpoints(names, config, dataset, base, "experiment.checkpoints")
    blocks = [_block(axes, {}, dataset, label_sets, "experiment", checkpoints)]
    blocks += [_block(extra, axes, dataset, label_sets, f"experiment.extra[{i}]", checkpoints) for i, extra in enumerate(extras)]
    analyses = dict(config.get("analyses") or {})
    for i, pair in enumerate(analyses.get("checkpoint_effects", [])):
        for role in ("checkpoint", "baseline"):
            if pair[role] not in config.get("checkpoints", {}):
                raise ConfigError(f"analyses.checkpoint_effects[{i}].{role}",
                                  f"unknown checkpoint {pair[role]!r}; defined: " + ", ".join(config.get("checkpoints", {})))
    experiment = Experiment(
        dataset=dataset,
        checkpoints=checkpoints,
        blocks=tuple(blocks),
        eval_languages=_languages(spec.get("eval_languages"), dataset, "experiment.eval_languages"),
        training=dict(config.get("training", {})),
        work_dir=config.get("work_dir", "work"),
        results_dir=config.get("results_dir", "results"),
        keep_models=config.get("keep_models", True),
        save_state_every_seconds=config.get("save_state_every_seconds", 0.0),
        label_sets=label_sets,
    )
    # A pair of defined checkpoints that no cell is trained from (e.g. the default config's pair,
    # inherited by a --configfile with other checkpoints, or a mere adaptation source) has nothing
    # to compare: it is left out.
    trained = {cell.checkpoint for cell in experiment.cells()}
    effects = [dict(pair) for pair in analyses.get("checkpoint_effects", [])
               if pair["checkpoint"] in trained and pair["baseline"] in trained]
    return replace(experiment, analyses={**analyses, "checkpoint_effects": effects})


def canonical_json(data: Any) -> str:
    """A stable one-line JSON form, used as a rule parameter so that Snakemake sees real changes only."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"))
