"""Per-job cost of an evaluation cell, cold (its own process) against warm (forked from the server).

Each of the default matrix's 100 evaluation cells is a Snakemake job. This bench builds a tiny
recipe and one fine-tuned model from a few MasakhaNER 1.0 languages, then runs the same
`nertransfer evaluate` job N times each way, in the same run, and prints the seconds per job
and the ratio.  Usage: python bench/warm_start.py [--jobs N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "data" / "masakhaner-1.0"


def run(args, env):
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "nertransfer", *map(str, args)], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=8)
    options = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if k != "NERTRANSFER_WARM_SOCKET"}
    env["HF_HUB_OFFLINE"] = "1"
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        run(["build-recipe", "--train-files", DATA / "hau" / "train.txt", DATA / "swa" / "train.txt",
             "--settings", json.dumps({"vocab_size": 2000}), "--output", folder / "recipe"], env)
        hp = {"epochs": 1, "learning_rate": 1e-3, "batch_size": 32, "eval_batch_size": 256, "warmup_ratio": 0.1,
              "weight_decay": 0.01, "max_length": 128, "max_grad_norm": 1.0, "seed": 1}
        run(["train", "--checkpoint", folder / "recipe", "--train", DATA / "hau" / "train.txt", "--dev",
             DATA / "hau" / "dev.txt", "--hyperparameters", json.dumps(hp), "--output", folder / "run", "--threads", "1"], env)
        job = ["evaluate", "--model", folder / "run" / "model", "--test", DATA / "swa" / "test.txt", "--threads", "1",
               "--predictions", folder / "p.conll", "--metrics", folder / "m.json"]

        cold = [run(job, env) for _ in range(options.jobs)]
        socket_path = folder / "socket"
        server = subprocess.Popen([sys.executable, "-m", "nertransfer", "warm-server", "--socket", socket_path], env=env)
        try:
            while not socket_path.exists():
                time.sleep(0.05)
            warm_env = {**env, "NERTRANSFER_WARM_SOCKET": str(socket_path)}
            run(job, warm_env)  # the server's own imports are paid once per workflow run, not per job
            warm = [run(job, warm_env) for _ in range(options.jobs)]
        finally:
            server.terminate()
            server.wait()
    cold_s, warm_s = statistics.median(cold), statistics.median(warm)
    print(f"evaluation job: tiny model (vocab 2000), MasakhaNER 1.0 swa test set, 1 thread, median of {options.jobs}")
    print(f"  cold (own process, imports torch + transformers): {cold_s:6.2f} s/job")
    print(f"  warm (forked from the warm server):               {warm_s:6.2f} s/job")
    print(f"  ratio cold / warm: {cold_s / warm_s:.1f}x")


if __name__ == "__main__":
    main()
