# Check the config once and expand the matrix; every other rule file reads EXP, CELLS and L (paths).
import os
import re
import shlex
import sys
from pathlib import Path

import yaml
from snakemake.exceptions import WorkflowError

from nertransfer.experiment import layout
from nertransfer.experiment.config import ConfigError, ConfigFileError, check_schema, config_files, load_experiment, shadowed_training
from nertransfer.data.conll import ConllError
from nertransfer.experiment.matrix import canonical_json
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
TYPES = " ".join(map(shlex.quote, EXP.dataset.types))  # names checked by the schema; quoted all the same

# The package's console script sits beside the Python running Snakemake; jobs find it there
# even when the environment was not activated. Jobs never reach a hub: the prefetch rule did.
os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
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


def sha256_option(**files):
    """`--inputs-sha256 {...}`: each data file's fingerprint, a parameter of the job, so that a changed content
    reruns it whatever the file times say (and the job refuses a file that differs from it)."""
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
    shown = lambda name: category is not None and name.endswith((".html", ".png"))  # noqa: E731
    return [report(L.result(name), caption=str(Path(workflow.basedir, "workflow", "report", caption)), category=category,
                   labels=labels(name))
            if shown(name) else L.result(name) for name in names]


def plain(paths):
    """Paths without their report flags."""
    return [str(path) for path in paths]


def zero_shot_tables():
    """The tables rule's outputs: the zero-shot matrices, and the grid and learning-curve tables when used."""
    stems = {stem: (category, statistic) for category, statistic, stem in layout.matrix_stems(EXP.dataset.types)}
    matrix = lambda name: dict(zip(("category", "statistic"), stems[name.rsplit(".", 1)[0]]),  # noqa: E731
                               shown="heatmap" if name.endswith(".png") else "table")
    names = layout.zero_shot_names(EXP.dataset.types)
    outputs = results([n for n in names if n.rsplit(".", 1)[0] in stems], "Zero-shot F1", "zero_shot.rst", matrix)
    outputs += results([n for n in names if n.rsplit(".", 1)[0] not in stems and n != layout.CELLS_TABLE], "In-language",
                       "in_language.rst")
    outputs += results([layout.CELLS_TABLE])
    axes = layout.grid_names() if any(cell.grid_point for cell in CELLS.values()) else []
    axes += layout.learning_curve_names() if any(cell.train_size != "full" for cell in CELLS.values()) else []
    return outputs + results(axes, "Grid search and learning curves", "axes.rst")


def overlap_tables():
    return results(layout.overlap_names(), "Overlap", "overlap.rst")


def effect_tables(checkpoint, baseline):
    return results(layout.effect_names(checkpoint, baseline), "Checkpoint effects", "effects.rst")


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
    missing = {key: described(users) for key, users in EXP.hub_downloads().items()
               if not Path(L.hub_checkpoint(*key)).exists()}
    if missing and os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("0", "false", "no", ""):
        try:
            check_hub(missing)
        except HubError as error:
            raise WorkflowError(str(error))


# Snakemake's log handler catches KeyboardInterrupt and carries on (snakemake/logging.py,
# ColorizingTextHandler.emit): a Ctrl-C that lands while it writes a line was lost, and a Slurm run
# went on submitting. Such a SIGINT is held back and sent again once the line is written.
SWALLOWS_INTERRUPTS = (("snakemake/logging.py", "emit"),)


def start_local_run():
    """Every run: a Ctrl-C is never lost. A local run: its jobs stop when Snakemake is interrupted, and
    (unless `warm_start: false`) they fork from one process that has imported torch (nertransfer.runtime.warm).
    Cluster executors use neither."""
    handle_interrupts(not_inside=SWALLOWS_INTERRUPTS, stop_jobs=workflow.local_exec)
    if not workflow.local_exec:
        return
    if config.get("warm_start", True):
        LOCAL_RUN["warm"] = WarmServer.start(L.log("warm_server"), slots=config.get("local_jobs_at_once"))


def start_allocation_workers():
    """In a cluster allocation (Snakemake running a group job there): long-lived workers that run the group's
    fine-tunes and evaluations in-process, one per CPU it was given (nertransfer.runtime.warm, --reuse)."""
    import atexit

    slots = workflow.resource_settings.cores if isinstance(workflow.resource_settings.cores, int) else None
    job = os.environ.get("SLURM_JOB_ID", str(os.getpid()))
    server = WarmServer.start(L.log("workers", job), slots=slots, reuse=True)
    atexit.register(server.stop)


if workflow.remote_exec and config.get("warm_start", True) and not os.environ.get("NERTRANSFER_WARM_SOCKET"):
    start_allocation_workers()


def end_local_run():
    server = LOCAL_RUN.pop("warm", None)
    if server is not None:
        server.stop()
