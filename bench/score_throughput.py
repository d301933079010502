"""Scoring a large prediction file: `nertransfer score` against seqeval's own metrics, wall time and peak memory.

The file is MasakhaNER 2.0's pcm test set repeated up to `--megabytes`, as `token GOLD PRED`
lines whose predictions are the gold tags with a fixed 10% of them changed. The baseline reads
the file into lists and calls seqeval's `classification_report` (conlleval convention) and
`f1_score(mode="strict", scheme=IOB2)`: what a script built on seqeval does. Both run as their
own processes, one after the other, `--rounds` times; medians are compared.
Usage: python bench/score_throughput.py [--megabytes 100] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import REPO, machine, workspace

BASELINE = """
import sys
from seqeval.metrics import classification_report, f1_score
from seqeval.scheme import IOB2
gold, pred, g, p = [], [], [], []
for line in open(sys.argv[1], encoding="utf-8"):
    fields = line.split()
    if not fields:
        if g:
            gold.append(g); pred.append(p); g, p = [], []
        continue
    g.append(fields[1]); p.append(fields[2])
if g:
    gold.append(g); pred.append(p)
classification_report(gold, pred, digits=4)
f1_score(gold, pred, mode="strict", scheme=IOB2)
"""


def make_file(path: Path, megabytes: float) -> None:
    rng = random.Random(0)
    tags = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-DATE", "I-DATE"]
    lines = []
    for line in (REPO / "data" / "masakhaner-2.0" / "pcm" / "test.txt").read_text(encoding="utf-8").splitlines():
        if not line.strip():
            lines.append("")
            continue
        token, gold = line.split()
        lines.append(f"{token} {gold} {rng.choice(tags) if rng.random() < 0.1 else gold}")
    block = "\n".join(lines).strip("\n") + "\n\n"
    with path.open("w", encoding="utf-8") as out:
        while out.tell() < megabytes * 1e6:
            out.write(block)


def run(command: list[str]) -> tuple[float, float]:
    """Wall seconds and peak resident memory (MB) of one process."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"{command} failed")
    return time.perf_counter() - started, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=float, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    with workspace() as folder:
        path = Path(folder) / "predictions.txt"
        make_file(path, options.megabytes)
        size = path.stat().st_size / 1e6
        ours, theirs = [], []
        for _ in range(options.rounds):
            ours.append(run([sys.executable, "-m", "nertransfer", "score", "--pred", str(path)]))
            theirs.append(run([sys.executable, "-c", BASELINE, str(path)]))
    median = lambda runs, i: statistics.median(r[i] for r in runs)  # noqa: E731
    print(f"scoring a {size:.0f} MB `token GOLD PRED` file (conlleval and strict IOB2), {options.rounds} rounds, on {machine()}")
    print(f"  nertransfer score: {median(ours, 0):6.1f} s, peak {median(ours, 1):6.0f} MB")
    print(f"  seqeval baseline:  {median(theirs, 0):6.1f} s, peak {median(theirs, 1):6.0f} MB")
    print(f"  ratio (seqeval / ours): time {median(theirs, 0) / median(ours, 0):.2f}x, "
          f"memory {median(theirs, 1) / median(ours, 1):.1f}x")


if __name__ == "__main__":
    main()
