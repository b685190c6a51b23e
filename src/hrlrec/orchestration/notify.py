"""Failure notifications for the daily DAG: the verdict line first, then where the report is.

`PipelineNotifier` is an Airflow notifier (pass it as `on_failure_callback`).
Every notification is logged and appended to
`WORKSPACE/reports/notifications.jsonl` (so the on-call can see what was
sent, and tests can check it was); `airflow.notifier` then chooses the
channel: `log` (only that), `smtp` (through the Airflow connection
`airflow.smtp_conn_id` to `airflow.notify_to`) or `webhook` (a JSON POST with a
`text` field, which Slack incoming webhooks accept, to the URL in the
environment variable `airflow.webhook_url_env`). A delivery problem is logged,
never raised: a broken mail server must not hide the failure it reports.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import logging
import urllib.request
from pathlib import Path
from typing import Any

from airflow.sdk import BaseNotifier

log = logging.getLogger(__name__)

MAX_ERROR_CHARS = 2000  # an exception text is cut to this before it reaches a mail, a webhook or the log


def bounded(text: str, limit: int = MAX_ERROR_CHARS) -> str:
    """`text` cut to `limit` characters, saying how long it was (a 50 MB value must not reach a mailbox)."""
    from hrlrec.contract import cut

    return cut(text, limit)


def email_parts(note: dict[str, Any]) -> tuple[str, str]:
    """Subject (first line, bounded) and HTML body (escaped: data values in an error are not markup)."""
    text = note["text"]
    subject = bounded(text.splitlines()[0] if text else "hrlrec_daily", 200)
    return subject, "<pre>" + html.escape(text) + "</pre>"


def message(workspace: str, ds: str, task_id: str, run_id: str, error: str) -> dict[str, Any]:
    """The notification's content (pure apart from reading the day's result files)."""
    from hrlrec.orchestration import tasks
    from hrlrec.workspace import Workspace

    ws = Workspace.open(Path(workspace))
    verdict = tasks.verdict_line(workspace, ds, task_id)
    report = ws.layout.report_page(ds)
    return {
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "dag_id": "hrlrec_daily",
        "run_id": run_id,
        "ds": ds,
        "task_id": task_id,
        "verdict": verdict,
        "error": bounded(error),
        "report": str(report),
        "text": f"hrlrec_daily {ds}: {bounded(verdict, 500)}\nfailed task: {task_id} ({run_id})\nreport: {report}",
    }


def deliver(workspace: str, note: dict[str, Any]) -> None:
    """Record `note` in the workspace and send it through the configured channel."""
    from hrlrec.workspace import Workspace

    ws = Workspace.open(Path(workspace))
    af = ws.cfg.airflow
    log.error("%s", note["text"])
    path = ws.layout.notifications
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps({**note, "channel": af.notifier}) + "\n")
    try:
        if af.notifier == "smtp":
            from airflow.providers.smtp.hooks.smtp import SmtpHook

            subject, body = email_parts(note)
            with SmtpHook(smtp_conn_id=af.smtp_conn_id) as hook:
                hook.send_email_smtp(to=af.notify_to, subject=subject, html_content=body)
        elif af.notifier == "webhook":
            import os

            url = os.environ.get(af.webhook_url_env)
            if not url:
                log.error("notifier is webhook but %s is not set; notification only logged", af.webhook_url_env)
                return
            body = json.dumps({"text": note["text"], **note}).encode()
            request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=10) as response:
                response.read()
    except Exception as exc:  # the failure being reported matters more than this one
        log.error("could not deliver the notification through %s: %s", af.notifier, exc)


class PipelineNotifier(BaseNotifier):
    """on_failure_callback of every hrlrec_daily task."""

    def __init__(self, workspace: str) -> None:
        super().__init__()
        self.workspace = workspace

    def notify(self, context: dict[str, Any]) -> None:
        ti = context.get("ti") or context.get("task_instance")
        note = message(
            self.workspace,
            ds=str(context.get("ds")),
            task_id=getattr(ti, "task_id", "?"),
            run_id=str(context.get("run_id")),
            error=repr(context.get("exception")),
        )
        deliver(self.workspace, note)
