"""Loading and checking a config mapping into an Experiment (see `nertransfer.experiment`).

The shape of the config is checked against `workflow/schemas/config.schema.yaml` (`check_schema`);
this module then checks what a schema cannot (languages that exist in the dataset, checkpoints
that are a hub id, an existing path or a known recipe, starts that do not loop, files that
exist) and resolves the matrix. Every problem is a ConfigError naming its key, raised before
any job starts.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import replace
from pathlib import Path
from typing import Any, Mapping

from .experiment import (DEFAULT_TYPES, GRID_KEYS, RECIPES, Block, Checkpoint, Dataset, Experiment,
                         canonical_json)  # noqa: F401  canonical_json: the rules take it from here

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.{}-]+$")


class ConfigError(ValueError):
    """A config that names something that does not exist; the message starts with the key."""

    def __init__(self, key: str, message: str):
        super().__init__(f"config key '{key}': {message}")


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


