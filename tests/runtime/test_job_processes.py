"""Interrupting a run: a Ctrl-C is never lost, and a local run's job processes are asked to stop first."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from nertransfer.runtime.job_processes import working_descendants

# A process that writes a log line every 10 ms through Snakemake's own log handler, which catches
# KeyboardInterrupt and carries on; while the first line is being written, the process gets a SIGINT (as a
# Ctrl-C landing then would). The process says how it ended.
LOGGING_LOOP = textwrap.dedent("""
    import io, logging, os, signal, sys, time
    from snakemake.logging import ColorizingTextHandler
    from nertransfer.runtime.job_processes import handle_interrupts

    class InterruptedWhileWriting(io.StringIO):
        sent = False

        def write(self, text):
            if not self.sent:
                self.sent = True
                os.kill(os.getpid(), signal.SIGINT)
                for _ in range(1000):  # the handler runs here, inside Snakemake's emit
                    pass
            return super().write(text)

    if sys.argv[1] == "guarded":
        handle_interrupts(not_inside=(("snakemake/logging.py", "emit"),))
    log = logging.getLogger("run")
    log.addHandler(ColorizingTextHandler(stream=InterruptedWhileWriting()))
    log.propagate = False
    started = time.monotonic()
    try:
        while time.monotonic() - started < 5:
            log.warning("Submitted a job")
            time.sleep(0.01)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        sys.exit(130)
    print("the interrupt was lost", flush=True)
""")


def run_logging_loop(mode: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", LOGGING_LOOP, mode], capture_output=True, text=True, timeout=60)


def test_snakemakes_log_handler_swallows_a_ctrl_c_that_lands_while_it_writes():
    """The fault this module guards against, shown with Snakemake's real handler."""
    result = run_logging_loop("unguarded")
    assert result.stdout.strip() == "the interrupt was lost", result.stderr[-2000:]


def test_a_ctrl_c_that_lands_while_snakemake_writes_a_log_line_is_delivered_once_it_is_written():
    started = time.monotonic()
    result = run_logging_loop("guarded")
    assert result.stdout.strip() == "interrupted" and result.returncode == 130, (result.stdout, result.stderr[-2000:])
    assert time.monotonic() - started < 4  # at once, not after the loop's 5 s


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_the_working_descendants_are_the_leaves_below_a_process_not_the_shells_between():
    shell = subprocess.Popen(["bash", "-c", "sleep 30 & sleep 30 & wait"])
    try:
        deadline = time.monotonic() + 10
        while len(working_descendants(shell.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        leaves = working_descendants(shell.pid)
        assert len(leaves) == 2 and shell.pid not in leaves
        assert all(Path(f"/proc/{pid}/cmdline").read_text().startswith("sleep") for pid in leaves)
    finally:
        shell.send_signal(signal.SIGKILL)
        subprocess.run(["pkill", "-P", str(shell.pid)])
        shell.wait()


# A process that installs the handler (a local run's: its jobs are stopped), starts a job, says "ready" and waits; it
# says how it ended, and how its job ended. With "nohup" it starts with SIGHUP ignored, as under `nohup`.
HANG_UP = textwrap.dedent("""
    import signal, subprocess, sys, time
    from nertransfer.runtime.job_processes import handle_interrupts

    # as a terminal starts it, whether or not the tests themselves run under nohup
    signal.signal(signal.SIGHUP, signal.SIG_IGN if sys.argv[1] == "nohup" else signal.SIG_DFL)
    handle_interrupts(stop_jobs=True)
    job = subprocess.Popen(["sleep", "30"])
    try:
        print("ready", flush=True)
        time.sleep(3)
        print("went on", flush=True)
    except KeyboardInterrupt:
        print(f"interrupted; job ended {job.wait()}", flush=True)
    job.kill()
""")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("mode, ending", [("plain", "interrupted; job ended -15"), ("nohup", "went on")])
def test_a_hang_up_is_a_ctrl_c_that_stops_a_local_runs_jobs_unless_ignored_by_nohup(mode, ending):
    process = subprocess.Popen([sys.executable, "-c", HANG_UP, mode], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "ready"
    process.send_signal(signal.SIGHUP)
    output, _ = process.communicate(timeout=30)
    assert output.strip() == ending and process.returncode == 0, (output, process.returncode)
