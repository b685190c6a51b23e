"""The device kit: the packages the lent GPU machine lacks for the GPU check, carried in parts that fit its calls.

    python scripts/device_kit.py build [--kit .device-kit] [--part-mib 56]   # here: download, pack, split
    python scripts/device_kit.py plan [--kit .device-kit] [--budget-s 480]  # the device calls, in order
    python3 scripts/device_kit.py check --upto K                            # there: parts 1..K all here
    python3 scripts/device_kit.py install --kit .device-kit --target DIR     # there: join, check, install

Why it exists: the device tool's machines (image 'cuda') run their own Python 3.12 with a CUDA build of
PyTorch, onnx and a CPU-only onnxruntime; they reach no package registry, and one call carries at most
64 MiB (the working tree and the carried paths together). The project's .venv (Python 3.11, a CPU torch,
gigabytes) cannot travel. Beyond that image the GPU check (bench/gpu_check.py) needs pydantic, Great
Expectations with the dependencies the image lacks, and onnxruntime-gpu for CUDAExecutionProvider, whose
wheel alone is about 244 MiB. So `build` downloads those wheels for CPython 3.12 on manylinux x86_64,
at the versions constraints.txt pins, and cuts them into parts of at most `--part-mib` MiB, one folder
per part (`.device-kit/part-1`, ...), each with the same MANIFEST.json (every wheel's and every slice's
size and sha256). A warm device machine keeps ignored paths between calls, so the parts travel one per
call, back to back inside its idle window, and the last call runs `scripts/gpu-check.sh`, which installs
the kit (`install`: every slice present and its checksum right, or a clear error naming the missing or
damaged one; a temporary folder renamed into place, so a failed install leaves none). `install`, `check`
and `plan` use the standard library alone: they run on the device's python3 before anything is installed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = "MANIFEST.json"
MiB = 2**20

# What the GPU check imports beyond the 'cuda' image (its package list as the device tool's KINDS.md read it
# on 2026-11-17: it has torch, numpy, pandas, scipy, pyarrow, pyyaml, tqdm, matplotlib, jinja2, requests,
# attrs, narwhals, onnx and a CPU onnxruntime, not these). Found by walking the requirements of pydantic,
# great-expectations and onnxruntime-gpu in the project's pins and keeping those the image lacks.
DEVICE_LACKS = (
    "pydantic", "pydantic_core", "annotated-types", "typing-inspection",
    "great-expectations", "altair", "cryptography", "cffi", "pycparser", "jsonschema",
    "jsonschema-specifications", "referencing", "rpds-py", "marshmallow", "mistune", "ruamel.yaml", "tzlocal",
    "onnxruntime-gpu",
)  # fmt: skip
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64",
             "manylinux1_x86_64")  # fmt: skip
DEVICE_PYTHON = "3.12"
# The last call runs the check under the device tool's per-call limit, after the kit's install and before the
# copy back (~60 s together), and gpu-check.sh's `timeout` allows a stopped check 20 s more: the budget left.
CALL_LIMIT_S, INSTALL_AND_COPY_S, STOP_GRACE_S = 600, 60, 20
MAX_BUDGET_S = CALL_LIMIT_S - INSTALL_AND_COPY_S - STOP_GRACE_S


class KitError(Exception):
    """A kit that cannot be built or installed; the message names the package, part or file."""


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(constraints: Path, names: tuple[str, ...] = DEVICE_LACKS) -> dict[str, str]:
    """`name==version` for each of `names`, read from a pip constraints file (the project's pins)."""
    found: dict[str, str] = {}
    for line in constraints.read_text().splitlines():
        match = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)\s*==\s*([^\s;#]+).*", line)
        if match:
            found[_canonical(match[1])] = match[2]
    missing = [n for n in names if _canonical(n) not in found]
    if missing:
        raise KitError(f"{constraints}: no pin for {', '.join(missing)}; add them (make lock) before building the kit")
    return {n: found[_canonical(n)] for n in names}


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(MiB), b""):
            digest.update(block)
    return digest.hexdigest()


def download(pinned: dict[str, str], dest: Path, python: str = DEVICE_PYTHON) -> list[Path]:
    """The wheels of `pinned` for CPython `python` on manylinux x86_64, without their dependencies."""
    dest.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
           "--python-version", python, "--implementation", "cp", *[a for p in PLATFORMS for a in ("--platform", p)],
           "--dest", str(dest), *[f"{n}=={v}" for n, v in pinned.items()]]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise KitError(f"pip download failed for the device's Python {python}:\n{done.stderr[-2000:]}")
    wanted = {_canonical(n): v for n, v in pinned.items()}
    # A wheel's file name is name-version-...: keep only the pinned ones (a reused cache may hold others).
    wheels = sorted(
        w for w in dest.glob("*.whl") if wanted.get(_canonical(w.name.split("-")[0])) == w.name.split("-")[1]
    )
    names = {_canonical(w.name.split("-")[0]) for w in wheels}
    absent = [n for n in pinned if _canonical(n) not in names]
    if absent:
        raise KitError(f"no wheel downloaded for {', '.join(absent)} (Python {python}, manylinux x86_64)")
    return wheels


def pack(wheels: list[Path], kit: Path, part_mib: float, python: str = DEVICE_PYTHON) -> dict:
    """Cut `wheels` into folders part-1..part-n under `kit`, each with at most `part_mib` MiB of slices and the
    manifest (a few KB more).

    Wheels are laid end to end, smallest first, so the small ones travel whole in the first part and the
    large one (onnxruntime-gpu) is sliced across the rest; a slice is a byte range of one wheel.
    """
    limit = int(part_mib * MiB)
    if limit < MiB:
        raise KitError(f"--part-mib {part_mib}: a part must hold at least 1 MiB")
    tmp = kit.with_name(kit.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    parts: list[list[dict]] = [[]]
    room = limit
    entries = []
    for wheel in sorted(wheels, key=lambda w: (w.stat().st_size, w.name)):
        size, offset = wheel.stat().st_size, 0
        entries.append({"wheel": wheel.name, "bytes": size, "sha256": sha256(wheel), "slices": []})
        with wheel.open("rb") as f:
            while offset < size:
                if room == 0:
                    parts.append([])
                    room = limit
                take = min(room, size - offset)
                name = f"{wheel.name}.{len(entries[-1]['slices']):03d}"
                folder = tmp / f"part-{len(parts)}"
                folder.mkdir(parents=True, exist_ok=True)
                data = f.read(take)
                (folder / name).write_bytes(data)
                entries[-1]["slices"].append({"file": name, "part": len(parts), "bytes": take,
                                              "sha256": hashlib.sha256(data).hexdigest()})  # fmt: skip
                parts[-1].append(name)
                offset += take
                room -= take
    manifest = {"python": python, "platforms": list(PLATFORMS), "part_mib": part_mib,
                "parts": len(parts), "wheels": entries}  # fmt: skip
    for i in range(1, len(parts) + 1):
        (tmp / f"part-{i}" / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
    shutil.rmtree(kit, ignore_errors=True)
    tmp.rename(kit)
    return manifest


def read_manifest(kit: Path) -> dict:
    """The manifest of the first part folder of `kit` that has one (all parts carry the same)."""
    for folder in sorted(kit.glob("part-*")):
        if (folder / MANIFEST).is_file():
            return json.loads((folder / MANIFEST).read_text())
    raise KitError(f"{kit}: no part folder with a {MANIFEST}; was the kit built (scripts/device_kit.py build)?")


def _verified(kit: Path, piece: dict, missing: str) -> Path:
    """The slice file of `piece`, present with the manifest's size and sha256; `missing` says why it may not be."""
    path = kit / f"part-{piece['part']}" / piece["file"]
    if not path.is_file():
        raise KitError(f"{path} is missing: {missing}")
    if path.stat().st_size != piece["bytes"] or sha256(path) != piece["sha256"]:
        raise KitError(f"{path}: size or sha256 differs from the manifest's: damaged in transfer; carry part "
                       f"{piece['part']} again")  # fmt: skip
    return path


def join(kit: Path, dest: Path, only_whole_in: int | None = None) -> list[Path]:
    """Reassemble every wheel of `kit` into `dest`, checking each slice and each wheel against the manifest.

    With `only_whole_in` = k, only the wheels that lie entirely in part k (the first part's small wheels).
    """
    manifest = read_manifest(kit)
    out = []
    for entry in manifest["wheels"]:
        if only_whole_in is not None and any(s["part"] != only_whole_in for s in entry["slices"]):
            continue
        wheel = dest / entry["wheel"]
        with wheel.open("wb") as f:
            for piece in entry["slices"]:
                missing = (f"part {piece['part']} of {manifest['parts']} was not carried to this machine (or the "
                           f"machine was restarted since)")  # fmt: skip
                f.write(_verified(kit, piece, missing).read_bytes())
        if sha256(wheel) != entry["sha256"]:
            raise KitError(f"{entry['wheel']}: reassembled wheel's sha256 differs from the manifest's")
        out.append(wheel)
    return out


def check(kit: Path, upto: int) -> list[str]:
    """Every slice of parts 1..`upto` present with its size and sha256: what a carrying call verifies.

    A machine that went back between calls comes back bare; the next call would find the earlier parts
    gone only at the install, after the check's whole budget was spent. This finds it at once.
    """
    manifest = read_manifest(kit)
    found = []
    for entry in manifest["wheels"]:
        for piece in entry["slices"]:
            if piece["part"] > upto:
                continue
            missing = (f"part {piece['part']} is not on this machine (was it restarted since that call?); give "
                       f"the machine back and start the plan again")  # fmt: skip
            found.append(_verified(kit, piece, missing).name)
    return found


def install(kit: Path, target: Path, only_whole_in: int | None = None, python: str = sys.executable) -> list[str]:
    """Install the kit's wheels into `target` (a folder for PYTHONPATH), offline, with no dependency resolution.

    Built in a temporary sibling folder and renamed into place, so a failure leaves `target` as it was.
    """
    with tempfile.TemporaryDirectory(prefix="hrlrec-kit-") as scratch:
        wheels = join(kit, Path(scratch), only_whole_in)
        staged = target.with_name(target.name + ".tmp")
        shutil.rmtree(staged, ignore_errors=True)
        cmd = [python, "-m", "pip", "install", "--quiet", "--no-index", "--no-deps", "--no-compile",
               "--disable-pip-version-check", "--target", str(staged), *map(str, wheels)]  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            shutil.rmtree(staged, ignore_errors=True)
            raise KitError(f"pip install --target {staged} failed:\n{done.stderr[-2000:]}")
        shutil.rmtree(target, ignore_errors=True)
        staged.rename(target)
    return [w.name for w in wheels]


def plan(kit: Path, budget_s: int = 480) -> str:
    """The device calls that carry the kit and run the check, one line each, in order.

    A budget over MAX_BUDGET_S is refused: the device tool would kill the last call at its 600 s limit
    before the check's own stop, so the check could not end its part cleanly.
    """
    if not 0 < budget_s <= MAX_BUDGET_S:
        raise KitError(
            f"--budget-s {budget_s}: the check's budget must be 1-{MAX_BUDGET_S} s (the last call's {CALL_LIMIT_S} s "
            f"limit less ~{INSTALL_AND_COPY_S} s for the kit's install and the copy back and the stop's "
            f"{STOP_GRACE_S} s grace); with less device time left, give what status's budget_left_s allows"
        )
    manifest = read_manifest(kit)
    n = manifest["parts"]
    sizes = {i: sum(s["bytes"] for w in manifest["wheels"] for s in w["slices"] if s["part"] == i)
             for i in range(1, n + 1)}  # fmt: skip
    lines = [
        f"# {n} device calls, each made as soon as the last returns: a warm machine keeps the parts carried",
        "# before, and goes back (losing them) after its idle window (30 s on the H100 and H200 kinds)",
    ]
    for i in range(1, n + 1):
        if i == 1:
            command = "bash scripts/device-smoke.sh"
        elif i < n:
            command = f"python3 scripts/device_kit.py check --upto {i}"
        else:
            command = (f"set -o pipefail; GPU_CHECK_BUDGET_S={budget_s} bash scripts/gpu-check.sh 2>&1 "
                       f"| tee $OUT/gpu-check.log")  # fmt: skip
        lines.append(f"call {i}: carry [.device-kit/part-{i}] ({sizes[i] / MiB:.1f} MiB), command: {command}")
    lines += [f"# the last call: timeout_s {CALL_LIMIT_S}; --budget-s at most {MAX_BUDGET_S}, and at most status's "
              "budget_left_s after calls 1-4",
              "# less ~120 s (the kit's install, the copy back); a call that fails or finds parts missing: give_back",
              "# and stop; at the end give_back, and add $OUT/gpu-check.md to docs/results.md"]  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="verb", required=True)
    build_p = sub.add_parser("build", help="download the device's wheels and cut them into parts (here)")
    build_p.add_argument("--kit", type=Path, default=ROOT / ".device-kit")
    build_p.add_argument(
        "--part-mib",
        type=float,
        default=56.0,
        help="largest part; the working tree (a few MiB) travels beside it under 64 MiB",
    )
    build_p.add_argument("--constraints", type=Path, default=ROOT / "constraints.txt")
    build_p.add_argument("--wheels", type=Path, default=None, help="download cache (default: a temporary folder)")
    build_p.add_argument(
        "--python",
        default=DEVICE_PYTHON,
        help="the Python the wheels are for (another only to rehearse the device on this machine)",
    )
    plan_p = sub.add_parser("plan", help="print the device calls")
    plan_p.add_argument("--kit", type=Path, default=ROOT / ".device-kit")
    plan_p.add_argument("--budget-s", type=int, default=480, help="the check's budget in the last call")
    check_p = sub.add_parser("check", help="verify the parts carried so far (there)")
    check_p.add_argument("--kit", type=Path, default=ROOT / ".device-kit")
    check_p.add_argument("--upto", type=int, required=True, help="the last part carried")
    install_p = sub.add_parser("install", help="join the carried parts and install them into a folder (there)")
    install_p.add_argument("--kit", type=Path, default=ROOT / ".device-kit")
    install_p.add_argument("--target", type=Path, required=True)
    install_p.add_argument(
        "--first-part-only",
        action="store_true",
        help="install only the wheels that lie whole in part 1 (the smoke call's)",
    )
    args = parser.parse_args(argv)
    try:
        if args.verb == "build":
            with tempfile.TemporaryDirectory(prefix="hrlrec-wheels-") as scratch:
                # One cache folder per Python: a wheel's name and version do not tell cp311 from cp312.
                cache = (args.wheels or Path(scratch)) / f"python{args.python}"
                wheels = download(pins(args.constraints), cache, args.python)
                manifest = pack(wheels, args.kit, args.part_mib, args.python)
            total = sum(w["bytes"] for w in manifest["wheels"])
            print(f"{args.kit}: {len(manifest['wheels'])} wheels, {total / MiB:.1f} MiB in {manifest['parts']} parts")
            print(plan(args.kit))
        elif args.verb == "plan":
            print(plan(args.kit, args.budget_s))
        elif args.verb == "check":
            found = check(args.kit, args.upto)
            print(f"{args.kit}: parts 1-{args.upto} here, {len(found)} slices, every sha256 as in the manifest")
        else:
            names = install(args.kit, args.target, 1 if args.first_part_only else None)
            print(f"installed {len(names)} wheels into {args.target}: {', '.join(names)}")
    except KitError as exc:
        raise SystemExit(f"device kit: {exc}") from None


if __name__ == "__main__":
    main()
