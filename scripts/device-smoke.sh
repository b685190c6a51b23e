#!/usr/bin/env bash
# Call 1 of the device plan (scripts/device_kit.py plan): what the lent machine has, and the project's
# model tests on its own Python and PyTorch, with the kit's first part installed. About a minute; if it
# fails (no CUDA device among its reasons), give the machine back and mend before carrying the other
# parts. SMOKE_WITHOUT_CUDA=1 rehearses it on a machine without a GPU.
#
#   bash scripts/device-smoke.sh       # on the device, with .device-kit/part-1 carried
set -uo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
SITE="${TMPDIR:-/tmp}/hrlrec-kit-first"
nvidia-smi -L || echo "nvidia-smi: not found"
"$PY" - <<'PY' || exit 1
import os, sys
import onnx, onnxruntime, torch
print(f"python {sys.version.split()[0]} ({sys.executable}), torch {torch.__version__} (CUDA {torch.version.cuda}, "
      f"available {torch.cuda.is_available()}), onnx {onnx.__version__}, onnxruntime {onnxruntime.__version__} "
      f"{onnxruntime.get_available_providers()}")
if torch.cuda.is_available():
    x = torch.randn(1024, 1024, device="cuda", dtype=torch.bfloat16)
    print(f"CUDA bf16 matmul on {torch.cuda.get_device_name(0)}: {float((x @ x).float().abs().mean()):.3f}")
elif not os.environ.get("SMOKE_WITHOUT_CUDA"):  # set only to rehearse the calls on a machine without a GPU
    sys.exit("no CUDA device on this machine: give it back; the GPU check would measure nothing it is for")
PY
"$PY" scripts/device_kit.py install --kit .device-kit --target "$SITE" --first-part-only || exit 1
export PYTHONPATH="$SITE:$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
"$PY" -c 'import great_expectations as gx, pydantic; import hrlrec.cli, hrlrec.validation.gx_run; print("imports: great_expectations", gx.__version__, "pydantic", pydantic.VERSION)' || exit 1
timeout 240 "$PY" -m pytest -q -x -p no:cacheprovider tests/test_model.py
