"""Snakemake's own overhead for the paper's matrices: our workflow against a touch-only floor, in one run.

For each matrix (A: config/paper.yaml as is, MasakhaNER 1.0, 150 fine-tunes, 1,500 evaluations;
B: the same on MasakhaNER 2.0, 300 fine-tunes, 6,000 evaluations) it times the wall-clock of the
whole `python -m snakemake` process, default target, median of 3 runs (1 run if one takes > 60 s):
  1. dry run: `snakemake -n --quiet` in an empty work folder (nothing built);
  2. no-op rerun: `snakemake -j1` in a folder in the state of a finished run, which must answer
     "Nothing to be done". The bench makes that state without running anything: `snakemake --touch`
     records Snakemake's metadata of every job (params, input, code, as a real run does) and lists
     the jobs in DAG order; the bench then creates each job's outputs in that order, 1 ms apart
     (outputs without a suffix are directory() outputs: a folder and its .snakemake_timestamp),
     and checks that a dry run has nothing to do;
for our Snakefile and, side by side (runs interleaved), for the floor: a touch-only Snakefile the
bench writes from the same config values, with the same rule names, jobs per rule, dependencies and
wildcard layout, `touch`/`mkdir -p` shells, plain expand(), one dict lookup for the start checkpoint
and no config validation. Prints the jobs per rule, the times and the ratios ours / floor; the goal
is the no-op rerun of matrix B within 1.3x of the floor. The machine should be otherwise idle.
Usage, from the repository root: python bench/snakemake_overhead.py [--matrix A] [--matrix B]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import snakemake
import yaml  # a dependency of snakemake

REPO = Path(__file__).resolve().parent.parent
PAPER = REPO / "config" / "paper.yaml"
# The 3 x languages x 5 matrix itself: paper.yaml's cross cells and analyses are left out here, as
# the floor has no rules for them.
BASE = {"experiment": {"extra": []}, "analyses": {"overlap": False, "checkpoint_effects": []}}
MATRICES = {"A": ("paper matrix, MasakhaNER 1.0", BASE),
            "B": ("MasakhaNER 2.0 matrix", {**BASE, "experiment": {"extra": [], "dataset": "masakhaner-2.0"}})}
RULES = ["prefetch_checkpoint", "prefetch_language_checkpoint", "train", "evaluate", "card", "tables", "all"]

FLOOR = r'''# Touch-only floor: the shape of nertransfer's workflow, read from shape.json beside this file.
import json
S = json.load(open(workflow.basedir + "/shape.json"))
RUN = "work/runs/{checkpoint}/{language}/base/seed{seed}"
DATA = S["data"]
START = {c: "work/checkpoints/" + c + ("/{language}" if c in S["templates"] else "") for c in S["checkpoints"]}
CELLS = dict(checkpoint=S["checkpoints"], language=S["languages"], seed=S["seeds"])

wildcard_constraints:
    checkpoint="[^/]+", hub="[^/]+", template="[^/]+", language="[^/]+", eval_language="[^/]+", seed="[0-9]+",

rule all:
    default_target: True
    input: S["tables"]

rule prefetch_checkpoint:
    output: directory("work/checkpoints/{hub}")
    shell: "mkdir -p {output}"

rule prefetch_language_checkpoint:
    output: directory("work/checkpoints/{template}/{language}")
    shell: "mkdir -p {output}"

rule train:
    input:
        train=DATA.replace("{split}", "train"),
        dev=DATA.replace("{split}", "dev"),
        checkpoint=lambda w: START[w.checkpoint].format(language=w.language),
    output: records=directory(RUN + "/train"), model=directory(RUN + "/model")
    shell: "mkdir -p {output}"

rule evaluate:
    input: model=RUN + "/model", test=DATA.replace("{language}", "{eval_language}").replace("{split}", "test")
    output: RUN + "/eval/{eval_language}/predictions.conll", RUN + "/eval/{eval_language}/metrics.json"
    shell: "touch {output}"

rule card:
    input: run=RUN + "/train", test=RUN + "/eval/{language}/metrics.json"
    output: RUN + "/README.md"
    shell: "touch {output}"

rule tables:
    input:
        expand(RUN + "/eval/{eval_language}/metrics.json", **CELLS, eval_language=S["eval_languages"]),
        expand(RUN + "/README.md", **CELLS),
    output: S["tables"]
    shell: "touch {output}"
'''


def run(command: list[str], expect: str | None = None) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    output = done.stdout + done.stderr
    if done.returncode or (expect and expect not in output):
        sys.exit(f"unexpected result of {' '.join(command)}:\n{output[-3000:]}")
    return elapsed, output


def folders(root: Path) -> tuple[Path, Path]:
    """An empty work folder (for dry runs) and one to fill (for no-op reruns), each with data/."""
    for name in ("empty", "done"):
        (root / name).mkdir(parents=True)
        (root / name / "data").symlink_to(REPO / "data")
    return root / "empty", root / "done"


def fill(command: list[str], folder: Path) -> dict:
    """Bring `folder` to the state of a finished run; return the jobs per rule and the tables' outputs."""
    _, log = run([*command, "--touch", "-j100"])  # records every job's metadata; lists jobs in DAG order
    stats = log.split("Job stats:")[1].split("\ntotal")[0]
    counts = {rule: int(n) for rule, n in re.findall(r"^(\w+)\s+(\d+)$", stats, re.M)}
    jobs = re.findall(r"^(?:local)?rule (\w+):\n(?:    input: .*\n)?    output: (.*)$", log, re.M)
    assert len(jobs) == sum(counts.values()) - counts.get("all", 0), "could not parse the job listing"
    start = time.time_ns() - len(jobs) * 1_000_000
    for step, (_, outputs) in enumerate(jobs):  # each job's outputs 1 ms newer than its inputs
        for path in outputs.split(", "):
            path = folder / path
            if path.suffix:
                path.parent.mkdir(parents=True, exist_ok=True)
            else:  # a directory() output: Snakemake dates it by its .snakemake_timestamp
                path.mkdir(parents=True, exist_ok=True)
                path = path / ".snakemake_timestamp"
            path.touch()
            os.utime(path, ns=(start + step * 1_000_000,) * 2)
    run([*command, "-n"], expect="Nothing to be done")
    return {"counts": counts, "tables": next(out.split(", ") for rule, out in jobs if rule == "tables")}


def timed(commands: dict) -> dict:
    """Median wall-clock seconds and number of runs per command: 3 rounds, interleaved so that a
    change in machine load hits every command alike; a command over 60 s runs once."""
    times = {key: [] for key in commands}
    for round_ in range(3):
        for key, (command, expect) in commands.items():
            if round_ == 0 or times[key][0] <= 60:
                times[key].append(run(command, expect)[0])
    return {key: (statistics.median(t), len(t)) for key, t in times.items()}


def shape(override: dict, tables: list[str]) -> dict:
    """The floor's shape from the same config values our workflow reads (default config, paper, override)."""
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    for extra in (yaml.safe_load(PAPER.read_text()), override):
        for key, value in extra.items():
            config[key] = {**config[key], **value} if isinstance(value, dict) and key in config else value
    dataset = config["datasets"][config["experiment"]["dataset"]]
    checkpoints = config["experiment"]["checkpoints"]
    return {"data": dataset["path"], "languages": list(dataset["languages"]),
            "eval_languages": list(dataset["languages"]), "seeds": config["experiment"]["seeds"],
            "checkpoints": checkpoints, "tables": tables,
            "templates": [c for c in checkpoints if "{" in config["checkpoints"][c].get("hub", "")]}


def snakemake_command(snakefile: Path, folder: Path, *configfiles: Path) -> list[str]:
    command = [sys.executable, "-m", "snakemake", "-s", str(snakefile), "-d", str(folder)]
    if configfiles:  # the real workflow; no warm-start server for these runs
        command += ["--configfile", *map(str, configfiles), "--config", "warm_start=False"]
    return command


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--matrix", choices=sorted(MATRICES), action="append", help="default: all")
    options = parser.parse_args()
    started = time.perf_counter()
    print(f"{datetime.datetime.now():%Y-%m-%d %H:%M}  Python {platform.python_version()}  "
          f"Snakemake {snakemake.__version__}  {platform.node()}  {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.2f}")
    print("wall-clock of the whole snakemake process, median of n runs; dry run: -n --quiet in an "
          "empty folder; no-op: -j1 with every output present and its metadata recorded\n")
    with tempfile.TemporaryDirectory(prefix="snakemake-overhead-") as tmp:
        tmp = Path(tmp)
        for key in options.matrix or sorted(MATRICES):
            title, override = MATRICES[key]
            (tmp / key).mkdir()
            extra = tmp / key / "extra.yaml"
            extra.write_text(yaml.safe_dump(override))
            ours_empty, ours_done = folders(tmp / key / "ours")
            ours = fill(snakemake_command(REPO / "Snakefile", ours_done, PAPER, extra), ours_done)
            floor_snakefile = tmp / key / "floor" / "Snakefile"
            floor_empty, floor_done = folders(floor_snakefile.parent)
            floor_snakefile.write_text(FLOOR)
            (floor_snakefile.parent / "shape.json").write_text(json.dumps(shape(override, ours["tables"])))
            floor = fill(snakemake_command(floor_snakefile, floor_done), floor_done)
            times = timed({
                ("ours", "dry"): (snakemake_command(REPO / "Snakefile", ours_empty, PAPER, extra) + ["-n", "--quiet"], None),
                ("floor", "dry"): (snakemake_command(floor_snakefile, floor_empty) + ["-n", "--quiet"], None),
                ("ours", "noop"): (snakemake_command(REPO / "Snakefile", ours_done, PAPER, extra) + ["-j1"],
                                   "Nothing to be done"),
                ("floor", "noop"): (snakemake_command(floor_snakefile, floor_done) + ["-j1"], "Nothing to be done"),
            })
            print(f"Matrix {key}, {title}: --configfile config/paper.yaml" + (f" + {json.dumps(override)}" if override else ""))
            print(f"  {'jobs per rule':30} {'ours':>6} {'floor':>6}")
            for rule in RULES:
                print(f"  {rule:30} {ours['counts'].get(rule, 0):6} {floor['counts'].get(rule, 0):6}")
            print(f"  {'total':30} {sum(ours['counts'].values()):6} {sum(floor['counts'].values()):6}")
            if ours["counts"] != floor["counts"]:
                print("  WARNING: the floor's jobs per rule differ from ours")
            for label, what in (("dry run (-n --quiet)", "dry"), ("no-op rerun (-j1)", "noop")):
                (mine, n_mine), (base, n_base) = times["ours", what], times["floor", what]
                print(f"  {label:22} ours {mine:6.2f} s (n={n_mine})  floor {base:6.2f} s (n={n_base})"
                      f"  ours/floor {mine / base:4.2f}x")
            print()
    print(f"goal: no-op rerun of matrix B within 1.30x of the floor.  Bench took "
          f"{time.perf_counter() - started:.0f} s, load average now {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
