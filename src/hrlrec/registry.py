"""The model registry in the workspace: immutable versions and an atomic production pointer.

    models/registry/versions/<version>/   hrlrec.pt, lr.pt, their cards, onnx/, version.json
                                          (hrlrec.layout names these files)
    models/registry/production.json       {"version": ..., "since": ...}
    models/registry/history.jsonl         every promotion and rollback, who and why

A version folder is written once (temporary folder, then rename) and never
changed. Promotion replaces production.json with os.replace, so a reader sees
the old pointer or the new one, never half of a promotion; rolling back is the
same pointer swap to an older, untouched folder, so the files it restores are
byte for byte those that served before. Only the last `registry.keep` versions
are kept, production and its predecessor never pruned.
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hrlrec import atomic, checkpoints
from hrlrec.errors import BadInput
from hrlrec.layout import VERSION_ONNX
from hrlrec.serving.manifest import verify_folder
from hrlrec.workspace import Workspace


@dataclass(frozen=True)
class Version:
    """A registered model version."""

    name: str
    folder: Path
    meta: dict[str, Any]

    def weights(self, model: str = "hrlrec") -> Path:
        return self.folder / f"{model}.pt"

    @property
    def onnx(self) -> Path:
        """The exported serving graphs (see hrlrec.serving.export)."""
        return self.folder / VERSION_ONNX


def _git_revision(path: Path) -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=path, capture_output=True, text=True, check=False)
    except OSError:
        return None
    return out.stdout.strip() or None


def register(ws: Workspace, ds: str, verdicts: dict[str, Any], data_hashes: dict[str, str]) -> Version:
    """Copy the candidates of `ds` and their ONNX export into a new immutable version (not yet in production)."""
    cfg, layout = ws.cfg, ws.layout
    candidates, onnx_dir = layout.candidates_day(ds), layout.export_day(ds)
    cards = {p.stem: checkpoints.verify(p) for p in sorted(candidates.glob("*.pt"))}  # refuse damaged files
    if "hrlrec" not in cards:
        raise BadInput(f"{candidates}: no hrlrec candidate to register")
    manifest = verify_folder(onnx_dir)  # serving needs the export, untampered
    if manifest["weights_sha256"] != cards["hrlrec"]["sha256"]:
        raise BadInput(f"{onnx_dir}: exported from other weights than {candidates / 'hrlrec.pt'}; run `hrlrec export`")
    name = f"{ds}-{cards['hrlrec']['sha256'][:8]}"
    folder = layout.version_dir(name)
    meta = {
        "version": name,
        "ds": ds,
        "registered_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "git_revision": _git_revision(ws.root),
        "params_hash": hashlib.sha256(cfg.model_dump_json().encode()).hexdigest(),
        "params": cfg.model_dump(mode="json"),  # what "params changed since" is measured against
        "data_hashes": data_hashes,
        "model_hashes": {m: card["sha256"] for m, card in cards.items()},
        "metrics": {m: card.get("metrics", {}) for m, card in cards.items()},
        "gates": verdicts,
    }
    if folder.exists():
        return Version(name, folder, json.loads(layout.version_file(name).read_text()))
    with atomic.atomic_dir(folder) as tmp:
        for f in candidates.iterdir():
            if f.suffix in (".pt", ".json", ".onnx") and not f.name.startswith("."):
                shutil.copy2(f, tmp / f.name)
        shutil.copytree(onnx_dir, tmp / VERSION_ONNX)
        (tmp / layout.version_file(name).name).write_text(json.dumps(meta, indent=2) + "\n")
    return Version(name, folder, meta)


def get(ws: Workspace, name: str) -> Version:
    path = ws.layout.version_file(name)
    if not path.is_file():
        known = ", ".join(v.name for v in versions(ws)) or "none"
        raise BadInput(f"no registered version {name!r} (known: {known})")
    return Version(name, ws.layout.version_dir(name), json.loads(path.read_text()))


def versions(ws: Workspace) -> list[Version]:
    """Registered versions, oldest first."""
    base = ws.layout.registry_versions
    if not base.is_dir():
        return []
    found = [get(ws, p.name) for p in base.iterdir() if ws.layout.version_file(p.name).is_file()]
    return sorted(found, key=lambda v: (v.meta["registered_at"], v.name))


def production(ws: Workspace) -> Version | None:
    """The version in production, or None before the first promotion."""
    pointer = ws.layout.production_pointer
    if not pointer.is_file():
        return None
    return get(ws, json.loads(pointer.read_text())["version"])


def verify(version: Version) -> None:
    """Refuse a version whose files no longer match their recorded hashes."""
    for model in version.meta["model_hashes"]:
        checkpoints.verify(version.weights(model))
    verify_folder(version.onnx)


def _history(ws: Workspace) -> list[dict[str, Any]]:
    path = ws.layout.registry_history
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def promote(ws: Workspace, version: Version, action: str = "promote", reason: str = "") -> None:
    """Point production at `version` atomically and record who did it and why."""
    verify(version)
    layout = ws.layout
    previous = production(ws)
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    who = os.environ.get("HRLREC_USER") or getpass.getuser()
    pointer = {"version": version.name, "since": now, "by": who}
    atomic.write_text(layout.production_pointer, json.dumps(pointer, indent=2) + "\n")
    event = {
        "at": now, "action": action, "version": version.name,
        "previous": previous.name if previous else None, "by": who, "reason": reason,
    }  # fmt: skip
    with open(layout.registry_history, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(event) + "\n")
    _prune(ws)


def rollback(ws: Workspace, to: str | None = None, reason: str = "") -> Version:
    """Put the previous production version (or `to`) back into production."""
    current = production(ws)
    if to is None:
        if current is None:
            raise BadInput("nothing in production; nothing to roll back")
        earlier = [e["previous"] for e in reversed(_history(ws)) if e["version"] == current.name]
        if not earlier or earlier[0] is None:
            raise BadInput(f"{current.name} has no earlier production version to roll back to; name one with --to")
        to = earlier[0]
    target = get(ws, to)
    if current is not None and target.name == current.name:
        raise BadInput(f"{to} is already in production")
    promote(ws, target, action="rollback", reason=reason)
    return target


def _prune(ws: Workspace) -> None:
    """Keep the newest `registry.keep` versions, plus production and what it replaced."""
    keep = set()
    current = production(ws)
    if current is not None:
        keep.add(current.name)
        keep.update(e["previous"] for e in _history(ws) if e["version"] == current.name and e["previous"])
    all_versions = versions(ws)
    keep.update(v.name for v in all_versions[-ws.cfg.registry.keep :])
    for v in all_versions:
        if v.name not in keep:
            shutil.rmtree(v.folder, ignore_errors=True)
