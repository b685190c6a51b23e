#!/usr/bin/env bash
# The GPU check (bench/gpu_check.py) in one command, within a 10-minute budget.
#
#   scripts/gpu-check.sh            # writes $OUT/gpu-check.json and gpu-check.md (OUT defaults to .work/gpu-check)
#
# With CUDA: the full profile trained 200 steps in fp32 and in bf16 (impressions/s, peak CUDA
# memory, AUC), torchrun DDP with NCCL on every visible GPU, the export gate and bench/serve.py on
# CUDAExecutionProvider, and (first, seconds) the similarity loss's grouped search against its masked
# reference on the device. Without CUDA it says so, runs the CPU parts on the small profile and
# exits 0.
#
# Which Python: $PYTHON if set; else the project's .venv (`make setup`) when it runs here; else the
# machine's python3 with the project read from src/ and, when .device-kit was carried, the kit's
# packages installed first (the device tool's machines: their own Python 3.12 with a CUDA PyTorch,
# no package registry, 64 MiB per call; scripts/device_kit.py builds the kit and prints the calls).
# GPU_CHECK_BUDGET_S (default 600) bounds the check; what it measured before a stop is kept.
set -euo pipefail
cd "$(dirname "$0")/.."
# float32 means float32: no TF32 in cuBLAS or cuDNN (the GRU), so the fp32 run and the export gate's
# PyTorch/onnxruntime comparison are not moved by 10-bit mantissas (src/hrlrec/serving/backends.py).
export NVIDIA_TF32_OVERRIDE="${NVIDIA_TF32_OVERRIDE:-0}"
OUT="${OUT:-.work/gpu-check}"
mkdir -p "$OUT"
if [ -n "${PYTHON:-}" ]; then
  PY="$PYTHON"
elif .venv/bin/python -c 'import torch' 2>/dev/null; then
  PY=.venv/bin/python
else
  PY=python3
  echo "no usable .venv: running on $(command -v python3) with the project from src/" >&2
  export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
  if [ -d .device-kit ]; then
    SITE="${TMPDIR:-/tmp}/hrlrec-device-site"
    "$PY" scripts/device_kit.py install --kit .device-kit --target "$SITE"
    export PYTHONPATH="$SITE:$PYTHONPATH"
  else
    echo "no .device-kit here: packages this Python lacks will fail to import (scripts/device_kit.py build)" >&2
  fi
fi
# TERM at the budget (the check writes "stopped" and what it measured), KILL 20 s later if it has not ended.
exec timeout --signal=TERM --kill-after=20 "${GPU_CHECK_BUDGET_S:-600}" "$PY" bench/gpu_check.py --out "$OUT" "$@"
