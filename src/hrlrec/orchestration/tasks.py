"""What each task of the `hrlrec_daily` DAG does, with no Airflow in sight.

Every function takes the workspace folder and the day, calls the same step
function the CLI and the DVC stage call, and returns a small JSON-able summary
(the task's XCom). A check or gate that says FAIL raises `Rejected` with the
verdict's words, so the task fails without retries and the failure notifier
has something to say (`Rejected`, the CLI's exit 1); bad input raises the step's own error. Each step is
idempotent: re-running a task for a day rewrites that day's outputs atomically
and touches nothing else.

Heavy imports (torch, Great Expectations, pandas) happen inside the functions,
so importing this module (and the DAG file) stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hrlrec.errors import Rejected
from hrlrec.workspace import Workspace

PUBLISH, APPROVE = "publish", "approve"  # what `decide` returns when no gate failed


def _ws(root: str | Path) -> Workspace:
    return Workspace.open(Path(root))


def landing_ready(root: str | Path, ds: str) -> bool:
    """True when the landing partition of `ds` is complete (its `_SUCCESS` marker exists)."""
    from hrlrec.ingest import SUCCESS
    from hrlrec.simulator import partition

    ws = _ws(root)
    return (partition(ws.landing, ds) / SUCCESS).is_file()


def land(root: str | Path, ds: str) -> dict[str, Any]:
    """With `airflow.source: simulator`, simulate `ds` (and the window days) into the landing zone.

    With `parquet` an upstream system drops the day and this does nothing: the
    sensor after it waits for the `_SUCCESS` marker.
    """
    from hrlrec import backfill, simulator

    ws = _ws(root)
    if ws.cfg.airflow.source != "simulator":
        return {"ds": ds, "simulated": []}
    done = []
    for day in [*backfill.window(ws.cfg, ds), ds]:
        if not landing_ready(root, day):
            simulator.run(ws.cfg, day, 1, ws.landing)
            done.append(day)
    return {"ds": ds, "simulated": done}


def ingest(root: str | Path, ds: str) -> dict[str, Any]:
    """The day (and any window day the dataset reads but the raw store lacks) into data/raw."""
    from hrlrec import backfill
    from hrlrec import ingest as step

    ws = _ws(root)
    backfill.ingest_window(ws.cfg, ds, ws.root, ws.landing, "parquet")
    r = step.run(ws.cfg, ds, ws.landing, ws.raw, source="parquet")
    return {"ds": ds, "rows": r.rows, "rows_per_channel": r.rows_per_channel}


def validate(root: str | Path, ds: str) -> dict[str, Any]:
    """Great Expectations on the day; a failing day is quarantined and the task fails."""
    from hrlrec import backfill, validation

    ws = _ws(root)
    backfill.validate_window(ws.cfg, ds, ws.root)
    r = validation.run(ws.cfg, ds, ws.root)
    if not r.passed:
        raise Rejected(
            f"validation {r.verdict} for {ds}: {r.reason}; the day is quarantined. Release it on purpose with "
            f"`hrlrec validate --ds {ds} --accept --reason '...'`, then clear this run"
        )
    return {"ds": ds, "verdict": r.verdict, "rows": r.rows, "reason": r.reason}


def dataset(root: str | Path, ds: str) -> dict[str, Any]:
    from hrlrec.data import build

    ws = _ws(root)
    r = build.run(ws.cfg, ds, ws.root)
    return {"ds": ds, "rows": r.rows, "train_days": r.train_days}


def train(root: str | Path, ds: str) -> dict[str, Any]:
    """HRL-Rec and the configured baselines; on the GPU when `train.device` allows and one is present."""
    from hrlrec import train as step

    ws = _ws(root)
    r = step.run(ws.cfg, ds, ws.root, progress=False)
    return {"ds": ds, "device": r.device, "auc": {m: v["auc"] for m, v in r.models.items()}}


def gate(name: str, root: str | Path, ds: str) -> dict[str, Any]:
    """Run gate `name` (evaluate, stability or export); FAIL raises, PASS and WARN return the verdict."""
    from hrlrec import gates

    ws = _ws(root)
    verdict = gates.run(name, ws.cfg, ds, ws.root)
    if verdict.exit_code:
        raise Rejected(f"{name} gate: {verdict.reason}")
    return {"ds": ds, "gate": name, "verdict": verdict.level, "reason": verdict.reason}


def decide(root: str | Path, ds: str) -> dict[str, Any]:
    """PUBLISH when every required gate passed for `ds`, APPROVE when one warned (a human decides)."""
    from hrlrec import results
    from hrlrec.verdict import PASS, WARN

    ws = _ws(root)
    verdicts = {}
    for name in ws.cfg.registry.publish_requires:
        found = results.read(ws.root / ws.cfg.paths.metrics, name, ds)
        if found is None:
            raise Rejected(f"{name} gate has no result for {ds}")
        verdicts[name] = found
    warned = [f"{n}: {v['reason']}" for n, v in verdicts.items() if v["verdict"] == WARN]
    failed = [f"{n}: {v['reason']}" for n, v in verdicts.items() if v["verdict"] not in (PASS, WARN)]
    if failed:
        raise Rejected("; ".join(failed))
    return {"ds": ds, "next": APPROVE if warned else PUBLISH, "warnings": warned}


def publish(root: str | Path, ds: str, approved_by: str | None = None, comment: str = "") -> dict[str, Any]:
    """Register and promote the day's candidate; `approved_by` publishes a WARN a human approved."""
    from hrlrec import publish as step

    ws = _ws(root)
    r = step.run(
        ws.cfg, ds, ws.root, approve_warn=approved_by is not None, reason=comment or "airflow hrlrec_daily",
        approved_by=approved_by, via="airflow-hitl" if approved_by else "airflow",
    )  # fmt: skip
    return {"ds": ds, "version": r.version, "previous": r.previous, "approved_warnings": r.approved_warnings}


def record_rejection(root: str | Path, ds: str, by: str, comment: str) -> dict[str, Any]:
    """A human (or the approval timeout) said no to a WARN: production stays, the decision is recorded."""
    import datetime as dt

    from hrlrec import registry, results

    ws = _ws(root)
    current = registry.production(ws.cfg, ws.root)
    body = {
        "ds": ds, "published": False, "version": None, "previous": current.name if current else None,
        "reason": f"not published: the WARN was rejected by {by}" + (f" ({comment})" if comment else ""),
        "decision": {"approved": False, "by": by, "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                     "via": "airflow-hitl", "comment": comment},
    }  # fmt: skip
    results.write(ws.root / ws.cfg.paths.metrics, "publish", ds, body)
    return body


def report(root: str | Path, ds: str) -> dict[str, Any]:
    """Write the on-call page of `ds` (also after a failure: it says what failed)."""
    from hrlrec import report as step

    ws = _ws(root)
    path = step.write(ws.cfg, ds, ws.root)
    return {"ds": ds, "report": str(path)}


def verdict_line(root: str | Path, ds: str, task: str) -> str:
    """The one line a failure notification leads with: the failed step's verdict for `ds`, if it wrote one."""
    from hrlrec import results

    ws = _ws(root)
    steps_with_results = {"validate", "evaluate", "stability", "export", "publish"}
    found = results.read(ws.root / ws.cfg.paths.metrics, task, ds) if task in steps_with_results else None
    if found is None:
        return f"{task} failed for {ds}"
    verdict, reason = str(found.get("verdict", "FAIL")), str(found.get("reason", ""))
    return f"{task} {ds}: {reason if reason.startswith(verdict) else f'{verdict}: {reason}'}"


def version(root: str | Path, ds: str) -> dict[str, Any]:
    """After a publish: dvc commit + push, one git commit tagged ds-D (skipped when nothing was published)."""
    from hrlrec import results
    from hrlrec.orchestration import versioning

    ws = _ws(root)
    if not ws.cfg.airflow.version_with_dvc:
        return {"ds": ds, "skipped": "airflow.version_with_dvc is false"}
    record = results.read(ws.root / ws.cfg.paths.metrics, "publish", ds)
    if not record or not record.get("published"):
        return {"ds": ds, "skipped": "nothing was published"}
    return versioning.commit_day(ws.root, ds, record.get("version"), ws.cfg.paths.reports)
