# Validate the config once and expand the matrix; every other rule file reads EXP and CELLS.
import json
import os
import re
import shlex
import sys
from pathlib import Path

import yaml
from snakemake.exceptions import WorkflowError

from nertransfer.config import ConfigError, canonical_json, check_schema, load_experiment
from nertransfer.job_processes import stop_jobs_on_interrupt
from nertransfer.warm import WarmServer
from nertransfer.analysis import effect_stem
from nertransfer.axes_tables import axes_table_names
from nertransfer.tables import table_names

# The schema is checked by nertransfer.config rather than snakemake.utils.validate: one line naming
# the key, and integers that are integers (validate lets `epochs: 2.0` through).
try:
    check_schema(config, yaml.safe_load(Path(workflow.basedir, "workflow", "schemas", "config.schema.yaml").read_text()))
    EXP = load_experiment(config, ".", workflow.basedir)
except ConfigError as error:
    raise WorkflowError(str(error))

CELLS = {cell.id: cell for cell in EXP.cells()}
TRAIN_LANGUAGES = sorted({cell.train_language for cell in CELLS.values()})  # of every block, not the first only
WORK = EXP.work_dir
RESULTS = EXP.results_dir
TYPES = " ".join(map(shlex.quote, EXP.dataset.types))  # names checked by the schema; quoted all the same
RECIPES = [name for name, c in EXP.checkpoints.items() if c.kind == "recipe"]
HUB = [name for name, c in EXP.checkpoints.items() if c.kind == "hub" and not c.per_language]
HUB_PER_LANGUAGE = [name for name, c in EXP.checkpoints.items() if c.kind == "hub" and c.per_language]
ADAPTED = [name for name, c in EXP.checkpoints.items() if c.kind == "adapt"]

# The package's console script sits beside the Python running Snakemake; jobs find it there
# even when the environment was not activated. Jobs never reach a hub: prefetch rules did.
os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


def _alternatives(names):
    return "|".join(re.escape(name) for name in names) or "(?!)"


# Shapes, not alternations of every cell id: Snakemake copies a constraint into every pattern
# that uses the wildcard, and a 7,000-character alternation made each substitution ~8x slower
# on the 6,300-job MasakhaNER 2.0 matrix (bench/snakemake_overhead.py).
wildcard_constraints:
    cell=r"[^/]+/[^/]+/[^/]+/seed[0-9]+",  # checkpoint[@language]/train language/setup/seedN
    language=r"[^/]+",


def cell_axes(cell, **extra):
    """The cell's axes as JSON for the command line (quoted for the shell); recorded in every metrics file."""
    return shlex.quote(canonical_json({**cell.axes(), **extra}))


def metrics_files():
    return [
        f"{WORK}/runs/{cell_id}/eval/{language}/metrics.json"
        for cell_id, cell in CELLS.items()
        for language in EXP.evaluation_languages(cell)
    ]


def card_files():
    return [f"{WORK}/runs/{cell_id}/README.md" for cell_id in CELLS]


def table_files():
    """Every table and figure of the experiment: the zero-shot matrices, the axes' and the analyses'."""
    cells = list(CELLS.values())
    grid = any(cell.grid_point for cell in cells)
    curve = any(cell.train_size != "full" for cell in cells)
    names = table_names(EXP.dataset.types) + axes_table_names(grid, curve)
    if EXP.analyses.get("overlap"):
        names += [f"{stem}{ext}" for stem in ("overlap", "overlap_correlation") for ext in (".csv", ".md", ".tex")]
        names += ["overlap_scatter.png"]
    for pair in EXP.analyses.get("checkpoint_effects", []):
        names += [f"{effect_stem(pair['checkpoint'], pair['baseline'])}{ext}" for ext in (".csv", ".md", ".tex")]
    return [f"{RESULTS}/{name}" for name in names]


# results/ is committed; on a fresh clone it exists and work/ does not, and Snakemake does not
# rerun a job because intermediate files are missing (nor for outputs nobody asks for). The tables
# rule also writes this marker beside the work it was made from, and the default target asks for
# it, so `snakemake` on a clone makes the tables (and all they need) again.
TABLES_MADE = f"{WORK}/tables/{RESULTS}.done"


def label_set_option(cell):
    """`--keep-types ...` for a cell with a label set, nothing otherwise."""
    return f" --keep-types {' '.join(map(shlex.quote, EXP.types(cell)))}" if cell.label_set != "all" else ""


LOCAL_RUN = {}


def start_local_run():
    """A local run: its jobs stop when Snakemake is interrupted, and (unless `warm_start: false`) they
    fork from one process that has imported torch (nertransfer.warm). Cluster executors use neither."""
    if not workflow.local_exec:
        return
    stop_jobs_on_interrupt()
    if config.get("warm_start", True):
        LOCAL_RUN["warm"] = WarmServer.start(f"{WORK}/logs/warm_server.log")


def end_local_run():
    server = LOCAL_RUN.pop("warm", None)
    if server is not None:
        server.stop()
