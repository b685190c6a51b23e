"""The registry against hostile and tired input: names not paths, altered versions, retries, torn files, locks."""

from __future__ import annotations

import itertools
import json
import multiprocessing
import time
from pathlib import Path

import pytest
import torch

from hrlrec import atomic, checkpoints, registry
from hrlrec.cli import main as cli_main
from hrlrec.errors import BadInput, Busy
from hrlrec.layout import EXPORT_MANIFEST, VERSION_ONNX
from hrlrec.workspace import Workspace
from tests.conftest import tiny_config


def _version(ws: Workspace, ds: str, seed: int, registered_at: str) -> registry.Version:
    """A hand-made registered version: real checkpoint files and an export manifest bound to them."""
    torch.manual_seed(seed)
    state = {"w": torch.randn(3)}
    probe = ws.root / f".probe-{seed}.pt"
    digest = checkpoints.save(probe, state, {"model": "hrlrec"})
    name = f"{ds}-{digest[:8]}"
    folder = ws.layout.version_dir(name)
    (folder / VERSION_ONNX).mkdir(parents=True)
    probe.rename(folder / "hrlrec.pt")
    checkpoints.card_path(probe).rename(folder / "hrlrec.json")
    graph = folder / VERSION_ONNX / "item_logits.onnx"
    graph.write_bytes(b"graph-" + digest.encode())
    manifest = {"sha256": {"item_logits": checkpoints.sha256(graph)}, "weights_sha256": digest}
    (folder / VERSION_ONNX / EXPORT_MANIFEST).write_text(json.dumps(manifest))
    meta = {"version": name, "ds": ds, "registered_at": registered_at, "model_hashes": {"hrlrec": digest}}
    ws.layout.version_file(name).write_text(json.dumps(meta))
    return registry.get(ws, name)


@pytest.fixture
def reg(tmp_path: Path) -> tuple[Workspace, registry.Version, registry.Version]:
    ws = Workspace(tmp_path / "ws", tiny_config())
    ws.root.mkdir()
    v1 = _version(ws, "2026-11-01", 1, "2026-11-01T10:00:00+00:00")
    v2 = _version(ws, "2026-11-02", 2, "2026-11-02T10:00:00+00:00")
    assert registry.promote(ws, v1, reason="first") and registry.promote(ws, v2, reason="second")
    return ws, v1, v2


@pytest.mark.parametrize("to", ["/tmp/x", "../../../x", "versions/2026-11-01-aaaaaaaa", ".2026-11-01-1a2b3c4d.tmp-1",
                                "2026-11-01-1A2B3C4D", ""])  # fmt: skip
def test_rollback_to_takes_version_names_only(reg, to: str) -> None:
    ws, _, v2 = reg
    with pytest.raises(BadInput, match="is not a version name"):
        registry.rollback(ws, to=to)
    assert registry.production(ws).name == v2.name


def test_the_cli_refuses_a_path_with_exit_2(reg, capsys) -> None:
    ws, _, v2 = reg
    (ws.root / "params.yaml").write_text((Path(__file__).parents[1] / "params.yaml").read_text())
    code = cli_main(["rollback", "--workspace", str(ws.root), "--to", str(ws.layout.version_dir(v2.name))])
    assert code == 2 and "is not a version name" in capsys.readouterr().err


def test_hidden_and_foreign_folders_are_not_versions(reg) -> None:
    ws, v1, v2 = reg
    for junk in (".2026-11-03-deadbeef.tmp-12345678", "2026-11-03-deadbeef.old", "notes"):
        (ws.layout.registry_versions / junk).mkdir()
        (ws.layout.registry_versions / junk / "version.json").write_text("{}")
    assert [v.name for v in registry.versions(ws)] == [v1.name, v2.name]


def test_an_altered_version_is_not_promoted(reg) -> None:
    ws, v1, v2 = reg
    torch.manual_seed(99)
    checkpoints.save(v1.weights(), {"w": torch.randn(3)}, {"model": "hrlrec"})  # weights and card replaced
    with pytest.raises(BadInput, match=r"version\.json recorded when .* was registered; the version was altered"):
        registry.rollback(ws)
    assert registry.production(ws).name == v2.name


def test_an_export_from_other_weights_is_not_promoted(reg) -> None:
    ws, v1, v2 = reg
    manifest_path = v1.onnx / EXPORT_MANIFEST
    manifest = json.loads(manifest_path.read_text())
    manifest_path.write_text(json.dumps({**manifest, "weights_sha256": "0" * 64}))
    with pytest.raises(BadInput, match="exported from other weights"):
        registry.rollback(ws, to=v1.name)
    assert registry.production(ws).name == v2.name


def test_promoting_production_again_changes_nothing_and_rollback_still_works(reg) -> None:
    ws, v1, v2 = reg
    assert registry.promote(ws, v2, reason="publish retried") is False
    events = [json.loads(line) for line in ws.layout.registry_history.read_text().splitlines()]
    assert [(e["version"], e["previous"]) for e in events] == [(v1.name, None), (v2.name, v1.name)]
    assert registry.rollback(ws).name == v1.name


def test_a_pointer_to_a_missing_version_is_named_and_rollback_to_repairs_it(reg) -> None:
    ws, v1, _ = reg
    ws.layout.production_pointer.write_text(json.dumps({"version": "2026-10-01-0badc0de"}))
    with pytest.raises(BadInput, match="names '2026-10-01-0badc0de', which cannot be used"):
        registry.production(ws)
    with pytest.raises(BadInput, match="names '2026-10-01-0badc0de'"):
        registry.rollback(ws)  # no --to: there is no known current version to go back from
    assert registry.rollback(ws, to=v1.name).name == v1.name
    assert registry.production(ws).name == v1.name


def test_a_torn_history_line_is_skipped_and_the_next_event_starts_on_its_own_line(reg) -> None:
    ws, v1, v2 = reg
    with open(ws.layout.registry_history, "a") as fh:
        fh.write('{"at": "2026-11-03", "action": "prom')  # a crash mid-append
    assert registry.rollback(ws).name == v1.name
    lines = ws.layout.registry_history.read_text().splitlines()
    assert lines[-2].endswith('"prom') and json.loads(lines[-1])["action"] == "rollback"
    assert registry.rollback(ws, to=v2.name).name == v2.name


def _hold(path: str, seconds: float, started) -> None:
    with atomic.atomic_dir(Path(path)) as tmp:
        (tmp / "part").write_text("first writer")
        started.set()
        time.sleep(seconds)


def test_a_second_writer_of_one_output_waits_and_never_deletes_the_first_one_s_work(tmp_path: Path) -> None:
    target = tmp_path / "data" / "ds=2026-11-01"
    started = multiprocessing.get_context("fork").Event()
    first = multiprocessing.get_context("fork").Process(target=_hold, args=(str(target), 3.0, started))
    first.start()
    assert started.wait(20)
    with pytest.raises(Busy, match="another process is writing it"), atomic.locked(target, wait_s=0.3):
        pass
    assert len(list(target.parent.glob(f".{target.name}.tmp-*"))) == 1  # the first writer's folder is intact
    with atomic.atomic_dir(target) as tmp:  # waits for the first writer, then replaces its output
        (tmp / "part").write_text("second writer")
    first.join(20)
    assert first.exitcode == 0 and (target / "part").read_text() == "second writer"


def _promote_many(root: str, names: list[str], rounds: int) -> None:
    ws = Workspace(Path(root), tiny_config())
    for i in range(rounds):
        registry.promote(ws, registry.get(ws, names[i % 2]), reason=f"pid-round {i}")


def test_concurrent_promotions_keep_one_unbroken_history(reg) -> None:
    """Issue 14 item 4: promote was an unlocked read-modify-write of production and its history.

    Two processes flip production between two versions 15 times each; under the registry's lock every
    recorded event names as `previous` exactly the version the event before it installed.
    """
    ws, v1, v2 = reg
    ctx = multiprocessing.get_context("fork")
    workers = [ctx.Process(target=_promote_many, args=(str(ws.root), names, 15))
               for names in ([v1.name, v2.name], [v2.name, v1.name])]  # fmt: skip
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
        assert w.exitcode == 0
    events = [json.loads(line) for line in ws.layout.registry_history.read_text().splitlines()]
    assert len(events) >= 3
    for before, after in itertools.pairwise(events):
        assert after["previous"] == before["version"], (before, after)
        assert after["version"] != after["previous"]  # never its own predecessor
    assert registry.production(ws).name == events[-1]["version"]
