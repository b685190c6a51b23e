"""scripts/device_kit.py: wheels cut into parts that fit a device call, joined and installed only when whole."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("device_kit", ROOT / "scripts" / "device_kit.py")
kit_mod = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(kit_mod)

MiB = 2**20


def _wheel(folder: Path, name: str, version: str, payload_bytes: int = 0) -> Path:
    """A real, installable pure-Python wheel: one module `name` with VALUE = version, plus incompressible padding."""
    dist = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": f"VALUE = {version!r}\n".encode(),
        f"{name}/pad.bin": os.urandom(payload_bytes),
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{dist}/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = [f"{path},," for path in [*files, f"{dist}/RECORD"]]
    files[f"{dist}/RECORD"] = ("\n".join(record) + "\n").encode()
    path = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        for arc, data in files.items():
            zf.writestr(arc, data)
    return path


@pytest.fixture
def wheels(tmp_path: Path) -> list[Path]:
    src = tmp_path / "wheels"
    src.mkdir()
    # Two small wheels that fit the first part whole, and one that must be sliced across three parts.
    return [_wheel(src, "kitsmall", "1.0"), _wheel(src, "kittiny", "2.0"), _wheel(src, "kitbig", "3.0", 5 * MiB // 2)]


def test_pins_come_from_the_constraints_and_a_missing_one_is_named(tmp_path: Path) -> None:
    constraints = tmp_path / "constraints.txt"
    constraints.write_text("pydantic==2.14.3\nruamel.yaml==0.19.1\npydantic_core==2.50.4  # core\n")
    assert kit_mod.pins(constraints, ("pydantic", "ruamel-yaml", "pydantic-core")) == {
        "pydantic": "2.14.3", "ruamel-yaml": "0.19.1", "pydantic-core": "2.50.4"}  # fmt: skip
    with pytest.raises(kit_mod.KitError, match="no pin for onnxruntime-gpu"):
        kit_mod.pins(constraints, ("pydantic", "onnxruntime-gpu"))


def test_the_projects_constraints_pin_every_package_the_device_lacks() -> None:
    pinned = kit_mod.pins(ROOT / "constraints.txt")
    # The three the check imports are the project's direct pins (pyproject.toml); the rest follow them.
    assert (pinned["onnxruntime-gpu"], pinned["great-expectations"], pinned["pydantic"]) == (
        "1.31.1",
        "1.24.1",
        "2.14.3",
    )


def test_parts_stay_under_the_limit_carry_one_manifest_and_put_small_wheels_whole_first(
    tmp_path: Path, wheels: list[Path]
) -> None:
    kit = tmp_path / ".device-kit"
    manifest = kit_mod.pack(wheels, kit, part_mib=1)
    folders = sorted(kit.glob("part-*"))
    assert [f.name for f in folders] == [f"part-{i}" for i in range(1, manifest["parts"] + 1)]
    assert manifest["parts"] == 3
    for folder in folders:
        assert sum(p.stat().st_size for p in folder.iterdir() if p.name != kit_mod.MANIFEST) <= MiB
        assert json.loads((folder / kit_mod.MANIFEST).read_text()) == manifest
    whole_in_first = [w["wheel"] for w in manifest["wheels"] if {s["part"] for s in w["slices"]} == {1}]
    assert sorted(whole_in_first) == ["kitsmall-1.0-py3-none-any.whl", "kittiny-2.0-py3-none-any.whl"]
    assert not kit.with_name(".device-kit.tmp").exists()


def test_joining_gives_back_every_wheel_byte_for_byte(tmp_path: Path, wheels: list[Path]) -> None:
    kit = tmp_path / ".device-kit"
    kit_mod.pack(wheels, kit, part_mib=1)
    out = tmp_path / "joined"
    out.mkdir()
    joined = kit_mod.join(kit, out)
    assert {p.name: p.read_bytes() for p in joined} == {w.name: w.read_bytes() for w in wheels}


def test_a_missing_or_damaged_part_is_named_and_nothing_is_installed(tmp_path: Path, wheels: list[Path]) -> None:
    kit = tmp_path / ".device-kit"
    kit_mod.pack(wheels, kit, part_mib=1)
    target = tmp_path / "site"
    target.mkdir()
    (target / "keep.txt").write_text("an earlier install")
    last = sorted(kit.glob("part-3/*.whl.*"))[0]
    data = last.read_bytes()
    last.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    with pytest.raises(kit_mod.KitError, match=r"part-3/kitbig-3\.0-py3-none-any\.whl\.\d{3}: .* damaged"):
        kit_mod.install(kit, target)
    last.unlink()
    with pytest.raises(kit_mod.KitError, match=r"is missing: part 3 of 3 was not carried"):
        kit_mod.install(kit, target)
    assert [p.name for p in target.iterdir()] == ["keep.txt"]


def test_the_first_part_alone_installs_its_whole_wheels_and_they_import(tmp_path: Path, wheels: list[Path]) -> None:
    kit = tmp_path / ".device-kit"
    kit_mod.pack(wheels, kit, part_mib=1)
    for folder in ("part-2", "part-3"):  # the smoke call has only part 1 on the machine
        for path in (kit / folder).iterdir():
            path.unlink()
        (kit / folder).rmdir()
    target = tmp_path / "site"
    names = kit_mod.install(kit, target, only_whole_in=1)
    assert sorted(names) == ["kitsmall-1.0-py3-none-any.whl", "kittiny-2.0-py3-none-any.whl"]
    probe = "import kitsmall, kittiny; print(kitsmall.VALUE, kittiny.VALUE)"
    done = subprocess.run([sys.executable, "-c", probe], env={**os.environ, "PYTHONPATH": str(target)},
                          capture_output=True, text=True, check=True)  # fmt: skip
    assert done.stdout.split() == ["1.0", "2.0"]


def test_the_whole_kit_installs_through_pip_and_the_sliced_wheel_is_intact(tmp_path: Path, wheels: list[Path]) -> None:
    kit = tmp_path / ".device-kit"
    kit_mod.pack(wheels, kit, part_mib=1)
    target = tmp_path / "site"
    kit_mod.install(kit, target)
    big = next(w for w in wheels if w.name.startswith("kitbig"))
    with zipfile.ZipFile(big) as zf:
        expected = hashlib.sha256(zf.read("kitbig/pad.bin")).hexdigest()
    assert hashlib.sha256((target / "kitbig" / "pad.bin").read_bytes()).hexdigest() == expected
    assert not target.with_name("site.tmp").exists()


def test_the_plan_carries_one_part_per_call_and_runs_the_check_last(tmp_path: Path, wheels: list[Path]) -> None:
    kit = tmp_path / ".device-kit"
    kit_mod.pack(wheels, kit, part_mib=1)
    lines = [line for line in kit_mod.plan(kit).splitlines() if not line.startswith("#")]
    assert [line.split(":")[0] for line in lines] == ["call 1", "call 2", "call 3"]
    assert "carry [.device-kit/part-1]" in lines[0] and "device-smoke.sh" in lines[0]
    assert "carry [.device-kit/part-3]" in lines[2] and "scripts/gpu-check.sh" in lines[2]


@pytest.mark.parametrize("budget", [0, 781, kit_mod.MAX_BUDGET_S + 1])
def test_a_budget_the_last_call_cannot_hold_is_refused(tmp_path: Path, wheels: list[Path], budget: int) -> None:
    """`plan --budget-s` over 600 s less the install, copy back and stop grace would be killed by the device tool
    before the check's own stop; the error names the parameter and the largest budget."""
    kit = tmp_path / ".device-kit"
    kit_mod.pack(wheels, kit, part_mib=1)
    with pytest.raises(kit_mod.KitError, match=rf"--budget-s {budget}: .* 1-{kit_mod.MAX_BUDGET_S} s"):
        kit_mod.plan(kit, budget)
    assert f"GPU_CHECK_BUDGET_S={kit_mod.MAX_BUDGET_S} " in kit_mod.plan(kit, kit_mod.MAX_BUDGET_S)


def test_a_part_limit_under_a_mebibyte_is_refused(tmp_path: Path, wheels: list[Path]) -> None:
    with pytest.raises(kit_mod.KitError, match=r"--part-mib 0\.5"):
        kit_mod.pack(wheels, tmp_path / ".device-kit", part_mib=0.5)


def test_a_carrying_call_finds_an_earlier_part_gone_at_once(tmp_path: Path, wheels: list[Path]) -> None:
    """A machine that went back between calls comes back bare: call k's check names the part it lacks."""
    kit = tmp_path / ".device-kit"
    kit_mod.pack(wheels, kit, part_mib=1)
    assert len(kit_mod.check(kit, 2)) == sum(len(list((kit / f"part-{i}").glob("*.whl.*"))) for i in (1, 2))
    for path in (kit / "part-1").glob("*.whl.*"):
        path.unlink()
    with pytest.raises(kit_mod.KitError, match=r"part-1/.* is missing: part 1 is not on this machine"):
        kit_mod.check(kit, 2)


def test_the_device_side_verbs_need_the_standard_library_alone(tmp_path: Path, wheels: list[Path]) -> None:
    """`plan`, `check` and `install` run on the device's python3 before anything is installed: with
    site-packages switched off (`-S -I`) they must still import and run."""
    kit = tmp_path / ".device-kit"
    kit_mod.pack(wheels, kit, part_mib=1)
    script = str(ROOT / "scripts" / "device_kit.py")
    for verb in (["plan"], ["check", "--upto", "3"]):
        done = subprocess.run([sys.executable, "-S", "-I", script, *verb, "--kit", str(kit)], capture_output=True,
                              text=True, check=False)  # fmt: skip
        assert done.returncode == 0, done.stderr
    # and the module itself, imported the same way (install's pip is the device's own, run as a subprocess)
    done = subprocess.run([sys.executable, "-S", "-I", "-c", f"import runpy; runpy.run_path({script!r})"],
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
