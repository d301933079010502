"""The default run (`snakemake -j4`) on this machine: 4 jobs at once against at most one per CPU, in one bench run.

`snakemake -j4` lets four jobs run at once, each training or evaluating with one thread. On a
machine with fewer cores than that they take turns on the cores and lose time to switching and
to each other's caches. A local run's warm server now runs at most as many jobs as there are
CPUs (`local_jobs_at_once`, default: the CPUs available); the others wait their turn. This
bench runs the whole default config twice from an empty work folder, once with
`local_jobs_at_once=4` (every job Snakemake starts runs at once: the behaviour before) and once
with the default, and prints both wall times, their ratio, and whether every fine-tune's model
and every evaluation's metrics are byte-identical between the two (they must be: only the
order in which the jobs run changes). The machine should be otherwise idle.
Usage, from the repository root: python bench/local_run.py [--jobs 4]
"""

from __future__ import annotations

import argparse
import datetime
import filecmp
import os
import subprocess
import sys
import time
from pathlib import Path

from common import REPO, machine, workspace


def default_run(folder: Path, jobs: int, jobs_at_once: int | None) -> float:
    """The default config, run from nothing in `folder`; its wall-clock seconds."""
    command = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(folder), f"-j{jobs}",
               "--configfile", str(REPO / "config" / "config.yaml"), "--quiet", "rules"]
    if jobs_at_once:
        command += ["--config", f"local_jobs_at_once={jobs_at_once}"]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"the run in {folder} failed:\n{(done.stdout + done.stderr)[-3000:]}")
    return time.perf_counter() - started


def compared(one: Path, other: Path) -> tuple[int, list[str]]:
    """The number of model and metrics files compared, and those that differ (or are missing in `other`)."""
    names = sorted(p.relative_to(one) for p in (one / "work").rglob("*")
                   if p.name in ("model.safetensors", "metrics.json", "dev_metrics.json"))
    return len(names), [str(n) for n in names if not (other / n).exists() or not filecmp.cmp(one / n, other / n, shallow=False)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=4, help="snakemake -j (default 4)")
    options = parser.parse_args()
    print(f"{datetime.datetime.now():%Y-%m-%d %H:%M}  default config, snakemake -j{options.jobs}, {os.cpu_count()} CPUs, "
          f"on {machine()}, load average {os.getloadavg()[0]:.2f}")
    with workspace() as folder:
        folder = Path(folder)
        before = default_run(folder / "before", options.jobs, options.jobs)
        print(f"  every job at once (local_jobs_at_once={options.jobs}): {before:7.1f} s")
        after = default_run(folder / "after", options.jobs, None)
        print(f"  at most one job per CPU (the default):    {after:7.1f} s")
        files, differing = compared(folder / "before", folder / "after")
    print(f"  ratio, before / after: {before / after:.2f}x")
    print(f"  {files} model and metrics files compared: "
          + ("all byte-identical" if not differing else f"{len(differing)} differ, e.g. {differing[:3]}"))


if __name__ == "__main__":
    main()
