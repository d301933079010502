"""Snakemake's own overhead for the paper's matrices: our workflow against a touch-only floor, in one run.

For each matrix (A: config/paper.yaml as is, MasakhaNER 1.0, 150 fine-tunes, 1,500 evaluations;
B: the same on MasakhaNER 2.0, 300 fine-tunes, 6,000 evaluations) it times, as wall-clock of the
whole `python -m snakemake` process (median of 3 runs, or 1 run past ~60 s):
  1. dry run: `snakemake -n --quiet` (default target) in an empty work folder;
  2. no-op rerun: `snakemake -j1` once every output exists and is up to date ("Nothing to be done").
     The state is made like a finished run's: `snakemake --touch -j1` on the empty folder records
     Snakemake's metadata for every job (params, input, code), then the bench creates each output
     in the job order that run printed, with increasing mtimes (paths without a suffix are
     directory() outputs: created as folders with their .snakemake_timestamp);
both for our Snakefile and for a touch-only Snakefile the bench writes into a temporary folder:
the same rule names, jobs per rule, dependencies and wildcard layout, `touch`/`mkdir -p` shells,
plain expand() and one dict lookup for the start checkpoint, no config validation (the floor).
Prints the jobs per rule, the times and the ratios ours / floor. Goal: the no-op rerun of matrix B
within 1.3x of the floor.  Usage (from the repository root): python bench/snakemake_overhead.py [--matrix A|B]
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
MATRICES = {"A": ("paper matrix, MasakhaNER 1.0", {}),
            "B": ("MasakhaNER 2.0 matrix", {"experiment": {"dataset": "masakhaner-2.0"}})}
RULES = ["prefetch_checkpoint", "prefetch_language_checkpoint", "train", "evaluate", "card", "tables", "all"]

FLOOR = r'''# Touch-only floor: the shape of nertransfer's workflow, read from shape.json beside this file.
import json
S = json.load(open(workflow.basedir + "/shape.json"))
RUN = "work/runs/{checkpoint}/{language}/seed{seed}"
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


def timed(command: list[str], expect: str | None = None) -> tuple[float, int]:
    """Median wall-clock seconds of 3 runs, or of 1 run if it took over 60 s; and the number of runs."""
    times = [run(command, expect)[0]]
    while len(times) < 3 and times[0] <= 60:
        times.append(run(command, expect)[0])
    return statistics.median(times), len(times)


def measure(command: list[str], folder: Path) -> dict:
    """Dry-run and no-op times of one Snakefile in an empty work folder; and its jobs per rule."""
    folder.mkdir(parents=True)
    (folder / "data").symlink_to(REPO / "data")
    dry = timed([*command, "-n", "--quiet"])
    _, log = run([*command, "--touch", "-j1"])  # records the metadata of every job, in job order
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
                path.touch()
            else:
                path.mkdir(parents=True, exist_ok=True)
                path = path / ".snakemake_timestamp"
                path.touch()
            os.utime(path, ns=(start + step * 1_000_000,) * 2)
    run([*command, "-n"], expect="Nothing to be done")
    noop = timed([*command, "-j1"], expect="Nothing to be done")
    tables = next(outputs.split(", ") for rule, outputs in jobs if rule == "tables")
    return {"counts": counts, "dry": dry, "noop": noop, "tables": tables}


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--matrix", choices=sorted(MATRICES), action="append", help="default: all")
    options = parser.parse_args()
    started = time.perf_counter()
    print(f"{datetime.datetime.now():%Y-%m-%d %H:%M}  Python {platform.python_version()}  "
          f"Snakemake {snakemake.__version__}  {platform.node()} ({os.cpu_count()} CPUs)")
    print("wall-clock of the whole snakemake process; dry run: -n --quiet on an empty folder; "
          "no-op: -j1 with every output present\n")
    with tempfile.TemporaryDirectory(prefix="snakemake-overhead-") as tmp:
        tmp = Path(tmp)
        for key in options.matrix or sorted(MATRICES):
            title, override = MATRICES[key]
            extra = tmp / f"{key}.yaml"
            extra.write_text(yaml.safe_dump(override))
            ours = measure([sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(tmp / f"ours-{key}"),
                            "--configfile", str(PAPER), str(extra), "--config", "warm_start=False"], tmp / f"ours-{key}")
            (tmp / f"floor-{key}").mkdir()
            (tmp / f"floor-{key}" / "Snakefile").write_text(FLOOR)
            (tmp / f"floor-{key}" / "shape.json").write_text(json.dumps(shape(override, ours["tables"])))
            floor = measure([sys.executable, "-m", "snakemake", "-s", str(tmp / f"floor-{key}" / "Snakefile"),
                             "-d", str(tmp / f"floor-{key}" / "work-folder")], tmp / f"floor-{key}" / "work-folder")
            print(f"Matrix {key}: {title}: --configfile config/paper.yaml"
                  + (f" + {json.dumps(override)}" if override else ""))
            print(f"  {'jobs per rule':30} {'ours':>6} {'floor':>6}")
            for rule in RULES:
                print(f"  {rule:30} {ours['counts'].get(rule, 0):6} {floor['counts'].get(rule, 0):6}")
            print(f"  {'total':30} {sum(ours['counts'].values()):6} {sum(floor['counts'].values()):6}")
            if ours["counts"] != floor["counts"]:
                print("  WARNING: the floor's jobs per rule differ from ours")
            for label, what in (("dry run (-n --quiet)", "dry"), ("no-op rerun (-j1)", "noop")):
                (mine, n_mine), (base, n_base) = ours[what], floor[what]
                print(f"  {label:22} ours {mine:6.2f} s (n={n_mine})  floor {base:6.2f} s (n={n_base})"
                      f"  ours/floor {mine / base:4.2f}x")
            print()
    print(f"goal: no-op rerun of matrix B within 1.30x of the floor; bench took {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
