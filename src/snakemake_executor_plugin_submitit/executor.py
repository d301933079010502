"""The executor: submit each Snakemake job (or group job) as one submitit job on Slurm."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import AsyncGenerator, Dict, List, Optional

import submitit
from snakemake_interface_common.exceptions import WorkflowError
from snakemake_interface_executor_plugins.executors.base import SubmittedJobInfo
from snakemake_interface_executor_plugins.executors.remote import RemoteExecutor
from snakemake_interface_executor_plugins.jobs import JobExecutorInterface
from snakemake_interface_executor_plugins.utils import format_cli_arg

from . import service as services
from .queue import job_name, jobs_in
from .states import ACTIVE, FAILED, NEVER_STARTS, SUCCEEDED, partition_offer, query_states, result_of, run, wait_until_gone

_TIMESTAMP = re.compile(r"^\[\w{3} \w{3} +\d+ [\d:]+ \d{4}\]$")  # how Snakemake begins each event in its log
MISSING_POLLS_BEFORE_LOST = 3  # a job absent from a working squeue and from sacct this many times in a row is over
# How long a cancelled job of an earlier run may take to leave the queue (Slurm's default KillWait is 30 s).
ORPHAN_WAIT_SECONDS = 60


@dataclass(frozen=True)
class Allocation:
    cpus: int
    mem_mb: Optional[int]
    gpus: int
    runtime: int  # minutes
    node_limits: Optional[Dict[str, int]] = None  # --resources for the Snakemake that runs a group in it


class ShellCommand:
    """What submitit runs on the node: one Snakemake job command, checkpointable, with the allocation's service
    (`allocation-service`, service.py) around it when the profile names one.

    On preemption or near the time limit submitit calls `checkpoint` (on SIGUSR2, `signal_delay_s` before the
    limit), then requeues the same command, which picks up from whatever state its jobs saved. Before that,
    `checkpoint` asks the command's processes to stop (SIGTERM) and waits for them, up to `stop_seconds`: a job
    that saves its state when asked to stop (a fine-tune finishes its epoch) then loses nothing, where Slurm's
    own SIGTERM at the requeue would give it only KillWait seconds. Shells are left alone (one that gets
    SIGTERM dies at once and orphans its command); Snakemake takes SIGTERM as a graceful stop (no new job).
    The service is started before the command, which finds its socket in the service's variable, and stopped
    after the command has ended, or in `checkpoint` once the command's processes have stopped (its workers may be
    finishing what those processes asked of them until then).
    """

    def __init__(self, command: str, stop_seconds: float = 60.0, service: Optional[services.Service] = None):
        self.command = command
        self.stop_seconds = stop_seconds
        self.service = service
        self.process: Optional[subprocess.Popen] = None
        self.running_service: Optional[services.RunningService] = None

    def __getstate__(self):
        return {"command": self.command, "stop_seconds": self.stop_seconds, "service": self.service, "process": None,
                "running_service": None}

    def __call__(self) -> None:
        environment = None
        if self.service is not None:
            try:
                self.running_service = services.start(self.service)
            except OSError as error:  # no temporary folder, an unwritable log: the jobs run without it
                print(f"submitit-plugin: could not start the allocation service ({error}); the jobs run without it",
                      flush=True)
            if self.running_service is not None and self.running_service.running and self.running_service.socket:
                environment = {**os.environ, self.service.variable: str(self.running_service.socket)}
        try:
            # Slurm sends its checkpoint signal (USR2) to every process of the job, and USR2 ends a process that does
            # not handle it: Snakemake, its shells and anything else but the jobs that save their state on it would
            # die at once, before `checkpoint` could stop them in order. They ignore it (a job may still handle it).
            self.process = subprocess.Popen(["bash", "-c", self.command], env=environment, start_new_session=True,
                                            preexec_fn=services.ignore_checkpoint_signal)
            status = self.process.wait()
        finally:
            if self.running_service is not None:
                self.running_service.stop()
        if status != 0:
            raise subprocess.CalledProcessError(status, ["bash", "-c", self.command])

    def checkpoint(self, *args, **kwargs) -> submitit.helpers.DelayedSubmission:
        started = time.monotonic()
        if self.process is not None and self.process.returncode is None:
            signalled, stopped = stop_processes(self.process.pid, self.stop_seconds)
            print(f"submitit-plugin: asked the command's processes to stop ({', '.join(sorted(set(signalled)))}); "
                  + (f"all ended after {time.monotonic() - started:.0f} s" if stopped else
                     f"some still ran after {self.stop_seconds:.0f} s"), flush=True)
        if self.running_service is not None:
            self.running_service.stop(max(1.0, self.stop_seconds - (time.monotonic() - started)))
        return submitit.helpers.DelayedSubmission(ShellCommand(self.command, self.stop_seconds, self.service))


SHELLS = {"bash", "sh", "dash", "zsh", "ksh"}
STOP_MARGIN_SECONDS = 15  # of the signal delay, left for submitit to requeue after the command's processes stopped


SHORT_LIMIT_MINUTES = 10  # below it, a requeued job spends much of each attempt starting; submitit counts a
# requeue of a job this short as a timeout whatever the cause (its has_timed_out: 80 % of the limit, or 10 min before)


def signal_delay(setting_s: int, limit_minutes: int) -> int:
    """Seconds before the time limit at which the job is signalled to checkpoint: the setting, but at most a quarter
    of the limit, so that a short limit still leaves most of each attempt for work (a 2-minute limit and the
    default 90 s left 30 s, most of it start-up: four attempts trained one epoch in all)."""
    return max(1, min(setting_s, limit_minutes * 60 // 4))


def stop_seconds(signal_delay_s: float) -> float:
    """How long `checkpoint` waits for the command's processes to stop: the signal delay less a margin."""
    return max(1.0, signal_delay_s - STOP_MARGIN_SECONDS)


def _process_table() -> Dict[int, tuple]:
    """pid -> (parent pid, command name, start time, state) of every process, from /proc."""
    table = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as stat:
                text = stat.read()
        except OSError:
            continue
        name = text[text.index("(") + 1 : text.rindex(")")]
        fields = text[text.rindex(")") + 2 :].split()
        table[int(entry.name)] = (int(fields[1]), name, fields[19], fields[0])
    return table


def _descendants(pid: int, table: Dict[int, tuple]) -> List[int]:
    children: Dict[int, List[int]] = {}
    for child, (parent, *_rest) in table.items():
        children.setdefault(parent, []).append(child)
    found, pending = [], list(children.get(pid, []))
    while pending:
        process = pending.pop()
        found.append(process)
        pending.extend(children.get(process, []))
    return found


def stop_processes(pid: int, seconds: float) -> tuple[List[str], bool]:
    """SIGTERM to every process below `pid` that is not a shell, and to any that appears meanwhile (a worker
    started in the place of one that stopped). Their names, and whether all had ended within `seconds`."""
    signalled: Dict[int, str] = {}  # pid -> start time, so that a reused pid is not taken for one of ours
    names: List[str] = []
    deadline = time.monotonic() + seconds
    while True:
        table = _process_table()
        for process in _descendants(pid, table):
            _, name, started, state = table[process]
            if name not in SHELLS and process not in signalled and state != "Z":
                try:
                    os.kill(process, signal.SIGTERM)
                except ProcessLookupError:
                    continue
                signalled[process] = started
                names.append(name)
        running = [p for p, started in signalled.items() if p in table and table[p][2] == started and table[p][3] != "Z"]
        if not running and not any(table.get(p, (0, "", "", "Z"))[3] != "Z" for p in _descendants(pid, table)):
            return names, True
        if time.monotonic() > deadline:
            return names, False
        time.sleep(0.2)


def hang_up_as_interrupt() -> None:
    """Take a hang-up (the terminal closed, the ssh session dropped) as a Ctrl-C. By default SIGHUP ends Snakemake at
    once (status 129), before it can cancel the jobs it submitted: they ran on unseen, and a rerun submitted them
    again. Re-sent as SIGINT it goes the way of a Ctrl-C, whose KeyboardInterrupt cancels them (cancel_jobs). A
    SIGHUP that is ignored (nohup) or already handled is left so."""
    hang_up = getattr(signal, "SIGHUP", None)
    if hang_up is None or threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(hang_up) is signal.SIG_DFL:
        signal.signal(hang_up, lambda number, frame: os.kill(os.getpid(), signal.SIGINT))


def _postprocess_as_finished(job) -> None:
    """Make Snakemake post-process `job` as finished even when its group is post-processed as failed."""
    postprocess = job.postprocess

    async def as_finished(*args, error=False, **kwargs):
        return await postprocess(*args, **kwargs)

    job.postprocess = as_finished


def _parse_flags(text: Optional[str]) -> Dict[str, object]:
    """'--exclude=n3 --requeue' -> {'exclude': 'n3', 'requeue': True} for submitit's additional_parameters."""
    flags: Dict[str, object] = {}
    for token in shlex.split(text or ""):
        name, equals, value = token.lstrip("-").partition("=")
        flags[name.replace("-", "_")] = value if equals else True
    return flags


class Executor(RemoteExecutor):
    def __post_init__(self):
        self.settings = self.workflow.executor_settings
        self.poll_seconds = self.settings.min_poll_seconds
        self.missing: Counter = Counter()
        self.missing_since: Dict[str, float] = {}
        self.last_states: Dict[str, str] = {}
        self.silent_since: Optional[float] = None  # when Slurm stopped answering status queries
        self.warned_limits: set = set()  # time limits (minutes) already warned about as short
        self.failures: List[tuple] = []  # (job info, message) found by a status check, reported at its end
        self.orphans: Optional[Dict[str, List[str]]] = None  # an earlier run's jobs here: read at the first submission
        hang_up_as_interrupt()

    # -- submission ---------------------------------------------------------------------------
    @staticmethod
    def shared_wildcards(job: JobExecutorInterface) -> Dict[str, str]:
        """The wildcards every Snakemake job of `job` (one job, or the jobs of a group) has, with the same value."""
        members = list(job.jobs) if job.is_group() else [job]
        wildcards = [dict(getattr(member, "wildcards_dict", {}) or {}) for member in members]
        return {k: str(v) for k, v in wildcards[0].items() if all(w.get(k) == v for w in wildcards)}

    @staticmethod
    def rule_or_group(job: JobExecutorInterface) -> str:
        """What a Slurm job's name and log folder begin with: its rule, or its group without the instance."""
        return job.groupid.split("@")[0] if job.is_group() else job.name  # a group `name@instance` goes by its name

    def log_folder(self, job: JobExecutorInterface) -> Path:
        """`<log-dir>/<rule or group>/<values of the wildcards its jobs share>`, e.g. logs/slurm/finetune/tiny/hau/base
        for a group of every seed of a row (logs/slurm/finetune/tiny/hau/base/1 when the group holds seed 1 alone)."""
        label = "/".join(self.shared_wildcards(job).values()) or f"job{job.jobid}"
        return Path(self.settings.log_dir) / self.rule_or_group(job) / re.sub(r"[^\w./=-]", "_", label)

    def job_name(self, job: JobExecutorInterface) -> str:
        """`<rule or group>:<wildcard>=<value>,...` for the wildcards its jobs share (e.g. finetune:row=tiny/hau/base):
        squeue then tells which Snakemake jobs a Slurm job runs, as a status view needs (queue.wildcards_of reads it
        back, `python -m snakemake_executor_plugin_submitit queue` gives it to programs that keep Snakemake out)."""
        return job_name(self.rule_or_group(job), self.shared_wildcards(job))

    def allocation(self, job: JobExecutorInterface) -> Allocation:
        """What one Slurm job asks for, and the limits the Snakemake it runs keeps to on the node.

        A group with jobs that use a GPU gets the GPU of the widest of them and, for
        `gpu-jobs-at-once` of them running side by side, their CPUs and memory added up; the
        group's other jobs run inside that budget, as many at a time as its CPUs allow. (Left to
        itself Snakemake sums every job of a group that could run in parallel: ten evaluations
        beside one fine-tune would ask for ten CPUs.) Other jobs and groups ask for what
        Snakemake computed for them.
        """
        members = list(job.jobs) if job.is_group() else [job]
        gpu_jobs = [m for m in members if int(m.resources.get("gpus", 0) or 0) > 0]
        if not job.is_group() or not gpu_jobs:
            resources = job.resources
            return Allocation(job.threads, resources.get("mem_mb"), int(resources.get("gpus", 0) or 0),
                              max(1, int(resources.get("runtime", 60))))
        at_once = max(1, min(self.settings.gpu_jobs_at_once, len(gpu_jobs)))
        threads = max(m.threads for m in gpu_jobs)
        memory = max(int(m.resources.get("mem_mb", 0) or 0) for m in gpu_jobs) * at_once or None
        others = [m for m in members if m not in gpu_jobs]
        other_rounds = -(-len(others) // max(1, threads * at_once // max([m.threads for m in others] or [1])))
        runtime = (-(-len(gpu_jobs) // at_once) * max(int(m.resources.get("runtime", 60)) for m in gpu_jobs)
                   + other_rounds * max([int(m.resources.get("runtime", 60)) for m in others] or [0]))
        gpus = max(int(m.resources.get("gpus", 0) or 0) for m in gpu_jobs)
        return Allocation(threads * at_once, memory, gpus, max(1, runtime),
                          node_limits={"mem_mb": memory, "gpus": at_once} if memory else {"gpus": at_once})

    def slurm_parameters(self, job: JobExecutorInterface) -> Dict[str, object]:
        resources, allocation = job.resources, self.allocation(job)
        pick = lambda name: resources.get(f"slurm_{name}") or getattr(self.settings, name)  # noqa: E731
        gres = resources.get("slurm_gres")
        if allocation.gpus and not gres:
            gres = f"gpu:{self.settings.gpu_type}:{allocation.gpus}" if self.settings.gpu_type else f"gpu:{allocation.gpus}"
        parameters = {
            "job_name": self.job_name(job),
            "time": allocation.runtime,
            "ntasks_per_node": 1,
            "cpus_per_task": allocation.cpus,
            "mem": f"{allocation.mem_mb}M" if allocation.mem_mb else None,
            "gres": gres,
            "partition": pick("partition"),
            "account": pick("account"),
            "qos": pick("qos"),
            "constraint": pick("constraint"),
            "signal_delay_s": signal_delay(self.settings.signal_delay_s, allocation.runtime),
            "stderr_to_stdout": True,
            "additional_parameters": {**_parse_flags(self.settings.sbatch_extra), **_parse_flags(resources.get("slurm_extra"))},
        }
        return {key: value for key, value in parameters.items() if value not in (None, {})}

    def service(self, folder: Path, cpus: int) -> Optional[services.Service]:
        """The profile's `allocation-service` for a Slurm job of `cpus` CPUs logging to `folder`, if it names one."""
        command = (self.settings.allocation_service or "").strip()
        if not command:
            return None
        return services.Service(command.replace("{cpus}", str(cpus)), self.settings.allocation_service_env,
                                str(folder.resolve()))

    def get_job_args(self, job: JobExecutorInterface) -> str:
        """A group runs inside its allocation: its Snakemake gets the allocation's CPUs and, as `--resources`, its
        memory and GPU slots (or, for a group without GPU jobs, the run's own `resources:` limits). It always keeps
        going: one job that fails does not stop its neighbours (the other seeds of a row), whose outputs this run
        then keeps (`keep_finished_members`)."""
        args = super().get_job_args(job)
        if not job.is_group():
            return args
        args += " --keep-going"
        allocation = self.allocation(job)
        limits = allocation.node_limits
        if limits is None:
            resources = getattr(self.workflow, "global_resources", {})
            given = {name: getattr(value, "value", value) for name, value in resources.items()}
            limits = {name: value for name, value in given.items()
                      if name not in ("_cores", "_nodes") and isinstance(value, int) and not isinstance(value, bool)}
        else:
            args += " " + format_cli_arg("--cores", allocation.cpus)
        if limits:
            args += " " + format_cli_arg("--resources", [f"{name}={value}" for name, value in limits.items()])
        return args

    def get_jobname(self, job: JobExecutorInterface) -> str:
        # A group named after wildcards that hold paths (finetune@tiny/hau/base) would put a "/" into the name of
        # the file Snakemake lists a big group's input files in; that name only has to be unique.
        return super().get_jobname(job).replace(os.path.sep, "_")

    def additional_general_args(self) -> str:
        # The node's Snakemake prints a failed job's own log into the Slurm log, whose tail the failure message shows.
        return "--show-failed-logs"

    def cancel_orphans(self, name: str) -> None:
        """Cancel the jobs named `name` that an earlier run in this working directory left queued or running (its
        Snakemake died without cancelling them), and wait for them to leave the queue: each would work on the outputs
        of the job about to be submitted, beside it. They are cancelled rather than adopted: their command is the
        earlier run's (its plan may have changed since), and one held or bound to fail would never give this run
        its outputs."""
        if self.orphans is None:  # before this run submitted anything: every job found is an earlier run's
            found, error = jobs_in(os.getcwd())
            self.orphans = {}
            for queued in found:
                self.orphans.setdefault(queued.name, []).append(queued.id)
            if error:
                self.logger.warning(f"Could not look for jobs an earlier run left in Slurm ({error}): if one still "
                                    f"runs here, cancel it by hand, or it works beside its replacement.")
        ids = self.orphans.pop(name, [])
        if not ids:
            return
        _, error = run(["scancel", *ids])
        if error:
            self.logger.warning(f"Could not cancel Slurm job(s) {' '.join(ids)} ({name}), left by an earlier run in "
                                f"{os.getcwd()} ({error}): cancel them by hand (scancel {' '.join(ids)}).")
            return
        gone = wait_until_gone(ids, ORPHAN_WAIT_SECONDS)
        self.logger.warning(f"Cancelled Slurm job(s) {' '.join(ids)} ({name}), left queued or running in {os.getcwd()} "
                            f"by an earlier run, before submitting its replacement"
                            + ("" if gone else f"; still in the queue after {ORPHAN_WAIT_SECONDS} s") + ".")

    def run_job(self, job: JobExecutorInterface):
        folder = self.log_folder(job)
        self.cancel_orphans(self.job_name(job))
        executor = submitit.SlurmExecutor(folder=folder, max_num_timeout=self.settings.max_requeues)
        parameters = self.slurm_parameters(job)
        executor.update_parameters(**parameters)
        command = ShellCommand(self.format_job_exec(job), stop_seconds(parameters["signal_delay_s"]),
                               self.service(folder, parameters["cpus_per_task"]))
        try:
            submitted = executor.submit(command)
        except Exception as error:  # sbatch refused: say why, with the job
            raise WorkflowError(f"sbatch refused {job.name} (log folder {folder}): {error}") from error
        minutes = parameters["time"]
        if minutes < SHORT_LIMIT_MINUTES and minutes not in self.warned_limits:
            self.warned_limits.add(minutes)
            self.logger.warning(
                f"{self.job_name(job)} has a time limit of {minutes} min: it is signalled to checkpoint "
                f"{parameters['signal_delay_s']} s before it, and each requeued attempt starts Snakemake and its "
                f"imports again and counts as a timeout (at most submitit-max-requeues = {self.settings.max_requeues}); "
                f"a job that needs longer than one attempt may never finish. Give it a runtime of "
                f"{SHORT_LIMIT_MINUTES} min or more.")
        log = Path(folder) / f"{submitted.job_id}_0_log.out"
        what = f"group {job.groupid} ({folder.relative_to(self.settings.log_dir)})" if job.is_group() else job.name
        self.logger.info(f"Submitted {what} as Slurm job {submitted.job_id}; log: {log}")
        self.report_job_submission(
            SubmittedJobInfo(job, external_jobid=submitted.job_id, aux={"folder": folder, "log": log, "asked": parameters})
        )

    # -- status -------------------------------------------------------------------------------
    async def check_active_jobs(self, active_jobs: List[SubmittedJobInfo]) -> AsyncGenerator[SubmittedJobInfo, None]:
        """One squeue (and, for jobs that left it, one sacct) call for all jobs of the run."""
        async with self.status_rate_limiter:
            answer = query_states([info.external_jobid for info in active_jobs])
        if answer.queue_error:  # Slurm did not answer: nothing is known, every job stays as it was
            for info in self.ride_out(answer.queue_error, active_jobs):
                yield info
            await self.report_failures()
            self.back_off(changed=False)
            return
        if self.silent_since is not None:
            self.logger.info(f"Slurm answers status queries again after {time.monotonic() - self.silent_since:.0f} s")
            self.silent_since = None
        changed = False
        for info in active_jobs:
            job_id = info.external_jobid
            known = answer.states.get(job_id)
            state = known.state if known else result_of(info.aux["folder"], job_id)
            changed |= state != self.last_states.get(job_id)
            self.last_states[job_id] = state
            if state is not None:
                self.missing.pop(job_id, None)
                self.missing_since.pop(job_id, None)
            if state in ACTIVE and known and state == "PENDING" and known.reason in NEVER_STARTS:
                self.give_up(info, self.never_starts_message(info, known.reason))
            elif state in ACTIVE:
                yield info
            elif state in SUCCEEDED:
                self.report_job_success(info)
            elif state in FAILED:
                self.report_failure(info, self.failure_message(info, state))
            elif self.is_lost(job_id, answer.accounting_error):
                self.give_up(info, self.failure_message(info, "LOST (left the queue; neither sacct nor a result file "
                                                               "says how it ended)"))
            else:
                yield info
        await self.report_failures()
        self.back_off(changed)

    def back_off(self, changed: bool) -> None:
        """Poll again soon after a change, less often (up to max_poll_seconds) while nothing changes."""
        self.poll_seconds = self.settings.min_poll_seconds if changed else min(
            self.settings.max_poll_seconds, 1.5 * self.poll_seconds)
        self.next_seconds_between_status_checks = self.poll_seconds

    def ride_out(self, error: str, active_jobs: List[SubmittedJobInfo]):
        """Keep every job through an outage of slurmctld; past `status_outage_limit_s`, give them up."""
        now = time.monotonic()
        if self.silent_since is None:
            self.silent_since = now
            self.logger.warning(f"Slurm did not answer a status query ({error}); keeping the {len(active_jobs)} "
                                f"submitted job(s) as they were and asking again, for up to "
                                f"{self.settings.status_outage_limit_s:.0f} s (submitit-status-outage-limit-s)")
        if now - self.silent_since <= self.settings.status_outage_limit_s:
            yield from active_jobs
            return
        for info in active_jobs:
            self.give_up(info, f"Slurm has not answered status queries for {now - self.silent_since:.0f} s (last: "
                               f"{error}), longer than submitit-status-outage-limit-s; job {info.external_jobid} may still "
                               f"run or be queued. Check with squeue once Slurm is back. Log: {info.aux['log']}")

    def is_lost(self, job_id: str, accounting_error: Optional[str]) -> bool:
        """Absent from a working squeue: lost after a few polls if sacct answered, after the outage limit if not."""
        self.missing[job_id] += 1
        since = self.missing_since.setdefault(job_id, time.monotonic())
        if accounting_error is None:
            return self.missing[job_id] >= MISSING_POLLS_BEFORE_LOST
        return time.monotonic() - since > self.settings.status_outage_limit_s

    def give_up(self, info: SubmittedJobInfo, message: str) -> None:
        """Cancel a job before reporting it failed, so that no orphan runs beside its replacement."""
        _, error = run(["scancel", str(info.external_jobid)])
        cancelled = f"Cancelled Slurm job {info.external_jobid}." if error is None else (
            f"Could not cancel Slurm job {info.external_jobid} ({error}): cancel it by hand before a rerun.")
        self.report_failure(info, f"{message}\n{cancelled}")

    def report_failure(self, info: SubmittedJobInfo, message: str) -> None:
        """Report a job failed at the end of this status check (report_failures)."""
        self.failures.append((info, message))

    async def report_failures(self) -> None:
        failures, self.failures = self.failures, []
        for info, message in failures:
            if info.job.is_group():
                kept = await self.keep_finished_members(info.job)
                if kept:
                    message += (f"\nKept the outputs of the {len(kept)} job(s) of the group that finished: "
                                + "; ".join(self.describe(member) for member in kept))
                undone = [member for member in self.members(info.job) if member not in kept]
                message += f"\nNot done ({len(undone)}): " + "; ".join(
                    self.describe(member) + "".join(f", log {log}" for log in member.log) for member in undone)
                # Snakemake prints the message of a single job but drops that of a group job (GroupJob.log_error
                # ignores it) and lists every job of the group as failed, even those that finished or never ran;
                # every fine-tune is a group: say it once ourselves (print_job_error), naming the Slurm log.
                self.logger.error(f"Error in group {info.job.groupid}: {message}")
            self.report_job_error(info, msg=message, aux_logs=[str(info.aux["log"])])

    def print_job_error(self, job_info: SubmittedJobInfo, msg=None, **kwargs):
        if not job_info.job.is_group():  # a group's error was said once, with what finished (report_failures)
            super().print_job_error(job_info, msg, **kwargs)

    async def keep_finished_members(self, group: JobExecutorInterface) -> list:
        """The jobs of a failed group that finished on the node, made to be post-processed as finished.

        Snakemake cleans up after a failed group job by deleting the outputs of every job in it, also those
        that finished before a neighbour failed (a fine-tune of another seed). A job finished when its outputs
        exist and the node's Snakemake has removed its incomplete marker, as it does for a job that ended well
        (a job that failed there lost its outputs; one killed or never run keeps the marker this run set at
        submission). Such a job is post-processed as a success: its outputs stay, its metadata is recorded, and
        the next run does not redo it.
        """
        persistence = self.workflow.persistence
        persistence.deactivate_cache()  # the node's Snakemake changed the markers: read them afresh
        finished = []
        for member in self.members(group):
            outputs = list(member.output)
            if outputs and all(os.path.exists(path) for path in outputs) and not await persistence.incomplete(member):
                _postprocess_as_finished(member)
                finished.append(member)
        return finished

    def members(self, group: JobExecutorInterface) -> list:
        """A group's jobs in the order they run (and by name within a step)."""
        return [member for level in group.toposorted for member in sorted(level, key=self.describe)]

    @staticmethod
    def describe(job: JobExecutorInterface) -> str:
        wildcards = ", ".join(f"{name}={value}" for name, value in (getattr(job, "wildcards_dict", {}) or {}).items())
        return f"{job.name} ({wildcards})" if wildcards else job.name

    def failure_message(self, info: SubmittedJobInfo, state: str) -> str:
        """The Slurm id, how it ended, the log, and the log's last lines before submitit's own traceback
        (which says only that the command failed): there the node's Snakemake printed the failed job's log."""
        log: Path = info.aux["log"]
        lines = log.read_text(errors="replace").splitlines() if log.exists() else ["(no log written)"]
        ours = next((i for i, line in enumerate(lines) if line.startswith("submitit ERROR")), len(lines))
        start = max(0, ours - 25)
        # A group's Snakemake keeps going after a job fails: that job's error (and log) may lie well above the tail.
        errors = []
        for i, line in enumerate(lines[:start]):
            if line.startswith("Error in rule "):
                end = next((j for j in range(i + 1, start) if _TIMESTAMP.match(lines[j])), None)
                if end is None:  # it runs into the last lines: show them from there
                    start = max(i, ours - 80)
                    break
                errors.append("\n".join(lines[i : min(end, i + 40)]))
        above = "Errors above them:\n" + "\n".join(errors) + "\n" if errors else ""
        tail = "\n".join(lines[start:ours])
        return f"Slurm job {info.external_jobid} ended {state}. Log {log}. {above}Last lines:\n{tail}\n"

    def never_starts_message(self, info: SubmittedJobInfo, reason: str) -> str:
        asked = info.aux["asked"]
        wanted = ", ".join(f"{key}={asked[key]}" for key in ("cpus_per_task", "mem", "gres", "time", "partition",
                                                             "account", "qos", "constraint") if key in asked)
        return (f"Slurm job {info.external_jobid} can never start: it is pending with reason {reason}, which waiting "
                f"does not clear. Asked: {wanted} (time in minutes). Offered: {partition_offer(asked.get('partition'))}. "
                "Lower the job's threads/resources (the profile's cores, resources, set-resources) or choose a "
                "partition that fits (submitit-partition).")

    def cancel_jobs(self, active_jobs: List[SubmittedJobInfo]):
        ids = [str(info.external_jobid) for info in active_jobs]
        if ids:
            _, error = run(["scancel", *ids])
            if error:  # a job left running unseen would train beside its replacement on the next run
                self.logger.error(f"Could not cancel Slurm job(s) {' '.join(ids)} ({error}): cancel them by hand "
                                  f"(scancel {' '.join(ids)}) before running again.")
