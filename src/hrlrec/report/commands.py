"""Section 8: what to run next, as exact commands with the workspace and the day filled in.

The advice follows the banner's diagnosis: a data failure is released or
re-delivered (production was never touched), a model failure is re-run after a
fix (rolling back only if the serving model itself misbehaves), a warning
waits for a person's approval. Commands use the CLI's own flags (see hrlrec.cli).
"""

from __future__ import annotations

from dataclasses import dataclass

from hrlrec.report.inputs import Inputs
from hrlrec.report.page import INCOMPLETE, NOT_RUN, Html, command, el, section
from hrlrec.report.summary import Summary
from hrlrec.verdict import FAIL, PASS, WARN

DAG = "hrlrec_daily"
RELEASE_REASON = '"why the data is fine"'
APPROVE_REASON = '"why the warning is acceptable"'
ROLLBACK_REASON = '"what is wrong with the serving model"'


@dataclass(frozen=True)
class Step:
    """One thing to do: what, why, and its commands, each with a lead-in ("" for none)."""

    title: str
    why: str
    commands: list[tuple[str, str]]


def _airflow(inputs: Inputs, title: str = "Or re-run the day through Airflow") -> Step:
    ds = inputs.ds
    return Step(
        title,
        "The scheduler runs the day's tasks again once they are cleared.",
        [
            ("On the scheduler:", f"airflow tasks clear {DAG} -s {ds} -e {ds} --yes"),
            ("Or in the foreground on this machine:", f"airflow dags test {DAG} {ds}"),
        ],
    )


def _rerun(inputs: Inputs) -> Step:
    gates = list(dict.fromkeys(["evaluate", "stability", *inputs.cfg.registry.publish_requires]))
    chain = [inputs.cli("train"), *(inputs.cli(g) for g in gates), inputs.cli("publish")]
    return Step(
        "Re-run the day after a fix",
        "Retrains the candidate and runs every gate again; publish promotes it only if they all pass.",
        [("", " && \\\n  ".join(chain))],
    )


def _rollback(inputs: Inputs) -> Step | None:
    current = (inputs.production or {}).get("version")
    if current is None:
        return None
    previous = inputs.previous_version
    if previous is None:
        return Step(
            "Roll back (only if the serving model misbehaves)",
            f"{current} replaced no recorded version; name a kept version to go back to.",
            [("", inputs.cli("rollback", "--to VERSION", f"--reason {ROLLBACK_REASON}", day=False))],
        )
    return Step(
        "Roll back (only if the serving model misbehaves)",
        f"Puts {previous}, the version {current} replaced, back into production; the files are byte for byte "
        "those that served before.",
        [
            ("To what production replaced:", inputs.cli("rollback", f"--reason {ROLLBACK_REASON}", day=False)),
            ("Or by name:", inputs.cli("rollback", f"--to {previous}", f"--reason {ROLLBACK_REASON}", day=False)),
        ],
    )


def plan(inputs: Inputs, summary: Summary) -> tuple[str, list[Step]]:
    """The one-line advice for the banner and the steps for this section, by diagnosis."""
    levels = {line.gate: line.level for line in summary.lines}
    rollback = _rollback(inputs)
    tail = [rollback] if rollback else []
    decision = (inputs.publish or {}).get("decision") or {}
    published = bool((inputs.publish or {}).get("published"))
    if levels["validate"] == FAIL:
        advice = (
            "Read the failed checks (section 5) and the Data Docs, then release the day if the data is right, "
            "or have it re-delivered. Production was not touched."
        )
        steps = [
            Step("Release the day, if the data is right after all",
                 "Moves the day back from quarantine as WARN, recording your name and reason.",
                 [("", inputs.cli("validate", "--accept", f"--reason {RELEASE_REASON}"))]),
            Step("Or re-ingest a corrected delivery and validate it again",
                 "Once the source has re-delivered the day into the landing zone.",
                 [("", f"{inputs.cli('ingest')} && \\\n  {inputs.cli('validate')}")]),
            _airflow(inputs, "Then run the rest of the day through Airflow"),
        ]  # fmt: skip
        return advice, steps
    if FAIL in levels.values():
        advice = (
            "Production was not touched. Find out why the candidate failed (sections 2–4, 7) and "
            "re-run the day after a fix; roll back only if the serving model itself misbehaves."
        )
        return advice, [_rerun(inputs), _airflow(inputs), *tail]
    if summary.level == WARN and not published:
        if decision.get("approved") is False:
            return f"A person rejected the warning; production is unchanged. {summary.serving}", tail
        approve = Step(
            "Approve the warning and publish",
            "Publishes the candidate although a gate warned; your reason is recorded in the registry history.",
            [("", inputs.cli("publish", "--approve-warn", f"--reason {APPROVE_REASON}"))],
        )
        advice = "Decide: approve the warning to publish the candidate, or do nothing and production stays as it is."
        return advice, [approve, *tail]
    if summary.level == INCOMPLETE:
        missing = [line.gate for line in summary.lines if line.level == NOT_RUN]
        run = Step("Run the steps that have not run", "Each writes its result for the day; then publish.",
                   [("", " && \\\n  ".join([*(inputs.cli(g) for g in missing), inputs.cli("publish")]))])  # fmt: skip
        return f"Run the missing steps: {', '.join(missing)}.", [run, _airflow(inputs), *tail]
    if summary.level in (PASS, WARN) and not published:
        publish = Step("Publish", "Every gate passed; promote the candidate.", [("", inputs.cli("publish"))])
        return "Every gate passed but the day is not published yet: publish it.", [publish, *tail]
    return "Nothing to do. If the new model misbehaves in production, roll back.", tail


def render(steps: list[Step]) -> Html:
    parts: list[object] = []
    for i, step in enumerate(steps, 1):
        parts.append(el("h3", f"{i}. {step.title}"))
        parts.append(el("p", step.why))
        for lead, text in step.commands:
            if lead:
                parts.append(el("p", lead, cls="lead"))
            parts.append(command(text))
    if not parts:
        parts.append(el("p", "Nothing to run: the day passed and nothing is in production to roll back to."))
    return section("next", "8. What to run next", *parts)
