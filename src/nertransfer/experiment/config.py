"""Loading and checking a config mapping into an Experiment (see `nertransfer.experiment.matrix`).

The shape of the config is checked against the schema shipped in this folder (`config.schema.yaml`,
which `workflow/schemas/` links to for readers of the workflow) by `check_schema`;
this module then checks what a schema cannot (languages that exist in the dataset, checkpoints
that are a hub id, an existing path or a known recipe, starts that do not loop, files that
exist) and resolves the matrix. Every problem is a ConfigError naming its key, raised before
any job starts.
"""

from __future__ import annotations

import copy
import functools
import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from nertransfer.experiment import axes
from nertransfer.experiment.checkpoints import KINDS, AdaptedCheckpoint, Checkpoint, check_placeholders
from nertransfer.experiment.errors import ConfigError
from nertransfer.experiment.layout import Layout
from nertransfer.experiment.matrix import BOOTSTRAP_RESAMPLES, DEFAULT_TYPES, Block, Cell, Dataset, Experiment


def _key(path) -> str:
    """`experiment.extra[0].seeds` from a JSON-schema error's path."""
    key = ""
    for part in path:
        key += f"[{part}]" if isinstance(part, int) else (f".{part}" if key else str(part))
    return key or "(top level)"


def _is_integer(checker, instance) -> bool:
    """JSON Schema's integer accepts 2.0; a training loop does not (`range(2.0)`), so neither do we."""
    return isinstance(instance, int) and not isinstance(instance, bool)


def _explain(error) -> str:
    """One line for a schema error: what is wrong and, where the schema says it, what is expected."""
    schema, value = error.schema, error.instance
    if error.validator == "additionalProperties":
        allowed = schema.get("properties", {})
        unexpected = ", ".join(repr(k) for k in value if k not in allowed)
        return f"{unexpected} was unexpected; allowed here: {', '.join(allowed)}"
    if error.validator == "uniqueItems":
        seen, twice = [], []
        for item in value:
            (twice if item in seen else seen).append(item)
        message = f"{twice[0]!r} is given more than once in {value}: give each value once"
    elif error.validator == "type":
        message = f"expected {'an' if error.validator_value == 'integer' else 'a'} {error.validator_value}, got {value!r}"
    elif error.validator == "oneOf" and all(set(option) == {"required"} for option in error.validator_value):
        names = [option["required"][0] for option in error.validator_value]
        given = [name for name in names if name in value] or ["none"]
        return f"expected exactly one of {', '.join(names)}; got {', '.join(given)}"
    else:
        message = error.message if len(error.message) < 200 else error.message[:200] + "..."
    described = next((e.schema["description"] for e in (error, *_parents(error)) if e.absolute_path == error.absolute_path
                      and isinstance(e.schema, dict) and e.schema.get("description")), None)
    return message + (f"; expected: {' '.join(described.split())}" if described else "")


def _parents(error):
    while error.parent is not None:
        error = error.parent
        yield error


@functools.cache
def schema() -> dict:
    """The config's JSON schema, read from the installed package (not from a path beside a checkout), with every
    setup axis's key added to `$defs/axes`, the experiment and each block (nertransfer.experiment.axes declares them)."""
    from importlib.resources import files

    import yaml

    shape = yaml.safe_load(files(__package__).joinpath("config.schema.yaml").read_text(encoding="utf-8"))
    declared = {axis.key: copy.deepcopy(dict(axis.schema)) for axis in axes.AXES}
    shape["$defs"]["axes"].update(declared)
    for properties in (shape["$defs"]["block"]["properties"], shape["properties"]["experiment"]["properties"]):
        properties.update({key: {"$ref": f"#/$defs/axes/{key}"} for key in declared})
    return shape


def check_schema(config: Mapping[str, Any], schema: Mapping[str, Any] | None = None) -> None:
    """Check the config's shape against the workflow's JSON schema; a ConfigError names the first problem.

    In place of `snakemake.utils.validate`, whose message dumps the schema and the config (hundreds
    of lines) after the one line that matters, and lets 2.0 pass as an integer.
    """
    from jsonschema import Draft202012Validator, validators
    from jsonschema.exceptions import best_match

    strict = validators.extend(
        Draft202012Validator, type_checker=Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_integer))
    error = best_match(strict(schema if schema is not None else globals()["schema"]()).iter_errors(config))
    if error is not None:
        raise ConfigError(_key(error.absolute_path), _explain(error))


class ConfigFileError(ValueError):
    """A config file that is not YAML, or that gives a key twice; the message starts with `path:line:column`.

    Apart from ConfigError because the place to fix is a spot in a file, not a key of the merged config.
    """

    def __init__(self, path: str | os.PathLike, line: int | None, column: int | None, message: str):
        self.path, self.line, self.column = str(path), line, column
        super().__init__(":".join([self.path, *(str(n) for n in (line, column) if n is not None)]) + f": {message}")


class _KeyTwice(Exception):
    """Raised by the loader at a key given twice: where (a PyYAML mark) and what."""

    def __init__(self, mark, message: str):
        super().__init__(message)
        self.mark = mark


@functools.cache
def _unique_key_loader() -> type:
    """A yaml.SafeLoader that refuses a key given twice in one mapping.

    PyYAML (and so Snakemake) keeps the last of two equal keys without a word: a second `training:`
    block lower in a file would silently replace the first. Merge keys (`<<:`) still override.
    """
    import yaml

    class UniqueKeyLoader(yaml.SafeLoader):
        def construct_mapping(self, node, deep=False):
            first: dict = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    earlier = first.setdefault(key, key_node)
                except TypeError:  # an unhashable key: the base class says why
                    continue
                if earlier is not key_node:
                    raise _KeyTwice(key_node.start_mark, f"key {key!r} is given twice in one mapping (first on line "
                                    f"{earlier.start_mark.line + 1}): expected each key once (YAML would keep the last)")
            return super().construct_mapping(node, deep)

    return UniqueKeyLoader


def load_yaml(path: str | Path) -> dict:
    """A config file's mapping; a file that is missing, not UTF-8, not YAML or not a mapping, or that
    gives a key twice, is a one-line ConfigFileError naming the file, line and column, not a traceback."""
    import yaml

    path = Path(path)
    try:
        data = path.read_bytes()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as error:
        raise ConfigFileError(path, None, None, f"{error.strerror}: expected a YAML config file") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise ConfigFileError(path, line, None, f"not valid UTF-8 ({error.reason}): expected a YAML config file") from None
    try:
        content = yaml.load(text, Loader=_unique_key_loader())
    except _KeyTwice as error:
        raise ConfigFileError(path, error.mark.line + 1, error.mark.column + 1, str(error)) from None
    except yaml.MarkedYAMLError as error:
        raise ConfigFileError(path, *_yaml_place(error), _yaml_problem(error)) from None
    except yaml.YAMLError as error:
        raise ConfigFileError(path, None, None, f"not valid YAML: {' '.join(str(error).split())}") from None
    if content is not None and not isinstance(content, dict):
        raise ConfigFileError(path, None, None, f"expected a mapping of config keys (`key: value` lines), "
                              f"got a {type(content).__name__}")
    return content or {}


def _yaml_place(error) -> tuple[int | None, int | None]:
    """1-based line and column of a YAML error (PyYAML counts from 0)."""
    mark = error.problem_mark or error.context_mark
    return (mark.line + 1, mark.column + 1) if mark else (None, None)


def _yaml_problem(error) -> str:
    """One line of what is wrong, with the hint a tab needs: YAML indents with spaces only."""
    problem = " ".join(str(error.problem or error.context).split())
    context = f" ({error.context})" if error.context and error.problem else ""
    tab = "; YAML indents with spaces: replace the tab" if "'\\t'" in problem else ""
    return f"not valid YAML: {problem}{context}{tab}"


def merged(base: dict, update: Mapping[str, Any]) -> dict:
    """`update` merged into `base` the way Snakemake merges a --configfile over the default: nested mappings key by key."""
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            merged(base[key], value)
        else:
            base[key] = value
    return base


def config_files(workflow_dir: str | Path, configfiles: Iterable[str | Path] = ()) -> list[tuple[str, dict]]:
    """(path, mapping) of the workflow's default config and each of `configfiles`, in merge order (see `load_yaml`)."""
    return [(str(path), load_yaml(path)) for path in [Path(workflow_dir) / "config" / "config.yaml", *map(Path, configfiles)]]


def merged_files(files: Iterable[tuple[str, Mapping[str, Any]]]) -> dict:
    """The config files' mappings merged in order, as `snakemake --configfile` does; the mappings are left as they were."""
    config: dict = {}
    for _, content in files:
        merged(config, copy.deepcopy(dict(content)))
    return config


def read_config(workflow_dir: str | Path, configfiles: Iterable[str | Path] = ()) -> dict:
    """The workflow's default config with `configfiles` merged over it, in order, as `snakemake --configfile` does."""
    return merged_files(config_files(workflow_dir, configfiles))


def shadowed_training(files: Sequence[tuple[str, Mapping[str, Any]]]) -> list[str]:
    """One line per top-level `training.<key>` a config file sets that an earlier file's
    `checkpoints.<name>.training.<key>` overrides for a checkpoint the experiment trains from.

    A checkpoint's own training settings win over the top-level ones (Experiment.hyperparameters),
    so `training: {epochs: 2}` in a --configfile changes nothing for the default config's `tiny`
    (which sets `epochs: 10`). The precedence stays; these lines make it visible. `files` are
    (path, mapping) in merge order, default first (see `config_files`).
    """
    config = merged_files(files)
    lines = []
    for key, value in _mapping(config.get("training")).items():
        top = _last_setter(files, ("training", key))
        for name in _trained_from(config):
            path = ("checkpoints", name, "training", key)
            own = _mapping(_mapping(_mapping(config.get("checkpoints")).get(name)).get("training"))
            if key not in own or own[key] == value or _last_setter(files, path) >= top:
                continue  # no override, the same value, or one written as late as the top-level value: on purpose
            lines.append(f"{files[top][0]} sets training.{key}: {json.dumps(value)}, but checkpoints.{name}.training.{key}: "
                         f"{json.dumps(own[key])} ({files[_last_setter(files, path)][0]}) wins for the cells of checkpoint "
                         f"{name!r}; set it there to change them")
    return lines


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


_UNSET = object()


def _last_setter(files: Sequence[tuple[str, Mapping[str, Any]]], path: tuple[str, ...]) -> int:
    """The index of the last file that sets the value at `path` (-1 if none)."""
    found = -1
    for index, (_, content) in enumerate(files):
        node: Any = content
        for part in path:
            node = _mapping(node).get(part, _UNSET)
        if node is not _UNSET:
            found = index
    return found



def _trained_from(config: Mapping[str, Any]) -> list[str]:
    """The checkpoints the experiment's blocks list (every defined one if the experiment lists none)."""
    experiment = _mapping(config.get("experiment"))
    names = list(experiment.get("checkpoints") or [])
    for extra in experiment.get("extra") or []:
        names += _mapping(extra).get("checkpoints") or []
    return list(dict.fromkeys(names)) or list(_mapping(config.get("checkpoints")))


def _languages(value: Any, dataset: Dataset, key: str) -> tuple[str, ...]:
    if value in (None, "all"):
        return tuple(dataset.languages)
    unknown = [language for language in value if language not in dataset.languages]
    if unknown:
        raise ConfigError(
            key, f"unknown language(s) {', '.join(map(repr, unknown))}; "
                 f"dataset '{dataset.name}' has {', '.join(dataset.languages)}"
        )
    return tuple(value)


def _checkpoint(name: str, spec: Mapping[str, Any], base: Path) -> Checkpoint:
    """A checkpoint of the kind its one kind key names (the schema allows exactly one), checked as its kind checks."""
    kind = next(key for key in KINDS if key in spec)
    if "revision" in spec and kind != "hub":
        raise ConfigError(f"checkpoints.{name}.revision", f"a revision pins a hub checkpoint; this one is a {kind!r} checkpoint")
    return KINDS[kind].from_config(name, spec[kind], spec, base)


def _train_sets(spec: Mapping[str, Any], dataset: Dataset, eval_languages: tuple[str, ...]
                ) -> tuple[dict[str, tuple[str, ...]], dict[str, str], dict[str, tuple[str, ...]]]:
    """The training sets (name -> languages, in the dataset's order), the leave-one-out sets' held-out languages,
    and each leave-one-out family's sets (`all-but: {leave_one_out: all}` -> all-but-amh, all-but-hau, ...: one per
    evaluation language of its pool, which trains on the rest of the pool)."""
    sets: dict[str, tuple[str, ...]] = {}
    held_out: dict[str, str] = {}
    families: dict[str, tuple[str, ...]] = {}

    def free(name: str, key: str) -> None:
        if name in dataset.languages or name == "all":
            raise ConfigError(key, f"{name!r} is a language of dataset '{dataset.name}'" if name != "all" else
                              "'all' is reserved for every language of the dataset; choose another name")

    def add(name: str, languages: Iterable[str], key: str) -> None:
        free(name, key)
        if name in sets:
            raise ConfigError(key, f"the training set {name!r} is defined twice (a leave-one-out family names its sets "
                              "<family>-<held-out language>); choose another name")
        sets[name] = tuple(language for language in dataset.languages if language in set(languages))

    for name, value in spec.items():
        key = f"train_sets.{name}"
        if isinstance(value, Mapping):
            pool = _languages(value["leave_one_out"], dataset, f"{key}.leave_one_out")
            held = [language for language in eval_languages if language in pool]
            if len(pool) < 3 or not held:
                raise ConfigError(f"{key}.leave_one_out", f"expected at least 3 languages, one of them an evaluation "
                                  f"language (each set leaves out one and trains on the rest); got {', '.join(pool)}")
            free(name, key)  # a family's name stands for its sets in train_languages
            families[name] = tuple(f"{name}-{language}" for language in held)
            for language in held:
                add(f"{name}-{language}", [other for other in pool if other != language], key)
                held_out[f"{name}-{language}"] = language
        else:
            add(name, _languages(value, dataset, key), key)
    return sets, held_out, families


def _training_languages(value: Any, dataset: Dataset, sets: Mapping[str, tuple], families: Mapping[str, tuple],
                        key: str) -> tuple[str, ...]:
    """A block's training languages: languages of the dataset ("all": every one), training sets, and leave-one-out
    families (each stands for its sets)."""
    if value in (None, "all"):
        return tuple(dataset.languages)
    unknown = [name for name in value if name not in dataset.languages and name not in sets and name not in families]
    if unknown:
        defined = [*sets, *families]
        raise ConfigError(key, f"unknown language(s) {', '.join(map(repr, unknown))} (nor training sets); dataset "
                          f"'{dataset.name}' has {', '.join(dataset.languages)}"
                          + (f"; train_sets defines {', '.join(defined)}" if defined else ""))
    return tuple(dict.fromkeys(member for name in value for member in families.get(name, (name,))))


def _checkpoints(names: list[str], config: Mapping[str, Any], dataset: Dataset, base: Path, key: str,
                 train_sets: Mapping[str, tuple] = {}) -> dict[str, Checkpoint]:
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
        if checkpoint.source is not None:
            pending.append((checkpoint.source, f"checkpoints.{name}.{checkpoint.key}.checkpoint"))
        for language in filter(None, [getattr(checkpoint, "language", None)]):  # a sequential start's language or set
            if language not in train_sets:
                _languages([language], dataset, f"checkpoints.{name}.{checkpoint.key}.language")
    for checkpoint in resolved.values():
        chain, current = [checkpoint.name], checkpoint
        while current.source is not None:
            current = resolved[current.source]
            if current.name in chain:
                raise ConfigError(f"checkpoints.{checkpoint.name}", "starts from itself: " + " -> ".join([*chain, current.name]))
            chain.append(current.name)
        start = resolved[checkpoint.source] if checkpoint.source is not None else None
        if checkpoint.per_language and start is not None and (start.per_language or start.per_seed):
            raise ConfigError(f"checkpoints.{checkpoint.name}.{checkpoint.key}.checkpoint",
                              f"{checkpoint.source!r} differs per language or per seed; adapt a single checkpoint")
        if getattr(checkpoint, "language", None) in train_sets and start is not None and start.per_language:
            raise ConfigError(f"checkpoints.{checkpoint.name}.{checkpoint.key}.language",
                              f"{checkpoint.language!r} is a training set, and {start.name!r} has a checkpoint per "
                              "language: which one would the set's fine-tune start from? Start it from a single checkpoint")
    return resolved


def _block(spec: Mapping[str, Any], defaults: Mapping[str, Any], *, dataset: Dataset, label_sets, key: str,
           checkpoints: Mapping[str, "Checkpoint"], train_sets: Mapping[str, tuple] = {},
           families: Mapping[str, tuple] = {}) -> Block:
    merged = {**defaults, **spec}
    train_languages = _training_languages(merged.get("train_languages"), dataset, train_sets, families,
                                          f"{key}.train_languages")
    per_language = [name for name in merged["checkpoints"] if name in checkpoints and checkpoints[name].per_language]
    trained_sets = [name for name in train_languages if name in train_sets]
    if per_language and trained_sets and merged.get("checkpoint_languages", "same") == "same":
        raise ConfigError(f"{key}.train_languages", f"{trained_sets[0]!r} is a training set, and {per_language[0]!r} has "
                          "a checkpoint per language: give checkpoint_languages (whose checkpoint its cells start "
                          "from), or train the set from a single checkpoint")
    crossed = merged.get("checkpoint_languages", "same")
    unknown = [name for name in merged.get("label_sets", []) if name != "all" and name not in label_sets]
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
        train_languages=train_languages,
        seeds=tuple(merged.get("seeds", [1])),
        checkpoint_languages=crossed_languages,
        setup={axis.name: axis.values(merged[axis.key]) for axis in axes.AXES if axis.key in merged},
    )


def _resolve_data(experiment: Experiment, base: Path, workflow_dir: Path | None) -> Experiment:
    """The dataset's path pattern, resolved: relative to the working directory (`base`) if its files
    are there, else to the workflow's folder, where the shipped `data/` is (so `snakemake -s
    <clone>/Snakefile` run elsewhere still finds it). Every file the experiment reads must exist
    before any job starts; a missing one is named, with where it was looked for.
    """
    dataset, key = experiment.dataset, f"datasets.{experiment.dataset.name}.path"
    check_placeholders(dataset.path, {"language", "split"}, key)
    needed = experiment.data_needed()
    roots = [base] if Path(dataset.path).is_absolute() or workflow_dir is None else [base, Path(workflow_dir)]
    for root in roots:
        missing = [(language, split) for language, split in needed if not (root / dataset.file(language, split)).is_file()]
        if not missing:
            pattern = dataset.path if root == base else str(root.resolve() / dataset.path)
            return replace(experiment, dataset=replace(dataset, path=pattern))
        if root == roots[0]:
            first_missing = missing[0]
    language, split = first_missing
    places = " nor in ".join(f"'{root.resolve()}'" for root in roots)
    raise ConfigError(key, f"{dataset.file(language, split)!r} ({split} set of {language!r}, needed by "
                      f"{needed[(language, split)]}) is neither in {places}" if len(roots) > 1 else
                      f"{dataset.file(language, split)!r} ({split} set of {language!r}, needed by "
                      f"{needed[(language, split)]}) does not exist in '{roots[0].resolve()}'")


def load_experiment(config: Mapping[str, Any], base: str | Path = ".", workflow_dir: str | Path | None = None) -> Experiment:
    """Resolve a (schema-valid) config mapping into an Experiment, checking cross-references and data files.

    `base`: the working directory, which relative paths are read from; `workflow_dir`: where
    relative dataset paths are looked for when the working directory lacks them.
    """
    base = Path(base)
    spec = config["experiment"]
    dataset = _dataset(config, spec["dataset"])
    label_sets = _label_sets(config.get("label_sets") or {}, dataset)
    eval_languages = _languages(spec.get("eval_languages"), dataset, "experiment.eval_languages")
    train_sets, held_out, families = _train_sets(config.get("train_sets") or {}, dataset, eval_languages)
    first = {k: v for k, v in spec.items() if k not in ("dataset", "eval_languages", "extra")}
    extras = spec.get("extra", [])
    names = list(dict.fromkeys([*first["checkpoints"], *(n for extra in extras for n in extra.get("checkpoints", []))]))
    names += [method["madx"]["language_adapters"] for block in (first, *extras) for method in block.get("methods", [])
              if isinstance(method, Mapping) and "madx" in method]  # MAD-X's language adapters are made like starts
    checkpoints = _checkpoints(names, config, dataset, base, "experiment.checkpoints", train_sets)
    context = dict(dataset=dataset, label_sets=label_sets, checkpoints=checkpoints, train_sets=train_sets,
                   families=families)
    blocks = [_block(first, {}, key="experiment", **context)]
    blocks += [_block(extra, first, key=f"experiment.extra[{i}]", **context) for i, extra in enumerate(extras)]
    analyses = _analyses(config)
    work_dir, results_dir = _folder(config, "work_dir", "work"), _folder(config, "results_dir", "results")
    if os.path.normpath(work_dir) == os.path.normpath(results_dir):
        raise ConfigError("results_dir", f"{results_dir!r} is also the work_dir: tables and work need folders of their own")
    experiment = Experiment(
        dataset=dataset,
        checkpoints=checkpoints,
        blocks=tuple(blocks),
        eval_languages=eval_languages,
        training=dict(config.get("training", {})),
        layout=Layout(work_dir, results_dir),
        keep_models=config.get("keep_models", True),
        save_state_every_seconds=config.get("save_state_every_seconds", 0.0),
        label_sets=label_sets,
        table_std=(config.get("tables") or {}).get("std", "sample"),
        train_sets=train_sets,
        held_out=held_out,
    )
    cells = experiment.cells()  # worked out once for the checks below
    _check_methods(experiment, cells, dataset)
    effects, notes = _effects_of_trained(analyses, {cell.checkpoint for cell in cells})
    for i, block in enumerate(experiment.blocks):  # an axis only sets take, given to a block without one
        if "sampling_alpha" in block.setup and all(len(experiment.languages_of(name)) == 1 for name in block.train_languages):
            key = "experiment" if i == 0 else f"experiment.extra[{i - 1}]"
            notes.append(f"config key '{key}.sampling_alpha': this block trains no training set, and a single language "
                         "ignores language sampling: it adds no cells")
    _check_windows_fit(experiment, cells)
    experiment = _resolve_data(experiment, base, workflow_dir)
    return replace(experiment, analyses={**analyses, "checkpoint_effects": effects}, notes=tuple(notes))


def _dataset(config: Mapping[str, Any], name: str) -> Dataset:
    if name not in config["datasets"]:
        raise ConfigError("experiment.dataset", f"unknown dataset {name!r}; configured: {', '.join(config['datasets'])}")
    raw = config["datasets"][name]
    languages = raw["languages"]
    if isinstance(languages, list):
        languages = {language: language for language in languages}
    return Dataset(name, raw["path"], dict(languages), tuple(raw.get("types", DEFAULT_TYPES)))


def _label_sets(spec: Mapping[str, Any], dataset: Dataset) -> dict[str, tuple[str, ...]]:
    label_sets = {}
    for set_name, types in spec.items():
        if set_name == "all":
            raise ConfigError("label_sets.all", "'all' is reserved for every type of the dataset; choose another name")
        unknown = [t for t in types if t not in dataset.types]
        if unknown:
            raise ConfigError(f"label_sets.{set_name}", f"unknown type(s) {', '.join(unknown)}; dataset '{dataset.name}' "
                              f"has {', '.join(dataset.types)}")
        label_sets[set_name] = tuple(t for t in dataset.types if t in types)  # the dataset's order
    return label_sets


def _analyses(config: Mapping[str, Any]) -> dict[str, Any]:
    analyses = {"bootstrap_resamples": BOOTSTRAP_RESAMPLES, **(config.get("analyses") or {})}
    for i, pair in enumerate(analyses.get("checkpoint_effects", [])):
        if pair["checkpoint"] == pair["baseline"]:
            raise ConfigError(f"analyses.checkpoint_effects[{i}]", f"compares {pair['checkpoint']!r} with itself")
        for role in ("checkpoint", "baseline"):
            if pair[role] not in config.get("checkpoints", {}):
                raise ConfigError(f"analyses.checkpoint_effects[{i}].{role}",
                                  f"unknown checkpoint {pair[role]!r}; defined: " + ", ".join(config.get("checkpoints", {})))
    return analyses


def _effects_of_trained(analyses: Mapping[str, Any], trained: set[str]) -> tuple[list[dict], list[str]]:
    """The checkpoint-effect pairs each of whose checkpoints some cell is trained from, and a note for each pair
    left out.

    A pair naming a checkpoint no cell is trained from has nothing to compare. It is most often the
    default config's pair inherited by a --configfile that trains other checkpoints, so it is left
    out rather than refused; but it is said (the run prints the notes), since dropping it without a
    word left the user looking for tables that never came.
    """
    kept, notes = [], []
    for i, pair in enumerate(analyses.get("checkpoint_effects", [])):
        missing = [role for role in ("checkpoint", "baseline") if pair[role] not in trained]
        if not missing:
            kept.append(dict(pair))
            continue
        notes.append(f"config key 'analyses.checkpoint_effects[{i}]': {pair['checkpoint']} vs {pair['baseline']} is left "
                     f"out: no cell is trained from {pair[missing[0]]!r} (trained: {', '.join(sorted(trained))}); list it "
                     "in experiment.checkpoints to have it, or `checkpoint_effects: []` to silence this")
    return kept, notes


def _folder(config: Mapping[str, Any], key: str, default: str) -> str:
    """`work_dir` or `results_dir`; an empty one (or `/`) would put every output at the filesystem root."""
    folder = config.get(key, default)
    if not folder or (os.path.isabs(folder) and not os.path.normpath(folder).strip("/")):
        raise ConfigError(key, f"{folder!r} would put outputs at the filesystem root: "
                          f"expected a folder, such as the default {default!r}")
    return folder


def _check_methods(experiment: Experiment, cells: Sequence[Cell], dataset: Dataset) -> None:
    """Language adapters are used through MAD-X only, and a MAD-X cell's adapters are of its own start, for a language."""
    for checkpoint in experiment.checkpoints.values():
        if isinstance(checkpoint, AdaptedCheckpoint) and checkpoint.languages != "all":
            _languages(checkpoint.languages, dataset, f"checkpoints.{checkpoint.name}.adapt.languages")
    for cell in cells:
        checkpoint = experiment.checkpoints[cell.checkpoint]
        if isinstance(checkpoint, AdaptedCheckpoint) and checkpoint.language_adapters:
            raise ConfigError("experiment.checkpoints", f"{cell.checkpoint!r} makes LoRA language adapters, not models to "
                              f"fine-tune (cell {cell.id}); use it as `methods: [{{madx: {{language_adapters: "
                              f"{cell.checkpoint}}}}}]` on the checkpoint it adapts")
        name = axes.language_adapters_of(cell.method)
        if name is None:
            continue
        adapters = experiment.checkpoints[name]
        key = f"methods: madx.language_adapters {name!r}"
        if not isinstance(adapters, AdaptedCheckpoint) or not adapters.language_adapters:
            raise ConfigError("experiment.methods", f"{key} is not an adapt checkpoint with `lora:` (language adapters)")
        if adapters.start != cell.checkpoint:
            raise ConfigError("experiment.methods", f"{key} adapts {adapters.start!r}, but cell {cell.id} starts from "
                              f"{cell.checkpoint!r}: a language adapter works on the model it was trained on")
        if len(experiment.languages_of(cell.train_language)) > 1 or not adapters.has_adapter(cell.train_language):
            raise ConfigError("experiment.methods", f"cell {cell.id}: MAD-X trains its task adapter over the training "
                              f"language's adapter, and {name!r} has none for {cell.train_language!r}")


def _check_windows_fit(experiment: Experiment, cells: Sequence[Cell]) -> None:
    """A model built here has a known number of subword positions; a longer max_length fails at the first long window."""
    for cell in cells:
        root = experiment.root_checkpoint(cell.checkpoint)
        positions = root.max_positions()
        if positions is None:
            continue  # a hub model or folder: checked when its config is read (nertransfer.model.train)
        max_length = experiment.hyperparameters(cell)["max_length"]
        if max_length > positions:
            raise ConfigError("training.max_length", f"{max_length} is more than the {positions} subword positions of "
                              f"checkpoint {root.name!r} (cell {cell.id}); lower it or raise its recipe's max_positions")
