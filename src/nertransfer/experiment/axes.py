"""The setup axes of the matrix, each declared once: every axis beyond checkpoint x language x seed.

A declaration (`Axis`) holds everything the rest of the package knows about an axis:

- its config key in a block of the experiment (`label_sets: [...]`) and the JSON schema of that
  key, which `nertransfer.experiment.config.schema()` adds to the `experiment` and every
  `experiment.extra` block;
- its default: what a block that does not name the axis gets;
- how a value enters the cell id (`label`: its part of the setup path component, `labels-no-date`)
  and the records and tables (`column`: the value as written in every record and in cells.csv);
- how training applies it (`training`: the settings of the fine-tune it sets, which
  `nertransfer.model.train.TrainingSettings` reads);
- whether a sequential start is fine-tuned with it too (`shared_with_start`);
- whether it means anything for a cell trained on one language (`multi_source_only`: a cell trained on one
  language keeps the default, so the axis adds no cells there).

Everything else is derived: the cells and their ids (`nertransfer.experiment.matrix`), the schema,
the records' fields and the tables' columns (`COLUMNS`, `record_axes`, `row_key`).

An axis at its default leaves every trace of itself out: no part of the cell id, no key in the
cell's settings or its recorded axes, no row-key part, no column of cells.csv. So adding an axis,
or a value of it, adds only new cells: every existing cell keeps its id, its job parameters (so
Snakemake reruns none of them) and its records. The first four axes are the exception that proves
the rule: they were written into every record from the start (`recorded_at_default`), and still are.

Adding an axis is one `Axis(...)` in `AXES` below; if training must apply a setting that does not
exist yet, that setting in TrainingSettings. README.md, "Adding an axis", walks through `dropout`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, Callable, Mapping

# Hyperparameters a grid may search over, and the short names they take in a cell id.
GRID_KEYS = {"learning_rate": "lr", "batch_size": "bs", "epochs": "ep", "weight_decay": "wd", "warmup_ratio": "wu"}
DEFAULT = "default"  # the column value of an axis whose default is "nothing set" (grid point, dropout)
START_COLUMN = "checkpoint_language"  # whose language's checkpoint a cell starts from: part of the start, not the setup


def _list_of(item: Mapping[str, Any], description: str) -> dict[str, Any]:
    """The schema of a list-valued axis: one value or more, each once."""
    return {"type": "array", "minItems": 1, "uniqueItems": True, "items": dict(item), "description": description}


def _each(values: Any) -> tuple:
    return tuple(values)


@dataclass(frozen=True)
class Axis:
    """One setup axis: a list of values in a block of the config, crossed with every other axis."""

    name: str  # the cell's attribute, and the field of records and the column of tables
    key: str  # the block's config key
    schema: Mapping[str, Any]  # the JSON schema of the config key's value
    default: Any  # the value of a block that does not name the axis
    label: Callable[[Any], str]  # an off-default value's part of the cell id's setup component
    column: Callable[[Any], str] = str  # the value in records and tables (the default's too)
    training: Callable[[Any], Mapping[str, Any]] = lambda value: {}  # fine-tune settings an off-default value sets
    values: Callable[[Any], tuple] = _each  # the config key's value -> the axis's values (a grid: its points)
    recorded_at_default: bool = False  # written into every record, also at the default (the first axes only)
    shared_with_start: bool = False  # a sequential start is fine-tuned with the same value
    multi_source_only: bool = False  # only a cell trained on a set of languages takes it (language sampling)

    @property
    def column_default(self) -> str:
        return self.column(self.default)


def _train_size(value: Any) -> str:
    """100 -> "100", 0.25 -> "0.25": as the cell id spells it."""
    return value if value == "full" else str(value)


def _train_size_setting(value: str) -> dict[str, Any]:
    size = float(value)  # "100", "0.25", "5e-05"
    return {"train_size": int(size) if size >= 1 else size}


def _grid_points(grid: Mapping[str, list]) -> tuple[tuple[tuple[str, Any], ...], ...]:
    """Every combination of the grid's values, as (key, value) pairs in GRID_KEYS order."""
    names = [name for name in GRID_KEYS if name in grid]
    return tuple(tuple(zip(names, values, strict=True)) for values in itertools.product(*(grid[name] for name in names)))


def _grid_label(point: tuple[tuple[str, Any], ...]) -> str:
    return "_".join(f"{GRID_KEYS[key]}{value}" for key, value in point) or DEFAULT


_POSITIVE = {"type": "number", "exclusiveMinimum": 0}

FULL = "full"  # the method axis's default: every weight fine-tuned
LORA, MADX = "lora", "madx"  # a LoRA adapter; a MAD-X task adapter over the training language's language adapter
# LoRA (Hu et al., 2021) through peft: what a `{lora: {}}` method leaves out. target_modules absent: peft's own
# choice for the architecture (query and value for BERT and XLM-R).
LORA_DEFAULTS = {"rank": 8, "alpha": 16, "dropout": 0.1}
_LORA_SHORT = {"rank": "r", "alpha": "a", "dropout": "d", "target_modules": "t"}
_LORA_SCHEMA = {
    "rank": {"type": "integer", "minimum": 1},
    "alpha": {"type": "number", "exclusiveMinimum": 0},
    "dropout": {"type": "number", "minimum": 0, "exclusiveMaximum": 1},
    "target_modules": {"type": "array", "minItems": 1, "uniqueItems": True, "items": {"type": "string", "minLength": 1}},
}


def _method(spec: Any) -> Any:
    """A method as the config gives it -> the axis value: "full", or ("lora" or "madx", sorted (setting, value) pairs
    with the defaults filled in), so that two spellings of one method are one cell. A MAD-X task adapter is a LoRA
    adapter too, trained on top of the language adapters its `language_adapters` checkpoint names."""
    if spec == FULL:
        return FULL
    ((kind, settings),) = spec.items()
    filled = {**LORA_DEFAULTS, **(settings or {})}
    if "target_modules" in filled:
        filled["target_modules"] = tuple(sorted(filled["target_modules"]))  # a set of module names
    return kind, tuple(sorted(filled.items()))


def _method_label(value: Any) -> str:
    """`lora`, or `lora-r16-a32`: the settings off their defaults, in a fixed order."""
    if value == FULL:
        return FULL
    kind, settings = value
    settings = dict(settings)
    if kind == MADX:
        kind = f"{kind}-{settings['language_adapters']}"
    changed = [f"{short}{'.'.join(settings[key]) if isinstance(settings[key], tuple) else settings[key]}"
               for key, short in _LORA_SHORT.items() if key in settings and LORA_DEFAULTS.get(key) != settings[key]]
    return "-".join([kind, *changed])


def language_adapters_of(method: Any) -> str | None:
    """The adapt checkpoint whose language adapters a MAD-X method trains over; None for another method."""
    if method == FULL or method[0] != MADX:
        return None
    return dict(method[1])["language_adapters"]


def _method_training(value: Any) -> dict[str, Any]:
    kind, settings = value
    return {"adapter": {"method": kind, **{key: list(v) if isinstance(v, tuple) else v for key, v in settings}}}

AXES: tuple[Axis, ...] = (
    Axis(
        name="label_set", key="label_sets", default="all",
        schema=_list_of({"$ref": "#/$defs/name"},
                        'names from the top-level label_sets, or "all" (every type of the dataset)'),
        label=lambda name: f"labels-{name}",
        recorded_at_default=True, shared_with_start=True,  # the start must know the types this cell is trained on
    ),
    Axis(
        name="train_size", key="train_sizes", default="full",
        schema=_list_of({"description": "'full', a number of sentences (>= 1) or a fraction (0 < f < 1)",
                         "oneOf": [{"const": "full"}, {"type": "integer", "minimum": 1},
                                   {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1}]},
                        "first k sentences of a seed-dependent shuffle of the training set, or a fraction of it"),
        label=lambda size: f"size-{size}", values=lambda sizes: tuple(map(_train_size, sizes)),
        training=_train_size_setting, recorded_at_default=True,
    ),
    Axis(
        name="grid_point", key="grid", default=(),
        schema={"type": "object", "additionalProperties": False, "minProperties": 1,
                "description": "hyperparameter search; every combination is a cell, for every seed",
                "properties": {
                    "learning_rate": _list_of(_POSITIVE, "learning rates"),
                    "batch_size": _list_of({"type": "integer", "minimum": 1}, "batch sizes"),
                    "epochs": _list_of({"type": "integer", "minimum": 1}, "numbers of epochs"),
                    "weight_decay": _list_of({"type": "number", "minimum": 0}, "weight decays"),
                    "warmup_ratio": _list_of({"type": "number", "minimum": 0, "maximum": 1}, "warm-up ratios"),
                }},
        label=_grid_label, column=_grid_label, values=_grid_points, training=dict, recorded_at_default=True,
    ),
    Axis(
        name="dropout", key="dropout", default=None,
        schema=_list_of({"type": "number", "minimum": 0, "exclusiveMaximum": 1},
                        "hidden and attention dropout of the fine-tune (default: the checkpoint's own, 0.1 for XLM-R)"),
        label=lambda p: f"dropout{p}", column=lambda p: DEFAULT if p is None else str(p),
        training=lambda p: {"dropout": p},
    ),
    Axis(
        name="method", key="methods", default=FULL,
        schema=_list_of({"description": "full (every weight, the default), {lora: {rank, alpha, dropout, target_modules}} "
                                        "or {madx: {language_adapters, rank, alpha, dropout, target_modules}}",
                         "oneOf": [{"const": FULL},
                                   {"type": "object", "additionalProperties": False, "required": [LORA],
                                    "properties": {LORA: {"type": ["object", "null"], "additionalProperties": False,
                                                          "properties": _LORA_SCHEMA}}},
                                   {"type": "object", "additionalProperties": False, "required": [MADX],
                                    "properties": {MADX: {
                                        "type": "object", "additionalProperties": False, "required": ["language_adapters"],
                                        "properties": {**_LORA_SCHEMA, "language_adapters": {
                                            "$ref": "#/$defs/name",
                                            "description": "an adapt checkpoint with `lora:`: a language adapter each"}}}}}]},
                        "how a cell fine-tunes: every weight (full), a LoRA adapter through peft "
                        f"(defaults {LORA_DEFAULTS}, target modules: peft's for the architecture), or MAD-X: a LoRA task "
                        "adapter trained over the training language's language adapter, evaluated over each language's"),
        label=_method_label, column=_method_label, values=lambda methods: tuple(map(_method, methods)),
        training=_method_training,
    ),
    Axis(
        name="sampling_alpha", key="sampling_alpha", default=None,
        schema=_list_of({"type": "number", "exclusiveMinimum": 0, "maximum": 1},
                        "temperature-based language sampling of a training set: each epoch draws a language's "
                        "sentences in proportion to its size ** alpha (1: the sizes' proportions; towards 0: equal); "
                        "default: plain concatenation; a cell trained on one language ignores it"),
        label=lambda alpha: f"alpha{alpha}", column=lambda alpha: DEFAULT if alpha is None else str(alpha),
        training=lambda alpha: {"sampling_alpha": alpha}, multi_source_only=True,
    ),
)
BY_NAME = {axis.name: axis for axis in AXES}
BY_KEY = {axis.key: axis for axis in AXES}

# The records' and tables' columns beyond checkpoint, training language and seed, with their default values.
COLUMNS = {START_COLUMN: "", **{axis.name: axis.column_default for axis in AXES}}
ALWAYS_RECORDED = (START_COLUMN, *(axis.name for axis in AXES if axis.recorded_at_default))


def setup_label(values: Mapping[str, Any]) -> str:
    """The cell id's setup component: the off-default values' labels in AXES order, "base" if none."""
    return "+".join(axis.label(values[axis.name]) for axis in AXES if axis.name in values) or "base"


def recorded(values: Mapping[str, Any]) -> dict[str, str]:
    """A cell's setup as its records carry it: the first axes always, any other only off its default."""
    return {axis.name: axis.column(values.get(axis.name, axis.default)) for axis in AXES
            if axis.recorded_at_default or axis.name in values}


def record_axes(record: Mapping[str, Any]) -> dict:
    """A metrics or train_config record's cell axes, every column filled (an absent one is at its default: records
    written before the axis existed, or of a cell at its default), a checkpoint of the training language not crossed."""
    axes = {key: record[key] for key in ["checkpoint", "train_language", "seed"]}
    axes.update({key: str(record.get(key, default)) for key, default in COLUMNS.items()})
    if axes[START_COLUMN] == axes["train_language"]:
        axes[START_COLUMN] = ""
    return axes


def row_key(axes: Mapping[str, Any]) -> str:
    """A table row's identity: every axis of a record but the seed (`tiny/hau//all/full/default`); an axis that is
    not always recorded adds `/name=value` only off its default, so that adding it changes no existing key."""
    parts = [str(axes[key]) for key in ["checkpoint", "train_language", *ALWAYS_RECORDED]]
    parts += [f"{name}={axes[name]}" for name, default in COLUMNS.items()
              if name not in ALWAYS_RECORDED and str(axes.get(name, default)) != default]
    return "/".join(parts)

