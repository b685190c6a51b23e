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

Hostile or tired input is refused, never followed: a version is named
`YYYY-MM-DD-<8 hex>` and nothing else (no paths, no hidden folders); a version
whose files disagree with its version.json, or whose ONNX manifest came from
other weights, is not promoted; promotions, rollbacks and pruning hold the
registry's lock; history lines are appended whole and a torn last line (a
crash mid-append) is skipped with a warning; a production pointer that names a
missing version does not block `rollback --to <good version>`.
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import json
import logging
import os
import re
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

log = logging.getLogger(__name__)

VERSION_NAME = re.compile(r"\d{4}-\d{2}-\d{2}-[0-9a-f]{8}")


def check_name(name: str) -> str:
    """`name` when it is a version name (YYYY-MM-DD-<8 hex>); BadInput otherwise (paths, hidden folders...)."""
    if not isinstance(name, str) or not VERSION_NAME.fullmatch(name):
        raise BadInput(f"{name!r} is not a version name (expected YYYY-MM-DD-<8 hex digits>, e.g. 2026-11-08-1a2b3c4d)")
    return name


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
    path = ws.layout.version_file(check_name(name))
    if not path.is_file():
        known = ", ".join(v.name for v in versions(ws)) or "none"
        raise BadInput(f"no registered version {name!r} (known: {known})")
    return Version(name, ws.layout.version_dir(name), json.loads(path.read_text()))


def versions(ws: Workspace) -> list[Version]:
    """Registered versions, oldest first."""
    base = ws.layout.registry_versions
    if not base.is_dir():
        return []
    found = [
        get(ws, p.name)
        for p in base.iterdir()
        if VERSION_NAME.fullmatch(p.name) and p.is_dir() and ws.layout.version_file(p.name).is_file()
    ]
    return sorted(found, key=lambda v: (v.meta["registered_at"], v.name))


def production(ws: Workspace) -> Version | None:
    """The version in production, or None before the first promotion; BadInput when the pointer is broken."""
    pointer = ws.layout.production_pointer
    if not pointer.is_file():
        return None
    try:
        name = json.loads(pointer.read_text())["version"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise BadInput(
            f"{pointer}: unreadable production pointer ({exc}); repair with `hrlrec rollback --to`"
        ) from None
    try:
        return get(ws, name)
    except BadInput as exc:
        raise BadInput(
            f"{pointer} names {name!r}, which cannot be used: {exc}; repair with `hrlrec rollback --to`"
        ) from None


def verify(version: Version) -> None:
    """Refuse a version whose files no longer match version.json's hashes, or whose export came from other weights."""
    hashes = version.meta.get("model_hashes") or {}
    if "hrlrec" not in hashes:
        raise BadInput(f"{version.folder}: version.json records no hrlrec model hash")
    for model, recorded in hashes.items():
        card = checkpoints.verify(version.weights(model))  # file == its card
        if card["sha256"] != recorded:
            raise BadInput(
                f"{version.weights(model)}: SHA-256 {card['sha256'][:12]} is not the {recorded[:12]} that "
                f"version.json recorded when {version.name} was registered; the version was altered"
            )
    manifest = verify_folder(version.onnx)
    if manifest.get("weights_sha256") != hashes["hrlrec"]:
        raise BadInput(f"{version.onnx}: exported from other weights than {version.name}'s hrlrec model")


def _history(ws: Workspace) -> list[dict[str, Any]]:
    """Every promotion and rollback, oldest first; a torn (unparseable) line is skipped with a warning."""
    path = ws.layout.registry_history
    if not path.is_file():
        return []
    events = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            log.warning("%s line %d is torn (a crash while appending?); skipped", path, number)
            continue
        if isinstance(event, dict):
            events.append(event)
    return events


def _append_history(ws: Workspace, event: dict[str, Any]) -> None:
    """One whole line per event, written with a single write and fsynced; after a torn line, on a new line."""
    path = ws.layout.registry_history
    line = json.dumps(event) + "\n"
    if path.is_file() and path.stat().st_size:
        with open(path, "rb") as fh:
            fh.seek(-1, os.SEEK_END)
            if fh.read(1) != b"\n":
                line = "\n" + line
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)


def _production_or_none(ws: Workspace) -> Version | None:
    """Production, or None when the pointer is broken (logged): what recovery commands start from."""
    try:
        return production(ws)
    except BadInput as exc:
        log.warning("%s", exc)
        return None


def promote(ws: Workspace, version: Version, action: str = "promote", reason: str = "") -> bool:
    """Point production at `version` atomically and record who did it and why.

    False, and nothing recorded, when it is already in production (a retried publish
    must not record a version as its own predecessor).
    """
    with atomic.locked(ws.layout.registry_versions):
        return _promote_locked(ws, version, action, reason)


def _promote_locked(ws: Workspace, version: Version, action: str, reason: str) -> bool:
    verify(version)
    layout = ws.layout
    previous = _production_or_none(ws)
    if previous is not None and previous.name == version.name:
        return False
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    who = os.environ.get("HRLREC_USER") or getpass.getuser()
    pointer = {"version": version.name, "since": now, "by": who}
    atomic.write_text(layout.production_pointer, json.dumps(pointer, indent=2) + "\n")
    event = {
        "at": now, "action": action, "version": version.name,
        "previous": previous.name if previous else None, "by": who, "reason": reason,
    }  # fmt: skip
    _append_history(ws, event)
    _prune(ws)
    return True


def rollback(ws: Workspace, to: str | None = None, reason: str = "") -> Version:
    """Put the previous production version (or `to`, a version name) back into production."""
    if to is not None:
        check_name(to)
    with atomic.locked(ws.layout.registry_versions):
        current = production(ws) if to is None else _production_or_none(ws)
        if to is None:
            if current is None:
                raise BadInput("nothing in production; nothing to roll back")
            earlier = [e.get("previous") for e in reversed(_history(ws)) if e.get("version") == current.name]
            earlier = [e for e in earlier if e and e != current.name]
            if not earlier:
                raise BadInput(f"{current.name} has no earlier production version to roll back to; name one with --to")
            to = earlier[0]
        target = get(ws, to)
        if current is not None and target.name == current.name:
            raise BadInput(f"{to} is already in production")
        _promote_locked(ws, target, action="rollback", reason=reason)
        return target


def _prune(ws: Workspace) -> None:
    """Keep the newest `registry.keep` versions, plus production and what it replaced."""
    keep = set()
    current = _production_or_none(ws)
    if current is not None:
        keep.add(current.name)
        keep.update(e["previous"] for e in _history(ws) if e.get("version") == current.name and e.get("previous"))
    all_versions = versions(ws)
    keep.update(v.name for v in all_versions[-ws.cfg.registry.keep :])
    for v in all_versions:
        if v.name not in keep:
            shutil.rmtree(v.folder, ignore_errors=True)
