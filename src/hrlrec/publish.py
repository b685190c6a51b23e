"""Publish: promote the day's candidate only when every required gate said yes.

`admission` is the one decision of what may be published for a day, read from
the gates' results for that day (`registry.publish_requires`, default
evaluate, stability and export): each must exist for this day and say PASS; a
WARN counts only when someone approves it. `run` publishes through it (the CLI,
DVC and Airflow's publish tasks), Airflow's `decide` branches on it, and
`record_rejection` records a WARN a person (or the approval timeout) turned
down. Every outcome is written to metrics/publish.json with one schema.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
from dataclasses import dataclass, field
from typing import Any

from hrlrec import checkpoints, registry, results, stability
from hrlrec.errors import BadInput, Rejected
from hrlrec.serving.manifest import read as read_manifest
from hrlrec.verdict import FAIL, PASS, WARN
from hrlrec.workspace import Workspace


@dataclass(frozen=True)
class PublishResult:
    ds: str
    version: str
    previous: str | None
    approved_warnings: list[str]


@dataclass(frozen=True)
class Admission:
    """What the gates' results for a day allow: publish, ask a person (warnings), or refuse (problems)."""

    ds: str
    verdicts: dict[str, dict[str, Any]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    model_sha256: str | None = None  # the candidate every gate judged

    @property
    def needs_approval(self) -> bool:
        return not self.problems and bool(self.warnings)


def candidate_sha256(ws: Workspace, ds: str) -> str | None:
    """SHA-256 of the HRL-Rec candidate's weights of `ds` as they are on disk now (None: no candidate)."""
    weights = ws.layout.candidate_weights(ds)
    return checkpoints.sha256(weights) if weights.is_file() else None


def admission(ws: Workspace, ds: str) -> Admission:
    """Read each required gate's result for day `ds` (the per-day archive) and sort them.

    A gate's result counts only for the exact weights it judged: its `model_sha256`
    must be the SHA-256 of the day's candidate as it is now (a retrained candidate
    needs every gate again).
    """
    verdicts: dict[str, dict[str, Any]] = {}
    warnings: list[str] = []
    problems: list[str] = []
    current = candidate_sha256(ws, ds)
    if current is None:
        problems.append(f"no HRL-Rec candidate for {ds} (run `hrlrec train --ds {ds}`)")
    for gate in ws.cfg.registry.publish_requires:
        result = results.read(ws.layout, gate, ds)
        if result is None:
            problems.append(f"{gate}: no result for {ds} (run `hrlrec {gate} --ds {ds}`)")
            continue
        judged = result.get("model_sha256")
        verdicts[gate] = {"verdict": result.get("verdict"), "reason": result.get("reason"), "model_sha256": judged}
        if result.get("ds") != ds:
            problems.append(f"{gate}: its result is for {result.get('ds')}, not {ds}")
            continue
        if current is not None and judged != current:
            what = f"model {judged[:12]}" if isinstance(judged, str) else "no recorded model"
            problems.append(
                f"{gate}: it judged {what}, but the candidate of {ds} is now {current[:12]}; "
                f"run `hrlrec {gate} --ds {ds}` on it"
            )
        if result.get("verdict") == FAIL:
            problems.append(f"{gate}: {result.get('reason')}")
        elif result.get("verdict") == WARN:
            warnings.append(f"{gate}: {result.get('reason')}")
        elif result.get("verdict") != PASS:
            problems.append(f"{gate}: unknown verdict {result.get('verdict')!r}")
    if "export" in ws.cfg.registry.publish_requires and not problems:
        problems += _export_matches_its_verdict(ws, ds)
    return Admission(ds, verdicts, warnings, problems, current)


def _export_matches_its_verdict(ws: Workspace, ds: str) -> list[str]:
    """The ONNX files on disk are the ones the export gate proved (a crash or rerun can swap them)."""
    result = results.read(ws.layout, "export", ds) or {}
    proven = result.get("files") or {}
    folder = ws.layout.export_day(ds)
    try:
        manifest = read_manifest(folder)
    except BadInput as exc:
        return [f"export: {exc}"]
    on_disk = {f"{name}.onnx": digest for name, digest in manifest["sha256"].items()}
    if proven != on_disk:
        return [f"export: {folder} holds other ONNX files than the export gate proved; run `hrlrec export --ds {ds}`"]
    return []


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _record(ws: Workspace, ds: str, admitted: Admission, decision: dict[str, Any] | None) -> dict[str, Any]:
    current = registry.production(ws)
    return {"ds": ds, "published": False, "version": None, "previous": current.name if current else None,
            "gates": admitted.verdicts, "decision": decision}  # fmt: skip


def run(
    ws: Workspace, ds: str, approve_warn: bool = False, reason: str = "", approved_by: str | None = None,
    via: str = "cli",
) -> PublishResult:  # fmt: skip
    """Register and promote the candidate of `ds`, or raise Rejected naming what stopped it.

    Either way metrics/publish.json (and its archive for the day) records the
    outcome and, when a WARN was approved, who approved it, when and through what.
    """
    admitted = admission(ws, ds)
    problems = list(admitted.problems)
    if admitted.warnings and not approve_warn:
        problems += [f"{w} (a WARN is published only when approved: --approve-warn)" for w in admitted.warnings]
    decision = None
    if admitted.warnings and approve_warn:
        who = approved_by or os.environ.get("HRLREC_USER") or getpass.getuser()
        decision = {"approved": True, "by": who, "at": _now(), "via": via, "comment": reason}
    record = _record(ws, ds, admitted, decision)
    if problems:
        words = f"not published; production stays {record['previous'] or 'empty'}:\n  " + "\n  ".join(problems)
        results.write(ws.layout, "publish", ds, {**record, "reason": words})
        raise Rejected(words)
    meta = json.loads(ws.layout.dataset_meta(ds).read_text())
    version = registry.register(ws, ds, admitted.verdicts, meta.get("fingerprints", {}))
    if version.meta["model_hashes"]["hrlrec"] != admitted.model_sha256:  # replaced since the gates were read
        words = f"the candidate of {ds} changed while it was being registered; version {version.name} was not promoted"
        results.write(ws.layout, "publish", ds, {**record, "reason": words})
        raise Rejected(words)
    why = reason or ("approved warnings" if admitted.warnings else "all gates passed")
    if not registry.promote(ws, version, reason=why):
        why = f"{version.name} was already in production (a repeated publish changes nothing)"
    stability.promote_record(ws, ds)  # next week's stability gate compares with it
    record.update(published=True, version=version.name, reason=f"published {version.name}: {why}")
    results.write(ws.layout, "publish", ds, record)
    return PublishResult(ds, version.name, record["previous"], admitted.warnings)


def record_rejection(ws: Workspace, ds: str, by: str, comment: str, via: str = "airflow-hitl") -> dict[str, Any]:
    """A person (or the approval timeout) said no to a WARN: production stays, the decision is recorded."""
    decision = {"approved": False, "by": by, "at": _now(), "via": via, "comment": comment}
    record = _record(ws, ds, admission(ws, ds), decision)
    record["reason"] = f"not published: the WARN was rejected by {by}" + (f" ({comment})" if comment else "")
    results.write(ws.layout, "publish", ds, record)
    return record
