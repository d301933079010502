"""Per-job overhead of `executor: submitit` on Slurm, against a bare submitit job, in one run.

Needs a running Slurm cluster (tests/slurm/start.sh starts one; export SLURM_CONF as it prints).
Builds a toy workflow of N independent `touch` jobs in a temporary folder and times
  1. bare submitit: submit N no-op Python jobs with submitit.SlurmExecutor and wait for all;
  2. the workflow through `snakemake --executor submitit -j N`;
  3. the same workflow locally (`snakemake -j N`), the floor of Snakemake's own cost;
and prints the seconds per job and the ratios.  Usage: python bench/slurm_overhead.py [--jobs N]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import wall_seconds

SNAKEFILE = """
rule all:
    input: expand("out/{{i}}.txt", i=range({n}))

rule touch:
    output: "out/{{i}}.txt"
    resources: mem_mb=100, runtime=5
    shell: "touch {{output}}"
"""


def noop() -> int:
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=4)
    n = parser.parse_args().jobs
    import submitit

    with tempfile.TemporaryDirectory(dir=".") as folder:
        folder = Path(folder).resolve()
        executor = submitit.SlurmExecutor(folder=folder / "bare")
        executor.update_parameters(time=5, mem="100M", cpus_per_task=1)
        started = time.perf_counter()
        jobs = [executor.submit(noop) for _ in range(n)]
        [job.result() for job in jobs]
        bare = time.perf_counter() - started

        (folder / "Snakefile").write_text(SNAKEFILE.format(n=n))
        base = [sys.executable, "-m", "snakemake", "-j", str(n), "--quiet", "all"]
        slurm = wall_seconds([*base, "--executor", "submitit", "--submitit-log-dir", "logs"], folder)
        subprocess.run(["rm", "-rf", "out", ".snakemake"], cwd=folder, check=True)
        local = wall_seconds(base, folder)
    print(f"{n} independent jobs, one-node cluster, submitted at once")
    print(f"  bare submitit (submit + wait for results): {bare:6.1f} s  ({bare / n:.2f} s/job)")
    print(f"  snakemake --executor submitit:             {slurm:6.1f} s  ({slurm / n:.2f} s/job)")
    print(f"  snakemake, local executor (floor):         {local:6.1f} s")
    print(f"  ratio submitit-executor / bare submitit: {slurm / bare:.1f}x; "
          f"executor overhead beyond bare submitit and local Snakemake: {(slurm - bare - local) / n:.2f} s/job")


if __name__ == "__main__":
    main()
