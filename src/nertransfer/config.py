"""The experiment matrix: datasets, checkpoints and cells, resolved from a config mapping.

The workflow validates the config's shape against `workflow/schemas/config.schema.yaml`; this
module checks what a schema cannot (languages that exist in the dataset, checkpoints that are a
hub id, an existing path or a known recipe) and expands the matrix into cells. A cell is one
fine-tune; its `id` is a path fragment that names every axis value, so a new axis is a new
path component and a new field here, not a rewrite of the rules.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
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
    """A starting point for fine-tuning: a hub id (maybe a template over the language), a path or a recipe."""

    name: str
    kind: str  # "hub", "path" or "recipe"
    source: str  # hub id or template, local path, or recipe name
    revision: str | None = None
    recipe: Mapping[str, Any] = field(default_factory=dict)
    training: Mapping[str, Any] = field(default_factory=dict)

    @property
    def per_language(self) -> bool:
        """Whether the checkpoint differs per language (a template like `...-finetuned-{language_name}`)."""
        return self.kind == "hub" and "{" in self.source

    def hub_id(self, language: str, dataset: Dataset) -> str:
        return self.source.format(language=language, language_name=dataset.languages[language])


@dataclass(frozen=True)
class Cell:
    """One fine-tune: a checkpoint trained on one language with one seed."""

    checkpoint: str
    train_language: str
    seed: int

    @property
    def id(self) -> str:
        return f"{self.checkpoint}/{self.train_language}/seed{self.seed}"

    def axes(self) -> dict[str, Any]:
        return {"checkpoint": self.checkpoint, "train_language": self.train_language, "seed": self.seed}


@dataclass(frozen=True)
class Experiment:
    """The resolved config: which cells to train, on which languages to evaluate, and where files go."""

    dataset: Dataset
    checkpoints: Mapping[str, Checkpoint]
    train_languages: tuple[str, ...]
    eval_languages: tuple[str, ...]
    seeds: tuple[int, ...]
    training: Mapping[str, Any]
    work_dir: str = "work"
    results_dir: str = "results"
    keep_models: bool = True
    save_state_every_seconds: float = 0.0

    def cells(self) -> list[Cell]:
        return [
            Cell(checkpoint, language, seed)
            for checkpoint in self.checkpoints
            for language in self.train_languages
            for seed in self.seeds
        ]

    def hyperparameters(self, cell: Cell) -> dict[str, Any]:
        """Training settings of a cell: defaults, then the config's, then the checkpoint's own."""
        return {**DEFAULT_TRAINING, **self.training, **self.checkpoints[cell.checkpoint].training, "seed": cell.seed}

    def checkpoint_dir(self, cell: Cell) -> str:
        """Where the training job loads its starting checkpoint from (built or downloaded by a rule)."""
        checkpoint = self.checkpoints[cell.checkpoint]
        if checkpoint.kind == "path":
            return checkpoint.source
        if checkpoint.per_language:
            return f"{self.work_dir}/checkpoints/{checkpoint.name}/{cell.train_language}"
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


def _checkpoint(name: str, spec: Mapping[str, Any], base: Path) -> Checkpoint:
    key = f"checkpoints.{name}"
    kinds = [kind for kind in ("hub", "path", "recipe") if kind in spec]
    if len(kinds) != 1:
        raise ConfigError(key, "expected exactly one of 'hub' (a hub id), 'path' (a local folder) or 'recipe' (one of "
                          + ", ".join(RECIPES) + ")")
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
    recipe = dict(spec["recipe"])
    if recipe.get("name") not in RECIPES:
        raise ConfigError(f"{key}.recipe.name", f"{recipe.get('name')!r} is not a known recipe; known: {', '.join(RECIPES)}")
    return Checkpoint(name, "recipe", recipe["name"], recipe=recipe, training=training)


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

    checkpoints = {}
    for checkpoint_name in spec["checkpoints"]:
        if checkpoint_name not in config.get("checkpoints", {}):
            raise ConfigError("experiment.checkpoints", f"unknown checkpoint {checkpoint_name!r}; defined: "
                              + ", ".join(config.get("checkpoints", {})))
        checkpoints[checkpoint_name] = _checkpoint(checkpoint_name, config["checkpoints"][checkpoint_name], base)
    return Experiment(
        dataset=dataset,
        checkpoints=checkpoints,
        train_languages=_languages(spec.get("train_languages"), dataset, "experiment.train_languages"),
        eval_languages=_languages(spec.get("eval_languages"), dataset, "experiment.eval_languages"),
        seeds=tuple(spec.get("seeds", [1])),
        training=dict(config.get("training", {})),
        work_dir=config.get("work_dir", "work"),
        results_dir=config.get("results_dir", "results"),
        keep_models=config.get("keep_models", True),
        save_state_every_seconds=config.get("save_state_every_seconds", 0.0),
    )


def canonical_json(data: Any) -> str:
    """A stable one-line JSON form, used as a rule parameter so that Snakemake sees real changes only."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"))
