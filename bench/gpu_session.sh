#!/usr/bin/env bash
# The GPU measurements issue 5 still lacks, in one call of the device tool (estimated 6-9 minutes on an H200, not yet run there):
#   device run: bash bench/gpu_session.sh        (carry .whl/ with the wheels the machine lacks, see below)
#   here, as a smoke test on CPU: bash bench/gpu_session.sh --tiny
# 1. profile_training.py: the share of an epoch the GPU runs kernels, kernels per step, top operators;
# 2. shared_gpu.py: 4 fine-tunes at once on the one GPU against one alone (device time per fine-tune);
# 3. train_throughput.py --xlmr-base: against Trainer, both after the warm-up, medians of 2 rounds.
# A lent machine has its own CUDA torch; wheels of what it lacks (transformers, seqeval) go in .whl/
# (`pip download --no-deps -d .whl transformers==5.24.0 seqeval==1.2.2`, then `pip wheel` for an sdist).
# Outputs: $OUT (the device tool's folder) or /tmp/gpu-session.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-/tmp/gpu-session}
mkdir -p "$out"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
if [ -d .whl ] && ls .whl/*.whl > /dev/null 2>&1; then
    pip install --quiet --no-deps --target /tmp/site .whl/*.whl && export PYTHONPATH="/tmp/site:$PYTHONPATH"
fi
tiny=(); xlmr=(--xlmr-base --language swa --epochs 3)
if [ "${1:-}" = "--tiny" ]; then tiny=(--tiny --language hau); xlmr=(--language hau --epochs 1); fi
cd bench
(nvidia-smi || true) > "$out/nvidia-smi.txt" 2>&1
timeout 180 python profile_training.py "${tiny[@]}" --rows 30 > "$out/profile.txt" 2>&1; echo "profile_training: rc $?"
grep -v '^{' "$out/profile.txt" | head -80
timeout 240 python shared_gpu.py "${tiny[@]}" --jobs 4 --epochs 5 > "$out/shared.txt" 2>&1; echo "shared_gpu: rc $?"
tail -6 "$out/shared.txt"
timeout 180 python train_throughput.py "${xlmr[@]}" --rounds 2 > "$out/throughput.txt" 2>&1; echo "train_throughput: rc $?"
tail -4 "$out/throughput.txt"
