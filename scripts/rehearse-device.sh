#!/usr/bin/env bash
# The device plan (scripts/device_kit.py plan) rehearsed on this machine, no GPU needed: run it after a
# change to the GPU check or the kit, before spending a lent machine's 15 minutes on it.
#
#   bash scripts/rehearse-device.sh [WORKDIR]     # default .work/device-rehearsal; a few minutes
#
# 1. An emulated 'cuda' image: a venv with a Python, PyTorch and onnxruntime of its own and the image's
#    other packages the check touches, and none of what the image lacks (pydantic, Great Expectations);
#    made once per WORKDIR. This machine's Python 3.11 and CPU torch stand in for the image's 3.12 and
#    CUDA torch: what only a GPU or Python 3.12 shows is not rehearsed (docs/results.md says what was).
# 2. The machine's copy of the repository: committed files only (no .venv), and a kit built for this
#    Python (`build --python 3.11`) beside it.
# 3. Every call of the plan, in order, exactly as `plan` prints it: its part copied in, its command run
#    in the copy with python3 the image's (SMOKE_WITHOUT_CUDA=1: the smoke accepts no GPU here).
# The check's gpu-check.json and gpu-check.md land in WORKDIR/out.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
W="$(realpath -m "${1:-.work/device-rehearsal}")"
mkdir -p "$W"
if [ ! -f "$W/image/.made" ]; then  # the stamp: a half-made image is made again
  rm -rf "$W/image"
  python3.11 -m venv "$W/image"
  "$W/image/bin/python3" -m pip install --quiet torch==2.13.0
  "$W/image/bin/python3" -m pip install --quiet onnx==1.23.2 onnxruntime==1.30.0 numpy pandas scipy pyarrow pyyaml \
    tqdm matplotlib jinja2 requests attrs narwhals packaging protobuf flatbuffers python-dateutil pyparsing \
    typing-extensions pytest sympy rich psutil toolz
  touch "$W/image/.made"
fi
rm -rf "$W/tree" "$W/tmp" "$W/out"
mkdir -p "$W/tree" "$W/tmp" "$W/out"
git archive HEAD | tar -x -C "$W/tree"
.venv/bin/python scripts/device_kit.py build --python 3.11 --kit "$W/kit" --wheels "$W/wheels" >/dev/null
export PATH="$W/image/bin:$PATH" TMPDIR="$W/tmp" OUT="$W/out" SMOKE_WITHOUT_CUDA=1
.venv/bin/python scripts/device_kit.py plan --kit "$W/kit" | grep '^call ' | while IFS= read -r line; do
  part="$(sed -E 's/.*carry \[\.device-kit\/(part-[0-9]+)\].*/\1/' <<<"$line")"
  command="${line#*command: }"
  echo "== ${line%%:*}: $part, $command"
  mkdir -p "$W/tree/.device-kit"
  cp -r "$W/kit/$part" "$W/tree/.device-kit/"
  (cd "$W/tree" && bash -c "$command")
done
echo "rehearsal passed: every call of the plan ran; the check's files are in $W/out"
cd "$ROOT"
