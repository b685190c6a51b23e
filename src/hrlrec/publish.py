"""Publish: promote the day's candidate only when every required gate said yes.

Reads the gates' metrics files for the day (`registry.publish_requires`,
default evaluate, stability and export). Each must exist for this day and say
PASS; a WARN counts only when the caller approves it. Otherwise production is
left exactly as it is and the refusal names each condition that failed.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
from dataclasses import dataclass
from pathlib import Path

from hrlrec import registry, results, stability
from hrlrec.config import Config
from hrlrec.errors import Rejected
from hrlrec.serving import export
from hrlrec.simulator import partition
from hrlrec.verdict import FAIL, PASS, WARN


@dataclass(frozen=True)
class PublishResult:
    ds: str
    version: str
    previous: str | None
    approved_warnings: list[str]


def run(
    cfg: Config, ds: str, root: Path, approve_warn: bool = False, reason: str = "", approved_by: str | None = None,
    via: str = "cli",
) -> PublishResult:  # fmt: skip
    """Register and promote the candidate of `ds`, or raise Rejected naming what stopped it.

    Either way metrics/publish.json (and its archive for the day) records the
    outcome and, when a WARN was approved, who approved it, when and through what.
    """
    problems, warnings, verdicts = [], [], {}
    for gate in cfg.registry.publish_requires:
        path = root / cfg.paths.metrics / f"{gate}.json"
        if not path.is_file():
            problems.append(f"{gate}: no result ({path} missing; run `hrlrec {gate} --ds {ds}`)")
            continue
        result = json.loads(path.read_text())
        verdicts[gate] = {"verdict": result.get("verdict"), "reason": result.get("reason")}
        if result.get("ds") != ds:
            problems.append(f"{gate}: its result is for {result.get('ds')}, not {ds}")
        elif result.get("verdict") == FAIL:
            problems.append(f"{gate}: {result.get('reason')}")
        elif result.get("verdict") == WARN:
            warnings.append(f"{gate}: {result.get('reason')}")
        elif result.get("verdict") != PASS:
            problems.append(f"{gate}: unknown verdict {result.get('verdict')!r}")
    if warnings and not approve_warn:
        problems += [f"{w} (a WARN is published only when approved: --approve-warn)" for w in warnings]
    current = registry.production(cfg, root)
    decision = None
    if warnings and approve_warn:
        who = approved_by or os.environ.get("HRLREC_USER") or getpass.getuser()
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        decision = {"approved": True, "by": who, "at": now, "via": via, "comment": reason}
    record = {"ds": ds, "published": False, "version": None, "previous": current.name if current else None,
              "gates": verdicts, "decision": decision}  # fmt: skip
    if problems:
        words = f"not published; production stays {current.name if current else 'empty'}:\n  " + "\n  ".join(problems)
        results.write(root / cfg.paths.metrics, "publish", ds, {**record, "reason": words})
        raise Rejected(words)
    candidates = partition(root / cfg.paths.models / "candidates", ds)
    meta = json.loads((partition(root / cfg.paths.datasets, ds) / "meta.json").read_text())
    exported = export.folder(cfg, root, ds)
    version = registry.register(cfg, ds, root, candidates, exported, verdicts, meta.get("fingerprints", {}))
    why = reason or ("approved warnings" if warnings else "all gates passed")
    registry.promote(cfg, root, version, reason=why)
    stability.promote_record(cfg, ds, root)  # next week's stability gate compares with it
    record.update(published=True, version=version.name, reason=f"published {version.name}: {why}")
    results.write(root / cfg.paths.metrics, "publish", ds, record)
    return PublishResult(ds, version.name, current.name if current else None, warnings)
