#!/usr/bin/env bash
# The GPU check (bench/gpu_check.py) in one command, within a 10-minute budget.
#
#   scripts/gpu-check.sh            # writes $OUT/gpu-check.json (OUT defaults to .work/gpu-check)
#
# With CUDA: the full profile trained 200 steps in fp32 and in bf16 (impressions/s, peak CUDA
# memory, AUC), torchrun DDP with NCCL on every visible GPU, the export gate and bench/serve.py on
# CUDAExecutionProvider. Without CUDA it says so, runs the CPU parts on the small profile and
# exits 0. Expects `make setup` to have built .venv (the device machine gets it carried along).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-.work/gpu-check}"
PY="${PYTHON:-.venv/bin/python}"
mkdir -p "$OUT"
exec timeout --signal=TERM 600 "$PY" bench/gpu_check.py --out "$OUT" "$@"
