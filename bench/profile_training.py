"""Where a training epoch's time goes: a torch.profiler trace of one epoch of `nertransfer.model.train.train`.

Answers "what limits a fine-tune" with a profile rather than arithmetic: on a GPU, how much of
the epoch's wall time the GPU spends running kernels (the rest it waits for the host to launch
them), kernels launched per step, and the operators that take the most GPU and host time; on a
CPU, the operators that take the most time. The run is the real training code path: one
untimed epoch on the dev set first (CUDA's one-time start), then one profiled epoch on the train
set, with config/paper.yaml's settings. The profiled call is a whole one-epoch fine-tune (model
load, the epoch, dev scoring, model save); the GPU share is taken over the epoch's own seconds.
Model: the xlm-roberta-base architecture with random weights (see finetune_gpu.py), or `--tiny`.
`--static-shapes` / `--cuda-graphs`: the training settings of those names (the warm-up epoch
then also captures the graphs of the shapes the profiled epoch meets).
Usage: python bench/profile_training.py [--language swa] [--tiny] [--rows 25] [--trace trace.json]
                                        [--static-shapes] [--cuda-graphs]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from common import DATA, fine_tune, machine, workspace, xlmr_base_standin
from finetune_gpu import PAPER


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--language", default="swa")
    parser.add_argument("--tiny", action="store_true", help="the tiny recipe instead (CPU)")
    parser.add_argument("--rows", type=int, default=25, help="operators listed per table")
    parser.add_argument("--trace", help="also write a Chrome trace (chrome://tracing, Perfetto) here")
    parser.add_argument("--static-shapes", action="store_true")
    parser.add_argument("--cuda-graphs", action="store_true")
    options = parser.parse_args()
    import torch
    from torch.profiler import ProfilerActivity, profile

    hp = {**PAPER, "epochs": 1, **({"static_shapes": True} if options.static_shapes else {}),
          **({"cuda_graphs": True} if options.cuda_graphs else {})}
    gpu = torch.cuda.is_available()
    with workspace() as folder:
        folder = Path(folder)
        checkpoint = str(xlmr_base_standin(folder, options.tiny))
        train_file, dev_file = str(DATA / options.language / "train.txt"), str(DATA / options.language / "dev.txt")
        fine_tune(checkpoint, dev_file, dev_file, folder / "warm-up", hp)  # untimed: CUDA context, kernels, allocator
        activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if gpu else [])
        with profile(activities=activities) as trace:
            started = time.perf_counter()
            fine_tune(checkpoint, train_file, dev_file, folder / "run", hp)
            wall = time.perf_counter() - started
        (epoch,) = [json.loads(line) for line in (folder / "run" / "epochs.jsonl").read_text().splitlines()]
        steps = -(-json.loads((folder / "run" / "train_config.json").read_text())["train_windows"] // hp["batch_size"])

    table = trace.key_averages()
    model = "tiny recipe" if options.tiny else "xlm-roberta-base architecture (random init)"
    print(f"profile of one training epoch, {model}, MasakhaNER 1.0 {options.language} train, batch {hp['batch_size']}, "
          f"{steps} steps, static_shapes {options.static_shapes}, cuda_graphs {options.cuda_graphs}, on {machine()}")
    print(f"  whole train() call under the profiler: {wall:.2f} s; the epoch: {epoch['seconds']:.2f} s "
          f"({epoch['train_tokens_per_second']:,.0f} tokens/s, profiler overhead included)")
    if gpu:
        on_gpu = torch.autograd.DeviceType.CUDA  # kernel (and copy) events; summed as the profiler's own table does
        device_seconds = sum(row.self_device_time_total for row in table if row.device_type == on_gpu) / 1e6
        kernels = sum(1 for event in trace.events() if event.device_type == on_gpu)
        print(f"  GPU busy (sum of kernel time): {device_seconds:.2f} s = {100 * device_seconds / epoch['seconds']:.0f}% "
              f"of the epoch; {kernels / steps:,.0f} kernels per step ({kernels:,} in all)")
        print(table.table(sort_by="self_device_time_total", row_limit=options.rows))
    print(table.table(sort_by="self_cpu_time_total", row_limit=options.rows))
    if options.trace:
        trace.export_chrome_trace(options.trace)
        print(f"  Chrome trace written to {options.trace}")


if __name__ == "__main__":
    main()
