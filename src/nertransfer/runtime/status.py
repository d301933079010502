"""Where a matrix stands, cell by cell, read from what exists: `nertransfer status` (no torch).

One row per fine-tuned model (every axis but the seed), one column per seed. A cell is:

    not started   nothing of it exists (or its evaluations are missing: the next run makes them)
    queued        a cluster job of this run's folder that will run it is pending
    running       a process holds its fine-tune or one of its evaluations: epoch k of N, dev F1, time left
    done          trained and evaluated on every evaluation language, every record whole and up to date
    failed        its last attempt ended without its outputs, or a record is damaged: what to read is named
    invalidated   done, but out of date: its settings or start changed, or a data file's content is not
                  the content its records say it read

It judges by the facts the workflow judges by, so that it and `snakemake -n` agree on every cell:
records read through the one validating reader (`records.read_record`: a record the workflow would
set aside is damaged here), data compared by content (the SHA-256 each job recorded of what it read,
which the workflow passes to each job as a parameter), Snakemake's own markers of outputs whose job
did not finish (.snakemake/incomplete: the next run makes them again), the locks a running
fine-tune or evaluation holds (a lock whose holder died is no longer held), the epoch a saved state
resumes after (`train.state/state.json`), and, on a cluster, the queue's jobs that run in this run's
folder with the wildcards of the jobs each runs. It keeps no books of its own and locks nothing, so
it works while a run is going on.

The queue comes from the executor plugin, which alone knows the scheduler (its commands, and how it names a job
after the wildcards the job runs): `python -m snakemake_executor_plugin_submitit queue --workdir DIR` prints it as
JSON. A command rather than an import: this package imports neither Snakemake nor the plugin, whose package serves
Snakemake's plugin registry (tests/test_architecture.py), so the two meet only at that command line and its JSON;
it costs one Python start per look (~0.1 s: the command imports nothing of Snakemake). Without a scheduler on this
machine the plugin answers with an empty queue; when the scheduler or the plugin did not answer, `queue_note` says
so and cells on the cluster show as not started.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from nertransfer.analysis.records import damage, run_records
from nertransfer.data.files import lock_holder
from nertransfer.data.fingerprints import file_sha256
from nertransfer.experiment.layout import STATE_SUMMARY, TRAIN_CONFIG
from nertransfer.experiment.matrix import Cell, Experiment

STATES = ("not started", "queued", "running", "done", "failed", "invalidated")


@dataclass(frozen=True)
class CellState:
    state: str
    detail: str = ""  # e.g. "epoch 3/10, dev F1 41.2, 1 min left", "evaluated on 4 of 10", what is out of date
    log: str = ""  # the log to read


# The workflow's wildcards of a cell (workflow/rules/common.smk: `{row}/seed{seed}`): what a queued job runs is
# told by them, a job of every seed of a row (one allocation per row) by the row alone.
ROW, SEED = "row", "seed"
QUEUE_COMMAND = ("-m", "snakemake_executor_plugin_submitit", "queue")  # run with this Python
QUEUE_TIMEOUT_SECONDS = 60  # the plugin waits 30 s for the scheduler; Python and the plugin start in the rest


@dataclass(frozen=True)
class QueuedJob:
    """A job of the cluster's queue that runs in this run's folder, as the executor plugin reports it."""

    id: str
    state: str  # the scheduler's word (PENDING, RUNNING, ...), shown as it is
    running: bool
    wildcards: Mapping[str, str] = field(default_factory=dict)  # of the Snakemake jobs it runs ({}: not the workflow's)


@dataclass(frozen=True)
class ClusterQueue:
    """What the executor plugin said of the queue: its jobs in this run's folder, or why it could not say."""

    jobs: tuple[QueuedJob, ...] = ()
    problem: str = ""  # why the queue could not be read ("" when it was, or when there is no scheduler)
    scheduler: str = "cluster"  # its name, for the reader (the plugin's: Slurm)


def row_of(cell: Cell) -> str:
    return cell.id.rsplit("/", 1)[0]


def cluster_queue(workdir: str | Path = ".") -> ClusterQueue:
    """This user's queued and running jobs whose working directory is `workdir` (a second clone's jobs are not this
    run's), from the executor plugin; empty without a scheduler, with `problem` when it or the plugin did not answer."""
    command = [sys.executable, *QUEUE_COMMAND, "--workdir", os.path.realpath(workdir)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=QUEUE_TIMEOUT_SECONDS)
        report = json.loads(done.stdout) if done.returncode == 0 else None
    except subprocess.TimeoutExpired:
        return ClusterQueue(problem=f"the executor plugin's queue did not answer within {QUEUE_TIMEOUT_SECONDS} s")
    except ValueError:
        report = None
    if not isinstance(report, dict):
        last = (done.stderr.strip().splitlines() or [""])[-1]
        return ClusterQueue(problem=f"the executor plugin's queue command exited {done.returncode}: {last[:160]}")
    jobs = tuple(QueuedJob(str(job["id"]), job["state"], bool(job["running"]), dict(job.get("wildcards") or {}))
                 for job in report.get("jobs", []))
    return ClusterQueue(jobs, report.get("problem") or "", report.get("scheduler") or "cluster")


def queue_note(queue: ClusterQueue) -> str:
    """A line for the reader when the queue could not be read ("" otherwise)."""
    if not queue.problem:
        return ""
    why = queue.problem.strip().splitlines()[0][:200]
    return f"{queue.scheduler} did not answer ({why}): cells queued or running on the cluster show as not started"


def stale_lock_note(experiment: Experiment, workdir: str | Path = ".") -> str:
    """A line when Snakemake's own lock of the folder was left by a run that no longer runs (killed with -9, or its
    machine went down): the next `snakemake` would refuse to start until it is unlocked ("" otherwise)."""
    locks = Path(workdir, ".snakemake", "locks")
    if not (locks.is_dir() and any(locks.iterdir())) or _at_work(Path(workdir, experiment.layout.running), ClusterQueue()):
        return ""
    return ("Snakemake's lock of this folder was left by a run that is no longer running: run `snakemake --unlock` "
            "(with the same options) before the next run")


def _cell_jobs(cell: Cell, queue: ClusterQueue) -> list[QueuedJob]:
    """The jobs that run `cell`: their jobs share its row and seed, or its row alone (a job of several seeds)."""
    return [job for job in queue.jobs
            if job.wildcards.get(ROW) == row_of(cell) and job.wildcards.get(SEED, str(cell.seed)) == str(cell.seed)]


def _incomplete(workdir: Path) -> set[str]:
    """Outputs of jobs that Snakemake started and that have not finished (its own markers)."""
    folder = workdir / ".snakemake" / "incomplete"
    names = set()
    for marker in folder.rglob("*") if folder.is_dir() else []:
        if marker.is_file():  # long names are split into folders of parts starting with @
            encoded = "".join(part.lstrip("@") for part in marker.relative_to(folder).parts)
            try:
                names.add(base64.urlsafe_b64decode(encoded).decode())
            except ValueError:
                continue
    return names


def _log_tail(log: Path) -> list[str]:
    """The last lines of a job's log (its last 4 KB: epoch lines and a final error fit), [] without one."""
    try:
        with open(log, "rb") as handle:
            handle.seek(max(0, handle.seek(0, os.SEEK_END) - 4096))
            return handle.read().decode(errors="replace").splitlines()
    except OSError:
        return []


def _last_epoch(log: Path) -> dict | None:
    """The last epoch line of a fine-tune's log, if it has written one."""
    for line in reversed(_log_tail(log)):
        if line.startswith('{"epoch"'):
            try:
                return json.loads(line)
            except ValueError:
                return None
    return None


def _at_work(folder: str | Path, queue: ClusterQueue) -> bool:
    """Whether a live process holds `folder`'s lock: one on this host that still runs, or one in a cluster job of
    this run's folder that the queue says is running (a lock whose holder died stays behind, unheld)."""
    holder = lock_holder(folder)
    if holder is None:
        return False
    if holder.host == socket.gethostname():
        try:
            os.kill(holder.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return holder.slurm_job is not None and any(job.id == holder.slurm_job and job.running for job in queue.jobs)


def _saved_epoch(state_dir: Path, data: Mapping[str, str], content: "_Contents") -> int | None:
    """The epoch a fine-tune's saved state resumes after, or None without one that the next run would resume: its
    summary records the content it was trained on, and a state of other data (edited since) starts over."""
    try:
        summary = json.loads((state_dir / STATE_SUMMARY).read_text())
        epoch = int(summary["epoch"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if any(f"{role}_sha256" in summary and summary[f"{role}_sha256"] != content(path) for role, path in data.items()):
        return None
    return epoch


def _last_error(log: Path) -> str:
    """The one-line error a failed job ended with (`nertransfer <step>: error: ...`), shortened; "" without one."""
    for line in reversed(_log_tail(log)[-3:]):
        if line.startswith("nertransfer ") and ": error: " in line:
            message = line.split(": error: ", 1)[1]
            return message if len(message) <= 160 else message[:157] + "..."
    return ""


def _progress(epoch: dict | None) -> str:
    if not epoch:
        return "starting"
    text = f"epoch {epoch['epoch']}" + (f"/{epoch['of']}" if "of" in epoch else "")
    if "dev_f1" in epoch:
        text += f", dev F1 {100 * epoch['dev_f1']:.1f}"
    if epoch.get("eta") is not None:
        text += f", {epoch['eta'] / 60:.0f} min left" if epoch["eta"] >= 60 else f", {epoch['eta']:.0f} s left"
    return text


class _Contents:
    """The SHA-256 of each data file, read once per status call (the workflow passes the same to its jobs)."""

    def __init__(self) -> None:
        self.known: dict[str, str | None] = {}

    def __call__(self, path: str) -> str | None:
        if path not in self.known:
            try:
                self.known[path] = file_sha256(path)
            except OSError:
                self.known[path] = None
        return self.known[path]


def _same_start(summary: Mapping, expected: str, records: Path) -> bool:
    """Whether a fine-tune started where the config now starts it: the same path, or the same place relative to
    its records (the work folder moved or copied whole, absolute paths and all)."""
    if summary.get("checkpoint_path") == expected:
        return True
    relative = summary.get("checkpoint_from_records")
    return relative is not None and relative == os.path.relpath(expected, records)


def _changed(recorded: Mapping, key: str, path: str, content: _Contents, made: Path) -> bool:
    """A data file read by a job differs from what it read: by content where the record has it, else (records
    written before contents were recorded) by time, as Snakemake judges those."""
    if f"{key}_sha256" in recorded:
        return content(path) != recorded[f"{key}_sha256"]
    try:
        return Path(path).stat().st_mtime > made.stat().st_mtime
    except OSError:
        return False


def _out_of_date(experiment: Experiment, cell: Cell, summary: Mapping, records: Path, evaluations: Sequence[Path],
                 content: _Contents) -> str:
    """Why a finished cell no longer matches the config or its data ("" when it does): what the workflow reruns
    it for (the parameters of its jobs: settings, start, each data file's content)."""
    owner = experiment.fine_tunes()[cell.id]
    if summary.get("hyperparameters") != experiment.hyperparameters(owner):
        return "settings changed"
    if not _same_start(summary, experiment.checkpoint_dir(owner), records):
        return "start changed"
    for role, path in experiment.training_data(owner).items():  # train and dev, or each of a training set's
        if _changed(summary, role, path, content, records):
            return f"{'training' if role.startswith('train') else 'dev'} data changed ({path})"
    for metrics in evaluations:
        path = experiment.dataset.file(metrics.parent.name, "test")
        if _changed(json.loads(metrics.read_text()), "test", path, content, metrics):
            return f"test data of {metrics.parent.name} changed ({path})"
    return ""


@dataclass(frozen=True)
class _Facts:
    """What status reads once per call, beside the work folder itself."""

    queue: ClusterQueue
    incomplete: set[str]
    content: _Contents
    snakemake_running: bool  # a Snakemake runs jobs of this work folder (the lock of layout.running names it)


def cell_state(experiment: Experiment, cell: Cell, facts: _Facts) -> CellState:
    """The state of one cell (see the module's table)."""
    layout, owner = experiment.layout, experiment.fine_tunes()[cell.id]
    records, state_dir = Path(layout.records(cell.id)), Path(layout.state(owner.id))
    log = Path(layout.log("train", owner.id))
    languages = experiment.evaluation_languages(cell)
    evaluations = [Path(layout.metrics(cell.id, language)) for language in languages]
    evaluated = [path for path in evaluations if path.exists()]
    jobs = _cell_jobs(cell, facts.queue)
    training = _at_work(state_dir, facts.queue)
    evaluating = [path.parent.name for path in evaluations if _at_work(path.parent, facts.queue)]
    if training:
        return CellState("running", _progress(_last_epoch(log)), str(log))
    if evaluating:
        return CellState("running", f"evaluating on {', '.join(evaluating)}; evaluated on {len(evaluated)} of {len(languages)}",
                         str(Path(layout.log("evaluate", cell.id, evaluating[0]))))
    interrupted = sorted(output for output in (layout.records(cell.id), layout.model(owner.id), *map(str, evaluations))
                         if output in facts.incomplete and Path(output).exists())
    damaged = damage([*(run_records(records) if records.exists() else []), *evaluated])
    if records.exists() and len(evaluated) == len(evaluations) and not damaged and not interrupted:
        why = _out_of_date(experiment, cell, json.loads((records / TRAIN_CONFIG).read_text()), records, evaluated,
                           facts.content)
        return CellState("invalidated", why) if why else CellState("done", f"evaluated on {len(languages)}")
    if damaged:
        return CellState("failed", f"damaged record: {damaged}; the next run makes it again")
    if interrupted and facts.snakemake_running:  # started by the Snakemake at work, its process not yet at work
        return CellState("queued", "started by the running Snakemake; waiting for its turn")
    data = experiment.training_data(owner)
    if interrupted:
        saved = _saved_epoch(state_dir, data, facts.content)
        return CellState("failed", f"interrupted: its job did not finish ({interrupted[0]} is marked incomplete); the next run "
                         + (f"resumes after epoch {saved}" if saved is not None else "makes it again"), str(log))
    queued = ""
    if jobs:  # a pending job will run it; a running allocation of its row has not reached it yet
        pending = [job for job in jobs if not job.running]
        queued = f"{facts.queue.scheduler}: " + (pending[0].state.lower() if pending else "running, waiting for a worker")
    if records.exists():  # trained; some evaluations missing
        detail = f"evaluated on {len(evaluated)} of {len(languages)}"
        return CellState("queued", f"{detail}; {queued}") if queued else CellState("not started", detail)
    if queued:
        return CellState("queued", queued)
    if log.exists():
        epoch, saved, error = _last_epoch(log), _saved_epoch(state_dir, data, facts.content), _last_error(log)
        detail = (f"stopped after epoch {epoch['epoch']}" if epoch else "failed") + (f": {error}" if error else "") + (
            f"; resumes after epoch {saved} (its saved state)" if saved is not None else "")
        return CellState("failed", detail, str(log))
    return CellState("not started")


def matrix_status(experiment: Experiment, workdir: str | Path = ".", queue: ClusterQueue | None = None
                  ) -> dict[str, dict[int, CellState]]:
    """Row (a cell's id without its seed) -> seed -> state, in the experiment's order of cells."""
    queue = cluster_queue(workdir) if queue is None else queue
    facts = _Facts(queue, _incomplete(Path(workdir)), _Contents(),
                   snakemake_running=_at_work(Path(workdir, experiment.layout.running), queue))
    rows: dict[str, dict[int, CellState]] = {}
    for cell in experiment.cells():
        rows.setdefault(row_of(cell), {})[cell.seed] = cell_state(experiment, cell, facts)
    return rows


def counts(rows: Mapping[str, Mapping[int, CellState]]) -> dict[str, int]:
    totals = dict.fromkeys(STATES, 0)
    for seeds in rows.values():
        for state in seeds.values():
            totals[state.state] += 1
    return totals


def records(rows: Mapping[str, Mapping[int, CellState]]) -> Iterable[dict]:
    for row, seeds in rows.items():
        for seed, state in sorted(seeds.items()):
            yield {"row": row, "seed": seed, "state": state.state, "detail": state.detail, "log": state.log}
