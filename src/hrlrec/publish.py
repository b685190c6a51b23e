"""Publish: promote the day's candidate only when every required gate said yes.

Reads the gates' metrics files for the day (`registry.publish_requires`,
default evaluate, stability and export). Each must exist for this day and say
PASS; a WARN counts only when the caller approves it. Otherwise production is
left exactly as it is and the refusal names each condition that failed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from hrlrec import registry, stability
from hrlrec.config import Config
from hrlrec.errors import Rejected
from hrlrec.simulator import partition
from hrlrec.verdict import FAIL, PASS, WARN

GATE_FILES = {"evaluate": "evaluate.json", "stability": "stability.json", "export": "export.json"}


@dataclass(frozen=True)
class PublishResult:
    ds: str
    version: str
    previous: str | None
    approved_warnings: list[str]


def run(cfg: Config, ds: str, root: Path, approve_warn: bool = False, reason: str = "") -> PublishResult:
    """Register and promote the candidate of `ds`, or raise Rejected naming what stopped it."""
    problems, warnings, verdicts = [], [], {}
    for gate in cfg.registry.publish_requires:
        path = root / cfg.paths.metrics / GATE_FILES.get(gate, f"{gate}.json")
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
    if problems:
        raise Rejected(
            f"not published; production stays {current.name if current else 'empty'}:\n  " + "\n  ".join(problems)
        )
    candidates = partition(root / cfg.paths.models / "candidates", ds)
    meta = json.loads((partition(root / cfg.paths.datasets, ds) / "meta.json").read_text())
    version = registry.register(cfg, ds, root, candidates, verdicts, meta.get("fingerprints", {}))
    registry.promote(cfg, root, version, reason=reason or ("approved warnings" if warnings else "all gates passed"))
    stability.promote_record(cfg, ds, root)  # next week's stability gate compares with it
    return PublishResult(ds, version.name, current.name if current else None, warnings)
