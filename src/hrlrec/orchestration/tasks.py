"""What each task of the `hrlrec_daily` DAG does, with no Airflow in sight.

Every function takes the workspace folder and the day, runs a step of the
step table (`hrlrec.pipeline`) with the same defaults as the CLI and the DVC
stage, and returns a small JSON-able summary (the task's XCom). A check or
gate that says FAIL raises `Rejected` with the verdict's words, so the task
fails without retries and the failure notifier has something to say (the
CLI's exit 1); bad input raises the step's own error. Each step is idempotent:
re-running a task for a day rewrites that day's outputs atomically.

Heavy imports (torch, Great Expectations, pandas) happen inside the steps,
so importing this module (and the DAG file) stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hrlrec import pipeline
from hrlrec.errors import Rejected
from hrlrec.layout import SUCCESS
from hrlrec.workspace import Workspace

PUBLISH, APPROVE = "publish", "approve"  # what `decide` returns when no gate failed


def _ws(root: str | Path) -> Workspace:
    return Workspace.open(Path(root))


def landing_ready(root: str | Path, ds: str) -> bool:
    """True when the landing partition of `ds` is complete (its `_SUCCESS` marker exists)."""
    return (_ws(root).layout.landing_day(ds) / SUCCESS).is_file()


def land(root: str | Path, ds: str) -> dict[str, Any]:
    """`source: simulator`: simulate what has not landed; `parquet`: report it (the sensor after it waits)."""
    r = pipeline.run("land", _ws(root), ds)
    return {"ds": ds, "source": r.source, "simulated": r.simulated, "missing": r.missing}


def ingest(root: str | Path, ds: str) -> dict[str, Any]:
    """The day (and any window day the dataset reads but the raw store lacks) into data/raw."""
    r = pipeline.run("ingest", _ws(root), ds)
    return {"ds": ds, "rows": r.rows, "rows_per_channel": r.rows_per_channel,
            "backfilled": [b.ds for b in r.backfilled]}  # fmt: skip


def validate(root: str | Path, ds: str) -> dict[str, Any]:
    """Great Expectations on the day (and unvalidated window days); a failing day is quarantined, the task fails."""
    r = pipeline.run("validate", _ws(root), ds)
    if not r.passed:
        raise Rejected(
            f"validation {r.verdict} for {ds}: {r.reason}; the day is quarantined. Release it on purpose with "
            f"`hrlrec validate --ds {ds} --accept --reason '...'`, then clear this run"
        )
    return {"ds": ds, "verdict": r.verdict, "rows": r.rows, "reason": r.reason, "backfilled": r.backfilled}


def dataset(root: str | Path, ds: str) -> dict[str, Any]:
    r = pipeline.run("dataset", _ws(root), ds)
    return {"ds": ds, "rows": r.rows, "train_days": r.train_days}


def train(root: str | Path, ds: str) -> dict[str, Any]:
    """HRL-Rec and the configured baselines; on the GPU when `train.device` allows and one is present."""
    r = pipeline.run("train", _ws(root), ds, progress=False)
    return {"ds": ds, "device": r.device, "auc": {m: v["auc"] for m, v in r.models.items()}}


def gate(name: str, root: str | Path, ds: str) -> dict[str, Any]:
    """Run release gate `name`; FAIL raises, PASS and WARN return the verdict."""
    if not pipeline.step(name).gate:
        raise ValueError(f"{name} is not a release gate; gates are {', '.join(pipeline.GATES)}")
    verdict = pipeline.run(name, _ws(root), ds)
    if verdict.exit_code:
        raise Rejected(f"{name} gate: {verdict.reason}")
    return {"ds": ds, "gate": name, "verdict": verdict.level, "reason": verdict.reason}


def decide(root: str | Path, ds: str) -> dict[str, Any]:
    """PUBLISH when every required gate passed for `ds`, APPROVE when one warned (a person decides)."""
    from hrlrec.publish import admission

    admitted = admission(_ws(root), ds)
    if admitted.problems:
        raise Rejected("; ".join(admitted.problems))
    return {"ds": ds, "next": APPROVE if admitted.warnings else PUBLISH, "warnings": admitted.warnings}


def publish(root: str | Path, ds: str, approved_by: str | None = None, comment: str = "") -> dict[str, Any]:
    """Register and promote the day's candidate; `approved_by` publishes a WARN a person approved."""
    r = pipeline.run(
        "publish", _ws(root), ds, approve_warn=approved_by is not None, reason=comment or "airflow hrlrec_daily",
        approved_by=approved_by, via="airflow-hitl" if approved_by else "airflow",
    )  # fmt: skip
    return {"ds": ds, "version": r.version, "previous": r.previous, "approved_warnings": r.approved_warnings}


def record_rejection(root: str | Path, ds: str, by: str, comment: str) -> dict[str, Any]:
    """A person (or the approval timeout) said no to a WARN: production stays, the decision is recorded."""
    from hrlrec.publish import record_rejection as record

    return record(_ws(root), ds, by, comment)


def report(root: str | Path, ds: str) -> dict[str, Any]:
    """Write the on-call page of `ds` (also after a failure: it says what failed)."""
    return {"ds": ds, "report": str(pipeline.run("report", _ws(root), ds))}


def verdict_line(root: str | Path, ds: str, task: str) -> str:
    """The one line a failure notification leads with: the failed step's verdict for `ds`, if it wrote one."""
    from hrlrec import results

    result = pipeline.BY_NAME[task].result if task in pipeline.BY_NAME else None
    found = results.read(_ws(root).layout, result, ds) if result else None
    if found is None or "verdict" not in found:  # no result, or one that judges nothing (train's metrics)
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
    record = results.read(ws.layout, "publish", ds)
    if not record or not record.get("published"):
        return {"ds": ds, "skipped": "nothing was published"}
    return versioning.commit_day(ws.layout, ds, record.get("version"))
