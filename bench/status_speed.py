"""`nertransfer status` on the paper matrix (195 fine-tunes, 1,950 evaluations) against `snakemake --summary`.

Builds a run folder where every cell of config/paper.yaml is done (each fine-tune's records with
the settings the config resolves, every evaluation's metrics file, the shipped data), then times,
in turn over `--rounds`: `nertransfer status` (the cell matrix, read from the folder) and
`snakemake --summary` (Snakemake's own account of every output, the nearest existing view).
Usage: python bench/status_speed.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from common import REPO, machine, wall_seconds, workspace


def done_run(folder: Path) -> int:
    """A folder in which every cell of the paper matrix is done, with whole records as the jobs write them (axes,
    scores, the content of the data they read); returns the number of evaluation files."""
    import os

    import yaml

    from nertransfer.data.fingerprints import file_sha256
    from nertransfer.experiment.config import load_experiment, merged
    from nertransfer.experiment.layout import DEV_METRICS, TRAIN_CONFIG

    (folder / "data").symlink_to(REPO / "data")
    config = merged(yaml.safe_load((REPO / "config" / "config.yaml").read_text()),
                    yaml.safe_load((REPO / "config" / "paper.yaml").read_text()))
    experiment = load_experiment(config, folder, REPO)
    scores = {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 10, "per_category": {}}
    sha = {}

    def content(language: str, split: str) -> str:
        path = folder / experiment.dataset.file(language, split)
        return sha.setdefault(str(path), file_sha256(path))

    files = 0
    for cell in experiment.cells():
        records = folder / experiment.layout.records(cell.id)
        records.mkdir(parents=True)
        start = experiment.checkpoint_dir(cell)
        (records / TRAIN_CONFIG).write_text(json.dumps({
            **cell.axes(), "hyperparameters": experiment.hyperparameters(cell), "checkpoint_path": start,
            "checkpoint_from_records": os.path.relpath(start, experiment.layout.records(cell.id)),
            "train_sha256": content(cell.train_language, "train"), "dev_sha256": content(cell.train_language, "dev")}))
        (records / DEV_METRICS).write_text(json.dumps(scores))
        for language in experiment.evaluation_languages(cell):
            metrics = folder / experiment.layout.metrics(cell.id, language)
            metrics.parent.mkdir(parents=True)
            metrics.write_text(json.dumps({**cell.axes(), "eval_language": language, **scores,
                                           "test_sha256": content(language, "test")}))
            files += 1
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    paper = str(REPO / "config" / "paper.yaml")
    with workspace() as folder:
        folder = Path(folder)
        evaluations = done_run(folder)
        ours = [wall_seconds([sys.executable, "-m", "nertransfer", "status", "--configfile", paper], folder) for _ in range(1)]
        theirs = []
        for _ in range(options.rounds):
            ours.append(wall_seconds([sys.executable, "-m", "nertransfer", "status", "--configfile", paper], folder))
            theirs.append(wall_seconds([sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--configfile", paper,
                                   "--summary", "--nolock"], folder))
    print(f"status of the paper matrix ({evaluations:,} evaluations, every cell done), {options.rounds} rounds, on {machine()}")
    print(f"  nertransfer status:  median {statistics.median(ours[1:]):.2f} s (first, cold: {ours[0]:.2f} s)")
    print(f"  snakemake --summary: median {statistics.median(theirs):.2f} s")
    print(f"  ratio: {statistics.median(theirs) / statistics.median(ours[1:]):.1f}x")


if __name__ == "__main__":
    main()
