# Check the config once and expand the matrix; every other rule file reads EXP, CELLS and L (paths).
import os
import re
import shlex
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError

from nertransfer.experiment import layout
from nertransfer.experiment.axes import FULL, language_adapters_of
from nertransfer.experiment.config import (
    ConfigError,
    ConfigFileError,
    check_schema,
    config_files,
    load_experiment,
    shadowed_training,
)
from nertransfer.data.conll import ConllError
from nertransfer.experiment.matrix import DEFAULT_TYPES, canonical_json
from nertransfer.data.fingerprints import check_experiment_data
from nertransfer.analysis.records import set_aside_damaged
from nertransfer.model.hub import HubError, check as check_hub, described
from nertransfer.runtime.job_processes import handle_interrupts
from nertransfer.runtime.warm import WarmServer

# The schema is checked by nertransfer.experiment.config rather than snakemake.utils.validate: one line naming
# the key, and integers that are integers (validate lets `epochs: 2.0` through).
try:
    # Snakemake has read the config files already; read again, a key given twice is refused (file, line, key)
    CONFIG_FILES = config_files(workflow.basedir, workflow.overwrite_configfiles)
    check_schema(config)  # the schema of the installed package (workflow/schemas/ links to it)
    EXP = load_experiment(config, ".", workflow.basedir)
    # every data file read and checked once per content, before any job; jobs get each file's fingerprint
    DATA = check_experiment_data(EXP, EXP.layout.data_checks)
except (ConfigError, ConfigFileError, ConllError) as error:
    raise WorkflowError(f"{error} (checked before any job starts)")
if not workflow.remote_exec:  # once, in the Snakemake the user started
    for line in [*shadowed_training(CONFIG_FILES), *EXP.notes]:
        print(f"nertransfer: note: {line}", file=sys.stderr)

CELLS = {cell.id: cell for cell in EXP.cells()}
TRAIN_LANGUAGES = sorted({cell.train_language for cell in CELLS.values()})  # of every block, not the first only
L = EXP.layout

# Variables this workflow sets for its jobs (in a cluster allocation, its own Snakemake sets them again), not
# ones a user must define: so no `envvars:`, which asserts those (and would send this host's PATH to cluster jobs).
os.environ.update(
    # The package's console script sits beside the Python running Snakemake; jobs find it there even when the
    # environment was not activated (with --software-deployment-method conda, the rule's environment comes first).
    PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    # How often a fine-tune saves its resumable state is no setting of the cell: changing it must rerun nothing,
    # so it is not a param (params are rerun triggers); nor a resource, which a cluster executor adds up per group
    # and reads as the allocation's size. The train rule passes "$NERTRANSFER_SAVE_STATE_EVERY_SECONDS".
    NERTRANSFER_SAVE_STATE_EVERY_SECONDS=str(EXP.save_state_every_seconds),
    # This repository: the rules' conda environment (workflow/envs/nertransfer.yaml) installs the package from it.
    NERTRANSFER_SOURCE=workflow.basedir,
)
# Jobs never reach a hub: the prefetch rule did.
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")  # the prefetch asks the hub for models, and for nothing else


def _alternatives(names):
    return "|".join(re.escape(name) for name in names) or "(?!)"


# Shapes, not alternations of every cell id: Snakemake copies a constraint into every pattern
# that uses the wildcard, and a 7,000-character alternation made each substitution ~8x slower
# on the 6,300-job MasakhaNER 2.0 matrix (bench/snakemake_overhead.py).
# A cell's id is <row>/seed<seed>: the row (checkpoint[@language]/train language/setup) is a wildcard of
# its own, so that a profile can put every seed of a row in one allocation (groups: train=finetune@{row}).
CELL = "{row}/seed{seed}"
ROW_SHAPE = r"[^/]+/[^/]+/[^/]+"


wildcard_constraints:
    row=ROW_SHAPE,
    seed=r"[0-9]+",
    language=r"[^/]+",


def sha256_option(files):
    """`--inputs-sha256 {...}`: each data file's fingerprint (role -> file), a parameter of the job, so that a changed
    content reruns it whatever the file times say (and the job refuses a file that differs from it)."""
    return f"--inputs-sha256 {shlex.quote(canonical_json({role: DATA[path].sha256 for role, path in files.items()}))}"


def cell_of(wildcards):
    return CELLS[f"{wildcards.row}/seed{wildcards.seed}"]


def cell_axes(cell, **extra):
    """The cell's axes as JSON for the command line (quoted for the shell); recorded in every metrics file."""
    return shlex.quote(canonical_json({**cell.axes(), **extra}))


def label_set_option(cell):
    """`--keep-types ...` for a cell with a label set, nothing otherwise."""
    return f" --keep-types {' '.join(map(shlex.quote, EXP.types(cell)))}" if cell.label_set != "all" else ""


def metrics_files():
    return [L.metrics(cell_id, language) for cell_id, cell in CELLS.items() for language in EXP.evaluation_languages(cell)]


# -- options: a command's option at its default is left out, so that an upgrade reruns nothing; as a cell id
# leaves out axes at their defaults. Snakemake reruns a job when one of its params changes or a new one appears:
# a changed value is a new param, and it reruns exactly the jobs it affects.


def non_default(**options):
    """`params:` entries (spread with **) for the options given as name=(value, the command's default) whose value
    is not that default."""
    return {name: value for name, (value, default) in options.items() if value != default}


def option_text(options):
    """The shell text that passes the entries of non_default(): ` --<name> {params.<name>:q}` each (a list's items
    quoted one by one)."""
    return "".join(f" --{name.replace('_', '-')} {{params.{name}:q}}" for name in options)


DATASET_OPTIONS = non_default(types=(list(EXP.dataset.types), list(DEFAULT_TYPES)))  # adapt, tables, analyses
# `nertransfer tables --std ... --held-out ...`: the leave-one-out sets trained, with the language each holds out
LOO_TRAINED = {name: language for name, language in EXP.held_out.items() if name in TRAIN_LANGUAGES}
TABLE_OPTIONS = {
    **DATASET_OPTIONS,
    **non_default(std=(EXP.table_std, "sample"), held_out=([f"{n}={x}" for n, x in LOO_TRAINED.items()], [])),
}


def types_option():
    """`--types ...` in a train or evaluate job's args when DATASET_OPTIONS has the types (not the default), nothing
    otherwise."""
    types = DATASET_OPTIONS.get("types")
    return f" --types {' '.join(map(shlex.quote, types))}" if types else ""


def results_folder(wildcards, output):
    """The folder of a rule's result files (its first output), where its command writes them. A params function of
    the output: Snakemake does not count it as a rerun trigger (the outputs name the job already)."""
    return os.path.dirname(output[0])


# -- fine-tuning and evaluation (train.smk, evaluate.smk)


def train_inputs(wildcards):
    """train and dev: a file each, or (a training set) a list of one per language, in the set's order."""
    cell = cell_of(wildcards)
    files = {
        split: [EXP.dataset.file(language, split) for language in EXP.languages_of(cell.train_language)]
        for split in ("train", "dev")
    }
    inputs = {split: paths[0] if len(paths) == 1 else paths for split, paths in files.items()}
    # built, downloaded, adapted, or another cell's model (not a folder of the user's)
    if EXP.checkpoints[cell.checkpoint].made_by is not None:
        inputs["checkpoint"] = EXP.checkpoint_dir(cell)
    adapter = EXP.language_adapter(cell, cell.train_language)  # MAD-X: the training language's language adapter
    if adapter is not None:
        inputs["language_adapter"] = adapter[0]
    return inputs


def train_arguments(cell):
    """The cell's starting checkpoint, resolved hyperparameters and axes, as command-line options."""
    hyperparameters = shlex.quote(canonical_json(EXP.hyperparameters(cell)))
    data = sha256_option(EXP.training_data(cell))
    languages = EXP.languages_of(cell.train_language)
    several = f" --languages {' '.join(languages)}" if len(languages) > 1 else ""  # a training set's, in its files' order
    adapter = EXP.language_adapter(cell, cell.train_language)
    over = f" --language-adapter {shlex.quote(adapter[0])}" if adapter else ""
    return (
        f"--checkpoint {shlex.quote(EXP.checkpoint_dir(cell))} --hyperparameters {hyperparameters} --cell {cell_axes(cell)}"
        f" {data}{several}{over}{label_set_option(cell)}{types_option()}"
    )


def evaluate_arguments(cell, language):
    hp = EXP.hyperparameters(cell)
    adapter = EXP.language_adapter(cell, language)  # MAD-X: the language's adapter, or the training language's
    axes = cell_axes(cell, eval_language=language, **({"language_adapter": adapter[1]} if adapter else {}))
    swap = f" --language-adapter {shlex.quote(adapter[0])}" if adapter else ""
    return (
        f"--max-length {hp['max_length']} --batch-size {hp['eval_batch_size']} --precision {hp['precision']} --cell {axes}"
        f" {sha256_option({'test': EXP.dataset.file(language, 'test')})}{swap}{label_set_option(cell)}{types_option()}"
    )


ADAPTERS = any(cell.method != FULL for cell in CELLS.values())  # some cell saves an adapter, not a whole model


MADX = any(language_adapters_of(cell.method) for cell in CELLS.values())  # some cell swaps language adapters


def evaluation_language_adapter(wildcards):
    """A MAD-X cell's evaluation needs the language adapter it swaps in (the language's, or the training language's)."""
    adapter = EXP.language_adapter(EXP.fine_tunes()[cell_of(wildcards).id], wildcards.language)
    return adapter[0] if adapter else []


def adapter_base(wildcards):
    """The start an adapter cell's model needs at evaluation (built, downloaded, adapted or another cell's model),
    so that it is there, and kept until the evaluations are done (keep_models: false deletes other cells' models)."""
    cell = EXP.fine_tunes()[cell_of(wildcards).id]
    made = EXP.checkpoints[cell.checkpoint].made_by is not None
    return EXP.checkpoint_dir(cell) if cell.method != FULL and made else []


def model_folder(path):
    """The fine-tuned model: kept, or (keep_models: false) deleted once its evaluations are done."""
    return directory(path) if EXP.keep_models else temp(directory(path))


# A cell whose start, data and settings are another cell's shares that cell's fine-tune
# (EXP.fine_tunes()); the few such cells are named in the constraints, not every cell.
SHARED = [cell_id for cell_id, owner in EXP.fine_tunes().items() if owner.id != cell_id]


def row_constraint(shared):
    """The rows (every output is <row>/seed<k>/...) of the cells that share another cell's fine-tune (shared: the
    share_* rules), or of those that have their own (train, evaluate)."""
    if not SHARED:
        return "(?!)" if shared else ROW_SHAPE
    return f"(?{'=' if shared else '!'}(?:{_alternatives(SHARED)})/){ROW_SHAPE}"


def hold_run_marker():
    """While this Snakemake runs jobs, the lock of `<work>/running` names it, so that `nertransfer status` tells a
    job it started and has not yet handed to a process (queued) from one that a stopped or killed run left
    marked incomplete (failed). Released by the kernel when the process ends, however it ends."""
    from nertransfer.data.files import FolderBusy, exclusive

    marker = exclusive(L.running, "the run marker")
    try:
        marker.__enter__()
    except FolderBusy:  # another Snakemake runs jobs of this work folder: its marker says so already
        return
    LOCAL_RUN["marker"] = marker  # held until the process ends


# A record that is not whole is set aside before the DAG is built, so the job that writes it is planned
# again (the default target asks for every record) instead of the tables job failing on it. Once, in the
# Snakemake the user started: not again in a cluster allocation's own Snakemake.
if not workflow.remote_exec:
    for line in set_aside_damaged([L.records(cell_id) for cell_id in CELLS], metrics_files()):
        print(f"nertransfer: {line}", file=sys.stderr)


def results(names, category=None, caption=None, labels=lambda name: {"file": name}):
    """Paths of result files; with a category, the HTML tables and PNG figures among them go into the
    `snakemake --report` (rendered there; CSV, Markdown and LaTeX are the files to use elsewhere)."""

    def result(name):
        if category is None or not name.endswith((".html", ".png")):
            return L.result(name)
        caption_file = str(Path(workflow.basedir, "workflow", "report", caption))
        return report(L.result(name), caption=caption_file, category=category, labels=labels(name))

    return [result(name) for name in names]


def plain(paths):
    """Paths without their report flags."""
    return [str(path) for path in paths]


def zero_shot_tables():
    """The tables rule's outputs: the zero-shot matrices, and the grid and learning-curve tables when used."""
    stems = {stem: (category, statistic) for category, statistic, stem in layout.matrix_stems(EXP.dataset.types)}
    matrix = lambda name: dict(
        zip(("category", "statistic"), stems[name.rsplit(".", 1)[0]]),  # noqa: E731
        shown="heatmap" if name.endswith(".png") else "table",
    )
    names = layout.zero_shot_names(EXP.dataset.types)
    outputs = results([n for n in names if n.rsplit(".", 1)[0] in stems], "Zero-shot F1", "zero_shot.rst", matrix)
    outputs += results(
        [n for n in names if n.rsplit(".", 1)[0] not in stems and n != layout.CELLS_TABLE], "In-language", "in_language.rst"
    )
    outputs += results([layout.CELLS_TABLE])
    axes = layout.grid_names() if any(cell.grid_point for cell in CELLS.values()) else []
    axes += layout.learning_curve_names() if any(cell.train_size != "full" for cell in CELLS.values()) else []
    outputs += results(layout.leave_one_out_names() if LOO_TRAINED else [], "Leave-one-out", "axes.rst")
    return outputs + results(axes, "Grid search and learning curves", "axes.rst")


def overlap_training_files():
    """`LANGUAGE=FILE` for each training language, `SET/LANGUAGE=FILE` for each language of a training set."""
    return [
        (
            f"{name}={EXP.dataset.file(name, 'train')}"
            if EXP.languages_of(name) == (name,)
            else f"{name}/{language}={EXP.dataset.file(language, 'train')}"
        )
        for name in TRAIN_LANGUAGES
        for language in EXP.languages_of(name)
    ]


def overlap_tables():
    return results(layout.overlap_names(), "Overlap", "overlap.rst")


def effect_tables(checkpoint, baseline):
    return results(layout.effect_names(checkpoint, baseline), "Checkpoint effects", "effects.rst")


def effect_evaluations(wildcards):
    """The evaluation folders an effect table's bootstrap reads (their predictions and metrics are the inputs)."""
    return [
        L.evaluation(cell.id, language) for cell, language in EXP.effect_evaluations(wildcards.checkpoint, wildcards.baseline)
    ]


def analysis_tables():
    """The analyses' outputs, as the config asks for them."""
    outputs = overlap_tables() if EXP.analyses.get("overlap") else []
    for pair in EXP.analyses.get("checkpoint_effects", []):
        outputs += effect_tables(pair["checkpoint"], pair["baseline"])
    return outputs


# results/ is committed; on a fresh clone it exists and work/ does not, and Snakemake does not
# rerun a job because intermediate files are missing (nor for outputs nobody asks for). The tables
# rule also writes a marker beside the work it was made from (L.tables_made), which the default
# target asks for, so `snakemake` on a clone makes the tables (and all they need) again.

LOCAL_RUN = {}


def check_hub_checkpoints():
    """Every hub repository and revision not yet downloaded exists, before any job is submitted (on the submit
    host, which reaches HF_ENDPOINT); else the run stops naming the checkpoints and languages that use it."""
    missing = {key: described(users) for key, users in EXP.hub_downloads().items() if not Path(L.hub_checkpoint(*key)).exists()}
    if missing and os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("0", "false", "no", ""):
        try:
            check_hub(missing)
        except HubError as error:
            raise WorkflowError(str(error))


# Snakemake's log handler catches KeyboardInterrupt and carries on (snakemake/logging.py,
# ColorizingTextHandler.emit): a Ctrl-C that lands while it writes a line was lost, and a Slurm run
# went on submitting. Such a SIGINT is held back and sent again once the line is written.
SWALLOWS_INTERRUPTS = (("snakemake/logging.py", "emit"),)


def in_rule_environments():
    """Whether jobs run in the rules' own software environments (`--software-deployment-method conda`)."""
    return "conda" in {str(method).lower() for method in workflow.deployment_settings.deployment_method}


def start_local_run():
    """Every run: a Ctrl-C is never lost. A local run: its jobs stop when Snakemake is interrupted, and
    (unless `warm_start: false`) they fork from one process that has imported torch (nertransfer.runtime.warm).
    Cluster executors use neither, nor do jobs that run in the rules' conda environments (a warm process
    is Snakemake's own environment, not theirs)."""
    handle_interrupts(not_inside=SWALLOWS_INTERRUPTS, stop_jobs=workflow.local_exec)
    if not workflow.local_exec:
        return
    if config.get("warm_start", True) and not in_rule_environments():
        LOCAL_RUN["warm"] = WarmServer.start(L.log("warm_server"), slots=config.get("local_jobs_at_once"))


# In a cluster allocation the executor starts the long-lived workers (the Slurm profile's submitit-allocation-service:
# `nertransfer warm-server --reuse`, one per CPU) before this Snakemake and tells its jobs where they listen
# (NERTRANSFER_WARM_SOCKET). `warm_start: false` runs every job in its own process there too, as do jobs in the
# rules' conda environments (the workers run in Snakemake's): its jobs are not told.
if workflow.remote_exec and (not config.get("warm_start", True) or in_rule_environments()):
    os.environ.pop("NERTRANSFER_WARM_SOCKET", None)


def end_local_run():
    server = LOCAL_RUN.pop("warm", None)
    if server is not None:
        server.stop()
