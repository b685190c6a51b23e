"""hrlrec_daily: one day of feed logs in, a gated HRL-Rec model out.

    land -> wait_for_landing -> ingest -> validate -> dataset -> train
         -> evaluate, stability, export (the gates of hrlrec.pipeline) -> decide -> publish
                                                  | warnings -> approve_warn -> after_approval
                                                                -> publish_approved | keep_production
         -> report (whatever happened) -> version

Thin wiring only: every task is one call into `hrlrec.orchestration.tasks`,
which calls the same step function as the CLI and `dvc.yaml`. Nothing heavy
is imported here (no torch, no Great Expectations): the file parses in well
under a second. The workspace comes from HRLREC_WORKSPACE and its
params.yaml (`airflow:` section) sets schedule details, retries and the
approval timeout.

- catchup backfills from `airflow.start_date`; runs share one workspace, so
  one active run at a time (`max_active_runs=1`);
- the sensor waits for landing/ds=D/_SUCCESS in reschedule mode (no worker
  slot held while waiting) and gives up after `sensor_timeout_s`;
- I/O tasks retry with exponential backoff; validation and gates never retry
  (a FAIL is an answer, not an accident);
- training runs in pool `gpu` on queue `gpu` (the GPU Celery worker);
- a WARN asks the on-call through Airflow's human-in-the-loop (HITLOperator,
  options Publish / Keep production, default Keep production on timeout);
  the answer, who gave it and their comment are recorded in metrics/publish.json
  and the report;
- every failure calls the configured notifier with the verdict line and the
  report's path; publishing updates the `hrlrec_production_model` Asset.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from airflow.providers.standard.operators.hitl import HITLOperator
from airflow.sdk import Asset, BaseOperatorLink, Metadata, Param, PokeReturnValue, dag, task

from hrlrec.config import load as load_config
from hrlrec.layout import Layout
from hrlrec.orchestration.notify import PipelineNotifier
from hrlrec.pipeline import GATES

WORKSPACE = Path(os.environ.get("HRLREC_WORKSPACE", ".")).resolve()
CFG = load_config(WORKSPACE / "params.yaml" if (WORKSPACE / "params.yaml").is_file() else None, [])
AF = CFG.airflow
ROOT = str(WORKSPACE)
LAYOUT = Layout(WORKSPACE, CFG.paths)
PRODUCTION = Asset(name="hrlrec_production_model", uri=f"file://{LAYOUT.production_pointer}")
REPORT_PAGE = str(LAYOUT.report_page("{ds}"))  # formatted per run

IO_RETRIES = {
    "retries": AF.retries,
    "retry_delay": dt.timedelta(seconds=AF.retry_delay_s),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": dt.timedelta(seconds=AF.max_retry_delay_s),
}
NO_RETRIES = {"retries": 0}


APPROVE, KEEP = "Publish", "Keep production"  # the on-call's two answers to a WARN


def _responder(answer: dict | None) -> tuple[str, str]:
    """Who answered the approval and their comment; nobody means the timeout chose the default."""
    answer = answer or {}
    user = answer.get("responded_by_user") or {}
    who = user.get("name") or user.get("id") or f"timeout after {AF.approval_timeout_s}s (default: {KEEP})"
    return who, (answer.get("params_input") or {}).get("comment", "") or ""


class ReportLink(BaseOperatorLink):
    """'On-call report' button on the report and approval tasks: the day's page on the shared workspace."""

    name = "On-call report"

    def get_link(self, operator, *, ti_key) -> str:
        # In Airflow 3 the worker computes the link when the task ends; ti_key is then the running
        # task instance, whose context knows the run's logical day (a run id need not contain it).
        context = ti_key.get_template_context() if hasattr(ti_key, "get_template_context") else {}
        return "file://" + REPORT_PAGE.format(ds=context.get("ds", ""))


@dag(
    dag_id="hrlrec_daily",
    description="Ingest, validate, retrain HRL-Rec, gate (AUC, stability, ONNX parity), publish, version, report",
    schedule=AF.schedule,
    start_date=dt.datetime.fromisoformat(AF.start_date).replace(tzinfo=dt.UTC),
    catchup=True,
    max_active_runs=1,
    default_args={**NO_RETRIES, "on_failure_callback": PipelineNotifier(ROOT)},
    tags=["hrlrec", "ml"],
    doc_md=__doc__,
)
def hrlrec_daily() -> None:
    @task(**IO_RETRIES)
    def land(ds: str | None = None):
        from hrlrec.orchestration import tasks

        return tasks.land(ROOT, ds)

    @task.sensor(poke_interval=AF.sensor_poke_s, timeout=AF.sensor_timeout_s, mode="reschedule")
    def wait_for_landing(ds: str | None = None) -> PokeReturnValue:
        from hrlrec.orchestration import tasks

        return PokeReturnValue(is_done=tasks.landing_ready(ROOT, ds))

    @task(**IO_RETRIES)
    def ingest(ds: str | None = None):
        from hrlrec.orchestration import tasks

        return tasks.ingest(ROOT, ds)

    @task(**NO_RETRIES)
    def validate(ds: str | None = None):
        from hrlrec.orchestration import tasks

        return tasks.validate(ROOT, ds)

    @task(**IO_RETRIES)
    def dataset(ds: str | None = None):
        from hrlrec.orchestration import tasks

        return tasks.dataset(ROOT, ds)

    @task(pool="gpu", queue="gpu", retries=1, execution_timeout=dt.timedelta(seconds=AF.train_timeout_s))
    def train(ds: str | None = None):
        from hrlrec.orchestration import tasks

        return tasks.train(ROOT, ds)

    def release_gate(name: str):
        """One task per release gate of the step table (evaluate, stability, export)."""

        @task(task_id=name, **NO_RETRIES)
        def gate(ds: str | None = None):
            from hrlrec.orchestration import tasks

            return tasks.gate(name, ROOT, ds)

        return gate()

    @task.branch(**NO_RETRIES)
    def decide(ds: str | None = None) -> str:
        from hrlrec.orchestration import tasks

        return "publish" if tasks.decide(ROOT, ds)["next"] == tasks.PUBLISH else "warnings"

    @task(outlets=[PRODUCTION], **IO_RETRIES)
    def publish(ds: str | None = None):
        from hrlrec.orchestration import tasks

        result = tasks.publish(ROOT, ds)
        yield Metadata(PRODUCTION, extra={**result, "report": REPORT_PAGE.format(ds=ds)})
        return result

    @task(**NO_RETRIES)
    def warnings(ds: str | None = None):
        """The warnings, for the approval's body (decide itself returns a branch)."""
        from hrlrec.orchestration import tasks

        return tasks.decide(ROOT, ds)

    approve_warn = HITLOperator(
        task_id="approve_warn",
        subject="hrlrec {{ ds }}: a gate says WARN. Publish the candidate anyway?",
        body=(
            "{% for w in ti.xcom_pull(task_ids='warnings')['warnings'] %}- {{ w }}\n{% endfor %}\n"
            "On-call report: " + REPORT_PAGE.replace("{ds}", "{{ ds }}") + "\n\n"
            f"{APPROVE} promotes the candidate; {KEEP} (or no answer within the timeout) leaves production as it is."
        ),
        options=[APPROVE, KEEP],
        defaults=[KEEP],
        response_timeout=dt.timedelta(seconds=AF.approval_timeout_s),
        params={"comment": Param("", type="string", description="why; recorded in the registry and the report")},
    )

    @task.branch(**NO_RETRIES)
    def after_approval(ti=None) -> str:
        """Publish on approval; otherwise record who kept production (or that nobody answered)."""
        answer = ti.xcom_pull(task_ids="approve_warn") or {}
        return "publish_approved" if APPROVE in (answer.get("chosen_options") or []) else "keep_production"

    @task(**IO_RETRIES)
    def keep_production(ds: str | None = None, ti=None):
        from hrlrec.orchestration import tasks

        by, comment = _responder(ti.xcom_pull(task_ids="approve_warn"))
        return tasks.record_rejection(ROOT, ds, by, comment)

    @task(outlets=[PRODUCTION], **IO_RETRIES)
    def publish_approved(ds: str | None = None, ti=None):
        from hrlrec.orchestration import tasks

        who, comment = _responder(ti.xcom_pull(task_ids="approve_warn"))
        result = tasks.publish(ROOT, ds, approved_by=who, comment=comment)
        yield Metadata(PRODUCTION, extra={**result, "approved_by": who, "report": REPORT_PAGE.format(ds=ds)})
        return result

    @task(trigger_rule="none_failed_min_one_success", **IO_RETRIES)
    def version(ds: str | None = None):
        from hrlrec.orchestration import tasks

        return tasks.version(ROOT, ds)

    @task(trigger_rule="all_done", **IO_RETRIES)
    def report(ds: str | None = None, ti=None):
        from hrlrec.orchestration import tasks

        result = tasks.report(ROOT, ds)
        print(f"on-call report for {ds}: {result['report']}")
        return result

    gates = [release_gate(name) for name in GATES]
    branch, reasons, answered, kept = decide(), warnings(), after_approval(), keep_production()
    published, approved, page, stamped = publish(), publish_approved(), report(), version()
    land() >> wait_for_landing() >> ingest() >> validate() >> dataset() >> train() >> gates
    gates >> branch >> [published, reasons]
    reasons >> approve_warn >> answered >> [approved, kept]
    # The report runs whatever happened upstream (all_done); versioning commits it with the day.
    [*gates, branch, published, approve_warn, approved, kept] >> page
    [published, approved, page] >> stamped
    for op in (approve_warn, page.operator):
        op.operator_extra_links = (ReportLink(),)


hrlrec_daily()
