"""Where a matrix stands, cell by cell, read from what exists: `nertransfer status` (no torch).

One row per fine-tuned model (every axis but the seed), one column per seed. A cell is:

    not started   nothing of it exists
    queued        a Slurm job that will run it is pending (or, trained, its evaluations wait in a run)
    running       a process trains or evaluates it: epoch k of N with its last dev F1 and time left
    done          trained and evaluated on every evaluation language, and up to date
    failed        its last attempt ended without its outputs: the log to read is named
    invalidated   done, but out of date: the config's settings or start changed, or its data is newer

Nothing here keeps books of its own that could drift: it reads the work folder (records, models,
evaluations, job logs with one line per epoch), the lock a fine-tune holds, Snakemake's own
markers of jobs that started and did not finish (.snakemake/incomplete), and on Slurm one squeue
call, as the executor makes it (the executor names each Slurm job after the cells it runs).
It locks nothing, so it works while a run is going on.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

from .experiment import Cell, Experiment
from .files import lock_holder
from .layout import RESUME_FILE, TRAIN_CONFIG

STATES = ("not started", "queued", "running", "done", "failed", "invalidated")
ACTIVE_SECONDS = 120  # an evaluation's log written this recently, by a job Snakemake marked started, is a job at work


@dataclass(frozen=True)
class CellState:
    state: str
    detail: str = ""  # e.g. "epoch 3/10, dev F1 41.2, 1 min left", "evaluated on 4 of 10", what is out of date
    log: str = ""  # the log to read


def row_of(cell: Cell) -> str:
    return cell.id.rsplit("/", 1)[0]


def slurm_queue() -> dict[str, str]:
    """Slurm job name -> state of this user's queued and running jobs, from one squeue call; {} without Slurm."""
    try:
        done = subprocess.run(["squeue", "--noheader", "--me", "--format=%j|%T"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return {}
    if done.returncode != 0:
        return {}
    return dict(line.rsplit("|", 1) for line in done.stdout.splitlines() if "|" in line)


def _queued(cell: Cell, queue: Mapping[str, str]) -> str | None:
    """The Slurm state of a job that runs `cell`. The executor names a job `<group>:<wildcards its jobs share>`:
    the workflow's row and seed (`finetune:tiny/hau/base/1`), or the row alone for a job of several seeds."""
    names = {row_of(cell), f"{row_of(cell)}/{cell.seed}"}
    for name, state in queue.items():
        if name.split(":", 1)[-1] in names:
            return state
    return None


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


def _last_epoch(log: Path) -> dict | None:
    """The last epoch line of a fine-tune's log, if it has written one."""
    try:
        with open(log, "rb") as handle:
            handle.seek(max(0, handle.seek(0, os.SEEK_END) - 4096))
            lines = handle.read().decode(errors="replace").splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        if line.startswith('{"epoch"'):
            try:
                return json.loads(line)
            except ValueError:
                return None
    return None


def _holder_alive(state_dir: Path) -> bool:
    """Whether the process named in a fine-tune's lock file runs on this host (a local job at work)."""
    holder = lock_holder(state_dir)
    if holder is None or holder[1] != socket.gethostname():
        return False
    try:
        os.kill(holder[0], 0)
    except OSError:
        return False
    return True


def _recent(log: Path, now: float) -> bool:
    try:
        return now - log.stat().st_mtime < ACTIVE_SECONDS
    except OSError:
        return False


def _progress(epoch: dict | None) -> str:
    if not epoch:
        return "starting"
    text = f"epoch {epoch['epoch']}" + (f"/{epoch['of']}" if "of" in epoch else "")
    if "dev_f1" in epoch:
        text += f", dev F1 {100 * epoch['dev_f1']:.1f}"
    if epoch.get("eta") is not None:
        text += f", {epoch['eta'] / 60:.0f} min left" if epoch["eta"] >= 60 else f", {epoch['eta']:.0f} s left"
    return text


def _out_of_date(experiment: Experiment, cell: Cell, records: Path, evaluations: list[Path]) -> str:
    """Why a finished cell no longer matches the config or its inputs ("" when it does): what Snakemake's
    params and mtime triggers would rerun it for."""
    owner = experiment.fine_tunes()[cell.id]
    summary = json.loads((records / TRAIN_CONFIG).read_text())
    if summary.get("hyperparameters") != experiment.hyperparameters(owner):
        return "settings changed"
    if summary.get("checkpoint_path") != experiment.checkpoint_dir(owner):
        return "start changed"
    trained = records.stat().st_mtime
    data = [experiment.dataset.file(cell.train_language, split) for split in ("train", "dev")]
    if any(Path(path).stat().st_mtime > trained for path in data if Path(path).exists()):
        return "training data newer"
    for metrics in evaluations:
        test = Path(experiment.dataset.file(metrics.parent.name, "test"))
        if test.exists() and test.stat().st_mtime > metrics.stat().st_mtime:
            return f"test data of {metrics.parent.name} newer"
    return ""


def cell_state(experiment: Experiment, cell: Cell, queue: Mapping[str, str], incomplete: set[str], now: float) -> CellState:
    """The state of one cell (see the module's table)."""
    layout, owner = experiment.layout, experiment.fine_tunes()[cell.id]
    records = Path(layout.records(cell.id))
    log = Path(layout.log("train", owner.id))
    languages = experiment.evaluation_languages(cell)
    evaluations = [Path(layout.metrics(cell.id, language)) for language in languages]
    evaluated = [path for path in evaluations if path.exists()]
    slurm = _queued(cell, queue)
    if records.exists() and len(evaluated) == len(evaluations):
        why = _out_of_date(experiment, cell, records, evaluated)
        return CellState("invalidated", why) if why else CellState("done", f"evaluated on {len(languages)}")
    working = slurm == "RUNNING" or _holder_alive(Path(layout.state(owner.id)))  # a fine-tune holds its lock while it trains
    if records.exists():  # trained; evaluations missing: an evaluation at work has a recent log and Snakemake's marker
        evaluating = any(layout.metrics(cell.id, language) in incomplete and _recent(Path(layout.log("evaluate", cell.id, language)),
                                                                                    now) for language in languages)
        detail = f"evaluated on {len(evaluated)} of {len(languages)}"
        return CellState("running" if working or evaluating else "queued" if slurm else "not started", detail)
    if working:
        return CellState("running", _progress(_last_epoch(log)), str(log))
    if slurm:
        return CellState("queued", f"Slurm: {slurm.lower()}")
    if log.exists():
        epoch = _last_epoch(log)
        resumable = Path(layout.state(owner.id), RESUME_FILE).exists()
        detail = (f"stopped after epoch {epoch['epoch']}" if epoch else "failed") + ("; resumes from its saved state"
                                                                                     if resumable else "")
        return CellState("failed", detail, str(log))
    return CellState("not started")


def matrix_status(experiment: Experiment, workdir: str | Path = ".", queue: Mapping[str, str] | None = None
                  ) -> dict[str, dict[int, CellState]]:
    """Row (a cell's id without its seed) -> seed -> state, in the experiment's order of cells."""
    queue = slurm_queue() if queue is None else queue
    incomplete, now = _incomplete(Path(workdir)), time.time()
    rows: dict[str, dict[int, CellState]] = {}
    for cell in experiment.cells():
        rows.setdefault(row_of(cell), {})[cell.seed] = cell_state(experiment, cell, queue, incomplete, now)
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
