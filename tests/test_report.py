"""The on-call page, rendered for real (real matplotlib) from crafted workspaces of five kinds of day.

Each workspace is written by hand in the real formats: gate results come from
the gates' own pure decision functions (`evaluate.decide_auc`,
`stability.compare`, `verdict.decide`), validation records from
`ValidationResult.to_json`, registry files as `hrlrec.registry` writes them.
The assertions read the page's text, the way the on-call engineer would.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import json
import re
import struct
from pathlib import Path
from typing import Any

import pytest

from hrlrec import checkpoints, config, evaluate, report, stability
from hrlrec.layout import SUCCESS, VERSION_FILE, Layout
from hrlrec.report import charts, lineage
from hrlrec.report import step as report_step
from hrlrec.validation import ValidationResult
from hrlrec.validation.gx_run import Outcome
from hrlrec.verdict import FAIL, PASS, Check, decide
from hrlrec.workspace import Workspace

DS = "2026-11-10"  # a Tuesday; the stability baseline is production's record of 2026-11-03
WEEK_AGO = "2026-11-03"
CURRENT, PREVIOUS = "2026-11-03-aaaaaaaa", "2026-11-02-bbbbbbbb"  # production and what it replaced
NEW = f"{DS}-cccccccc"
CFG = config.load()
CHANNELS = list(CFG.channels)
BASE_ROWS = {"news": 2700, "article": 4200, "long_video": 4100, "short_video": 5900}
FLAT = [[0.25, 0.25, 0.25, 0.25] for _ in range(6)]  # 6 four-hour buckets x 4 channels


def day(offset: int) -> str:
    return (dt.date.fromisoformat(DS) + dt.timedelta(days=offset)).isoformat()


def put(path: Path, body: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(body, indent=2) if not isinstance(body, str) else body)


def workspace(root: Path) -> Workspace:
    return Workspace(root, CFG)


def layout(root: Path) -> Layout:
    return workspace(root).layout


def put_gate(root: Path, gate: str, ds: str, body: dict[str, Any]) -> None:
    put(layout(root).result_day(gate, ds), body)


def text(page: str) -> str:
    """The page as a reader sees it: tags dropped, entities decoded, whitespace collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def banner(page: str) -> str:
    found = re.search(r"<header[^>]*>(.*?)</header>", page, re.S)
    assert found, "the page has no banner"
    return text(found.group(1))


def section(page: str, anchor: str) -> str:
    found = re.search(rf'<section id="{anchor}">(.*?)</section>', page, re.S)
    assert found, f"the page has no section #{anchor}"
    return text(found.group(1))


# -- writers of the real formats ---------------------------------------------------------------


def write_validation(root: Path, ds: str, failed: list[Outcome] | None = None, rows: int = 16_900) -> None:
    """A validation record as `hrlrec validate` leaves it: passed (raw + summary) or quarantined."""
    failed = failed or []
    state = "quarantined" if failed else "passed"
    result = ValidationResult(
        ds=ds, verdict=FAIL if failed else PASS, state=state,
        reason=f"{len(failed)} of 41 checks failed: " + ", ".join(o.check for o in failed) if failed
        else "all 41 checks passed",
        rows=rows, evaluated=41, failed=failed, history=[day(-3), day(-2), day(-1)],
        data_docs=f"reports/data_docs/ds={ds}/index.html", raw_fingerprint="f" * 64,
    ).to_json()  # fmt: skip
    where = layout(root)
    put(where.validation_result(ds), result)
    put(where.data_docs_page(ds), "<html><body>Data Docs</body></html>")
    channel_rows = dict(BASE_ROWS)
    manifest = where.quarantine_manifest(ds) if failed else where.raw_manifest(ds)
    put(manifest, {"ds": ds, "rows": rows, "rows_per_channel": channel_rows, "ignored_columns": []})
    put(manifest.parent / SUCCESS, "")
    if not failed:
        clicks = {c: n // 10 for c, n in channel_rows.items()}
        put(where.validation_summary(ds),
            {"ds": ds, "rows": rows, "channel_rows": channel_rows, "channel_clicks": clicks})  # fmt: skip


def write_auc(root: Path, ds: str, cand: float, lr: float = 0.66, prod: float | None = 0.71) -> None:
    verdict = evaluate.decide_auc(ds, cand, lr, prod, CFG.gates.auc)
    verdict.numbers["production_version"] = CURRENT
    verdict.model_sha256 = "c" * 64
    put_gate(root, "evaluate", ds, {**verdict.to_json(), "thresholds": CFG.gates.auc.model_dump()})


def write_stability(root: Path, ds: str, proportions: list[list[float]], baseline: list[list[float]] | None) -> None:
    g = CFG.gates.stability
    record = {
        "ds": ds, "weekday": "Tuesday", "channels": CHANNELS, "hour_bucket": g.hour_bucket, "requests": 2000,
        "proportions": proportions, "model_sha256": "c" * 64,
    }  # fmt: skip
    put(layout(root).stability_record("candidate", ds), record)
    base = None
    if baseline is not None:
        base = {**record, "ds": WEEK_AGO, "proportions": baseline, "model_sha256": "a" * 64}
        put(layout(root).stability_record("production", WEEK_AGO), base)
    verdict = stability.compare(ds, record, base, g)
    put_gate(root, "stability", ds, {**verdict.to_json(), "thresholds": g.model_dump()})


def write_export(root: Path, ds: str) -> None:
    checks = [
        Check("top10_identical", PASS, 1.0, 0.999, "100.0% of top-10 lists identical (>= 99.9%)"),
        Check("max_abs_score_diff", PASS, 3e-6, 1e-4, "largest score difference 3e-06 <= 0.0001"),
    ]
    numbers = {"requests": 1000, "top10_identical": 1.0, "max_abs_score_diff": 3e-6,
               "provider": "CPUExecutionProvider", "opset": 20, "files": {}}  # fmt: skip
    put_gate(root, "export", ds, decide("export", ds, checks, numbers).to_json())


def write_registry(root: Path, serving: str = CURRENT) -> None:
    """Production serves `serving`; CURRENT replaced PREVIOUS; CURRENT recorded its params."""
    where = layout(root)
    params = CFG.model_dump(mode="json")
    params["gates"]["auc"]["floor"] = 0.68  # production was published under a lower floor
    for name, ds in ((PREVIOUS, "2026-11-02"), (CURRENT, WEEK_AGO), (NEW, DS)):
        put(where.version_dir(name) / VERSION_FILE, {
            "version": name, "ds": ds, "registered_at": f"{ds}T03:00:00+00:00", "git_revision": "1234abcd" * 5,
            "params_hash": "0" * 64, "data_hashes": {},
            "model_hashes": {"hrlrec": name[-8:] * 8}, "metrics": {}, "gates": {}, "params": params,
        })  # fmt: skip
    put(where.production_pointer, {"version": serving, "since": f"{DS}T04:00:00+00:00", "by": "airflow"})
    events = [
        {"at": "2026-11-02T04:00:00+00:00", "action": "promote", "version": PREVIOUS, "previous": None},
        {"at": "2026-11-03T04:00:00+00:00", "action": "promote", "version": CURRENT, "previous": PREVIOUS},
    ]
    if serving == NEW:
        events.append({"at": f"{DS}T04:00:00+00:00", "action": "promote", "version": NEW, "previous": CURRENT})
    where.registry_history.write_text("".join(json.dumps({**e, "by": "airflow", "reason": ""}) + "\n" for e in events))


def base_workspace(root: Path) -> Path:
    """Validated trailing days, 10 days of AUC history (one failed), a registry and a candidate card."""
    for k in (-3, -2, -1):
        write_validation(root, day(k))
    for k in range(-10, 0):
        write_auc(root, day(k), cand=0.69 if k == -6 else 0.72 + 0.001 * (k % 3))
    write_registry(root)
    where = layout(root)
    put(checkpoints.card_path(where.candidate_weights(DS)), {"model": "hrlrec", "sha256": "c" * 64})
    put(where.dvc_lock, "schema: '2.0'\nstages:\n  train:\n    cmd: hrlrec train --ds 2026-11-10\n"
        "    outs:\n    - path: models/candidates/ds=2026-11-10\n      hash: md5\n"
        "      md5: 0123456789abcdef0123456789abcdef.dir\n      size: 1024\n      nfiles: 4\n")  # fmt: skip
    return root


def shifted(channel: int, bucket: int, share: float) -> list[list[float]]:
    """FLAT with one channel's share in one bucket set to `share`, the others evened out."""
    out = [row[:] for row in FLAT]
    rest = (1 - share) / (len(CHANNELS) - 1)
    out[bucket] = [share if c == channel else rest for c in range(len(CHANNELS))]
    return out


def passing_day(root: Path) -> Path:
    base_workspace(root)
    write_validation(root, DS)
    write_auc(root, DS, cand=0.725)
    write_stability(root, DS, shifted(0, 2, 0.27), FLAT)
    write_export(root, DS)
    write_registry(root, serving=NEW)
    put_gate(root, "publish", DS, {"ds": DS, "published": True, "version": NEW, "previous": CURRENT,
                                   "reason": "all gates passed", "decision": None})  # fmt: skip
    return root


def auc_failure_day(root: Path) -> Path:
    base_workspace(root)
    write_validation(root, DS)
    write_auc(root, DS, cand=0.69)
    write_stability(root, DS, shifted(0, 2, 0.27), FLAT)
    write_export(root, DS)
    return root


def stability_failure_day(root: Path) -> Path:
    base_workspace(root)
    write_validation(root, DS)
    write_auc(root, DS, cand=0.725)
    write_stability(root, DS, shifted(0, 3, 0.42), FLAT)  # news +68 % in the 12-16h bucket
    write_export(root, DS)
    return root


SHARE_CHECK = Outcome(
    suite="channel_drift", check="channel_share_vs_trailing", expectation="expect_column_values_to_be_between",
    column="share_change", why="each channel's share of impressions is stable", success=False,
    threshold={"min_value": -0.3, "max_value": 0.3}, element_count=4, unexpected_count=1, unexpected_percent=25.0,
    examples=[{"share_change": 0.8123, "channel": "news"}],
)  # fmt: skip


def validation_failure_day(root: Path) -> Path:
    base_workspace(root)
    write_validation(root, DS, failed=[SHARE_CHECK])
    return root


def no_baseline_day(root: Path) -> Path:
    base_workspace(root)
    write_validation(root, DS)
    write_auc(root, DS, cand=0.725)
    write_stability(root, DS, shifted(0, 2, 0.27), None)
    write_export(root, DS)
    return root


def render(root: Path) -> str:
    path = report.run(workspace(root), DS)
    assert path == root / "reports" / f"ds={DS}" / "index.html"
    return path.read_text(encoding="utf-8")


# -- the five days -----------------------------------------------------------------------------


def test_passing_published_day(tmp_path: Path) -> None:
    page = render(passing_day(tmp_path))
    top = banner(page)
    assert "ALL GATES PASSED" in top and "every gate passed" in top
    assert f"Published {NEW}; it serves now (replaced {CURRENT})" in top
    assert top.count("✓ PASS") == 4 and "FAIL" not in top and "Data or model?" not in top
    lineage_text = section(page, "lineage")
    assert "gates.auc.floor" in lineage_text and "0.68" in lineage_text and "0.7" in lineage_text
    assert "0123456789abcdef0123456789abcdef.dir" in lineage_text
    nxt = section(page, "next")
    assert "Roll back" in nxt and f"hrlrec rollback --workspace {tmp_path} --to {CURRENT}" in nxt
    assert "identical top-10 lists: 100.0%" in section(page, "gates")
    assert f"Judged model: {'c' * 64}" in section(page, "gates")


def test_the_auc_section_shows_the_true_value_of_the_served_lists(tmp_path: Path) -> None:
    root = passing_day(tmp_path)
    result = json.loads(layout(root).result_day("evaluate", DS).read_text())

    def clicks(mean: float) -> dict:
        return {"clicks_per_list": {"mean": mean, "low": mean - 0.02, "high": mean + 0.02}}

    value = {"measured": True, "requests": 2000, "candidate": {**clicks(1.25), "clicks_ratio_to_logging": 1.5625},
             "logging_policy": clicks(0.80)}  # fmt: skip
    result["numbers"]["policy_value"] = value
    put_gate(root, "evaluate", DS, result)
    text = section(render(root), "auc")
    assert "True expected clicks per list" in text and "2000 requests" in text
    assert "candidate 1.2500 [1.2300, 1.2700]" in text and "logs 0.8000 [0.7800, 0.8200]" in text
    assert "1.56x the logged lists' clicks" in text
    result["numbers"]["policy_value"] = {"measured": False, "reason": "no simulator ground truth for " + DS}
    put_gate(root, "evaluate", DS, result)
    assert "not measured: no simulator ground truth" in section(render(root), "auc")


def test_the_auc_section_shows_the_off_policy_estimate_and_why_it_is_inconclusive(tmp_path: Path) -> None:
    root = passing_day(tmp_path)
    result = json.loads(layout(root).result_day("evaluate", DS).read_text())

    def dr(value: float, inconclusive: str | None) -> dict:
        return {"dr": {"value": value, "low": value - 0.03, "high": value + 0.03, "ess": 1.2,
                       "inconclusive": inconclusive}}  # fmt: skip

    result["numbers"]["off_policy"] = {
        "measured": True, "lists": 2000, "policy": {"epsilon": 0.1}, "reward_model": "candidate's click head",
        "candidate": dr(1.40, "effective sample size 1 < 100"), "production": dr(1.20, None),
        "candidate_minus_production": {"value": 0.2, "low": 0.17, "high": 0.24, "model_margin": 0.05,
                                       "low_with_margin": 0.12, "high_with_margin": 0.29},
    }  # fmt: skip
    put_gate(root, "evaluate", DS, result)
    text = section(render(root), "auc")
    assert "Off-policy estimate of clicks per list" in text and "2000 logged lists" in text
    assert "candidate 1.4000 [1.3700, 1.4300], ESS 1" in text and "difference +0.2000 [+0.1700, +0.2400]" in text
    assert "with the reward model's measured error +-0.050: [+0.1200, +0.2900]" in text
    assert "Inconclusive (candidate: effective sample size 1 < 100)" in text and "FAILs only when even that" in text
    # An evaluate.json of the check before the widened interval existed says what that check could do.
    del result["numbers"]["off_policy"]["candidate_minus_production"]["high_with_margin"]
    put_gate(root, "evaluate", DS, result)
    assert "could WARN but not FAIL" in section(render(root), "auc")
    result["numbers"]["off_policy"] = {"measured": False, "reason": "no propensities: not evaluated"}
    put_gate(root, "evaluate", DS, result)
    assert "Off-policy value not evaluated: no propensities" in section(render(root), "auc")


def test_auc_failure_blames_the_model_and_suggests_rerun_and_rollback(tmp_path: Path) -> None:
    page = render(auc_failure_day(tmp_path))
    top = banner(page)
    assert top.startswith("FAILED") and "AUC gate failed" in top
    assert "candidate AUC 0.6900 is below 0.7000 by 0.0100" in top
    assert f"Not published: a failed gate never touches production, so {CURRENT} still serves" in top
    assert "Data or model? MODEL" in top and "data passed validation" in top
    checks = section(page, "gates")
    assert "floor 0.6900 0.7000 ✗ FAIL" in checks  # check, value, threshold, level
    assert "drop 0.6900 0.7050 ✗ FAIL" in checks
    nxt = section(page, "next")
    assert f"hrlrec train --workspace {tmp_path} --ds {DS}" in nxt
    assert f"hrlrec export --workspace {tmp_path} --ds {DS}" in nxt
    assert f"airflow tasks clear hrlrec_daily -s {DS} -e {DS} --yes" in nxt
    assert f"airflow dags test hrlrec_daily {DS}" in nxt
    assert f"hrlrec rollback --workspace {tmp_path} --to {PREVIOUS}" in nxt
    auc_text = section(page, "auc")
    assert f"Days the AUC gate failed: {day(-6)}, {DS}." in auc_text
    assert "candidate 0.6900 · production 0.7100 · LR 0.6600 · floor 0.7000" in auc_text


def test_stability_failure_names_the_channel_and_its_change(tmp_path: Path) -> None:
    page = render(stability_failure_day(tmp_path))
    top = banner(page)
    assert top.startswith("FAILED") and "Stability gate failed" in top and "MODEL" in top
    assert "news: max relative change 68.0% passes 25% by 43.0%" in top
    channels = section(page, "channels")
    assert 'alt="Bar charts per channel' in page and "failing: news." in page
    assert "Relative change per hour bucket" in channels and "Boxed cells pass the 25% max-change limit" in channels
    assert "FAIL news: max relative change 68.0%" in channels
    assert "news.max 68.0% 25.0% ✗ FAIL" in section(page, "gates")


def test_validation_failure_blames_the_data_links_data_docs_and_shows_release(tmp_path: Path) -> None:
    page = render(validation_failure_day(tmp_path))
    top = banner(page)
    assert top.startswith("FAILED") and "Data validation failed" in top
    assert "Data or model? DATA" in top and "quarantined" in top
    assert top.count("NOT RUN") == 3 and "the day failed validation" in top
    assert f'href="../data_docs/ds={DS}/index.html"' in page
    validation = section(page, "validation")
    assert "channel_share_vs_trailing" in validation and "1 of 4 rows fail (25.00%)" in validation
    assert "between -0.3 and 0.3" in validation and "share_change=0.8123, channel=news" in validation
    assert f"Quarantined: the day was moved to data/quarantine/ds={DS}" in validation
    release = f'hrlrec validate --workspace {tmp_path} --ds {DS} --accept --reason "why the data is fine"'
    assert release in validation and release in section(page, "next")
    assert "rollback" not in section(page, "next")  # production was never touched


def test_first_week_without_baseline_says_so(tmp_path: Path) -> None:
    page = render(no_baseline_day(tmp_path))
    channels = section(page, "channels")
    assert "No baseline a week back: the stability gate passes by design during the first week." in channels
    assert "Relative change per hour bucket" not in channels  # no comparison is drawn
    assert channels.count("✓ PASS") == 1 and "(no baseline)" in page


# -- the page as a file ------------------------------------------------------------------------


def png_sizes(page: str) -> list[tuple[int, int]]:
    """(width, height) of every embedded image, after checking it decodes to a PNG."""
    sizes = []
    for data in re.findall(r'src="data:image/png;base64,([^"]+)"', page):
        raw = base64.b64decode(data, validate=True)
        assert raw[:8] == b"\x89PNG\r\n\x1a\n" and raw[12:16] == b"IHDR"
        sizes.append(struct.unpack(">II", raw[16:24]))
    return sizes


@pytest.mark.parametrize("scenario", [passing_day, auc_failure_day, stability_failure_day, validation_failure_day])
def test_page_is_self_contained_with_valid_png_figures(tmp_path: Path, scenario: Any) -> None:
    page = render(scenario(tmp_path))
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.I)
    assert "<script" not in page.lower() and "url(" not in page and "@import" not in page
    sizes = png_sizes(page)
    assert sizes and all(w == charts.WIDTH_PX for w, _ in sizes)
    assert all(re.search(r'alt="[^"]{20,}"', img) for img in re.findall(r"<img [^>]+>", page))


def test_stability_failure_embeds_the_four_figures(tmp_path: Path) -> None:
    page = render(stability_failure_day(tmp_path))
    assert len(png_sizes(page)) == 4  # AUC history, proportions, heatmap, volumes


def test_empty_workspace_still_gets_a_page_that_names_what_is_missing(tmp_path: Path) -> None:
    page = render(tmp_path)
    top = banner(page)
    assert top.startswith("INCOMPLETE") and "Nothing is in production yet." in top
    assert f"run `hrlrec ingest --workspace {tmp_path} --ds {DS} && hrlrec validate --workspace" in top
    assert f"hrlrec ingest --workspace {tmp_path} --ds {DS} && hrlrec validate" in section(page, "validation")
    assert "Missing: no ingestion manifest" in section(page, "volumes")
    assert "Missing: no dvc.lock" in section(page, "lineage")
    assert "No publish record" in section(page, "decision")
    assert png_sizes(page) == []


def test_damaged_inputs_are_named_not_fatal(tmp_path: Path) -> None:
    auc_failure_day(tmp_path)
    put(layout(tmp_path).result_day("stability", DS), "{not json")
    put(layout(tmp_path).registry_history, "garbage\n")
    page = render(tmp_path)
    assert "Unreadable inputs" in page and "stability.json: unreadable" in text(page)
    assert "Stability gate" in banner(page) and "NOT RUN" in banner(page)


def test_latest_top_level_result_is_used_only_for_its_own_day(tmp_path: Path) -> None:
    validation_failure_day(tmp_path)
    top_level = layout(tmp_path).result("evaluate")
    verdict = evaluate.decide_auc(DS, 0.73, 0.66, None, CFG.gates.auc)
    put(top_level, {**verdict.to_json(), "thresholds": CFG.gates.auc.model_dump()})
    assert "✓ PASS AUC gate" in banner(render(tmp_path))
    put(top_level, {**verdict.to_json(), "ds": day(-20)})
    assert "✓ PASS AUC gate" not in banner(render(tmp_path))


def test_warning_waits_for_a_person_and_shows_the_recorded_decision(tmp_path: Path) -> None:
    no_baseline_day(tmp_path)
    write_auc(tmp_path, DS, cand=0.7015, prod=None)  # within warn_margin of the floor
    page = render(tmp_path)
    assert banner(page).startswith("WARNING")
    approve = f'hrlrec publish --workspace {tmp_path} --ds {DS} --approve-warn --reason "why the warning is acceptable"'
    assert approve in section(page, "next")
    decision = {"approved": True, "by": "alice", "at": f"{DS}T05:12:00+00:00", "via": "airflow-hitl",
                "comment": "floor is conservative <b>today</b>"}  # fmt: skip
    put_gate(tmp_path, "publish", DS, {"ds": DS, "published": True, "version": NEW, "previous": CURRENT,
                                       "reason": "approved warnings", "decision": decision})  # fmt: skip
    page = render(tmp_path)
    words = section(page, "decision")
    assert "APPROVED The warning was approved by alice at 2026-11-10T05:12:00+00:00 in Airflow's approval step" in words
    assert "floor is conservative <b>today</b>" in words and "&lt;b&gt;today" in page  # escaped, not markup


def test_write_is_atomic_and_leaves_no_temporary_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    auc_failure_day(tmp_path)
    ws = workspace(tmp_path)
    report.run(ws, DS)
    first = report.run(ws, DS)  # replaces the page written just before
    before = first.read_bytes()
    assert [p.name for p in first.parent.iterdir()] == ["index.html"]

    def broken(*_: object) -> str:
        raise RuntimeError("rendering died half-way")

    monkeypatch.setattr(report_step, "render", broken)
    with pytest.raises(RuntimeError):
        report.run(ws, DS)
    assert first.read_bytes() == before and [p.name for p in first.parent.iterdir()] == ["index.html"]


def test_params_diff_lists_changed_keys_only() -> None:
    now = {"gates": {"auc": {"floor": 0.7, "max_drop": 0.005}}, "channels": ["news", "article"]}
    before = {"gates": {"auc": {"floor": 0.68, "max_drop": 0.005}}, "channels": ["news"], "old": 1}
    assert lineage.params_diff(now, before) == [
        ("channels", ["news"], ["news", "article"]),
        ("gates.auc.floor", 0.68, 0.7),
        ("old", 1, None),
    ]


def test_released_day_says_who_released_it_and_keeps_data_in_the_blame(tmp_path: Path) -> None:
    auc_failure_day(tmp_path)
    record_file = layout(tmp_path).validation_result(DS)
    record = json.loads(record_file.read_text())
    release = {"by": "bob", "at": f"{DS}T02:00:00+00:00", "reason": "news feed re-launch, expected",
               "failed_checks": ["channel_share_vs_trailing"]}  # fmt: skip
    put(record_file, {**record, "verdict": "WARN", "state": "released", "release": release})
    page = render(tmp_path)
    assert "MODEL, probably" in banner(page) and "released it from quarantine" in banner(page)
    assert "Released from quarantine by bob at 2026-11-10T02:00:00+00:00: “news feed re-launch, expected”" in section(
        page, "validation"
    )


@pytest.mark.slow
def test_page_of_a_really_validated_day(ws: Path) -> None:
    """Real validation output (Great Expectations, Data Docs, manifests) from the shared trained workspace."""
    from tests.conftest import TRAIN_DAYS, model_config

    ds = TRAIN_DAYS[-1]
    path = report.run(Workspace(ws, model_config()), ds)
    page = path.read_text(encoding="utf-8")
    assert banner(page).startswith("INCOMPLETE") and "✓ PASS Data validation" in banner(page)
    link = re.search(r'<a href="([^"]+)">Open the day&#x27;s Data Docs</a>', page)
    assert link and (path.parent / link.group(1)).resolve().is_file()
    volumes = section(page, "volumes")
    assert all(c in volumes for c in CHANNELS) and "validated days before" in volumes


@pytest.mark.parametrize("scenario", [passing_day, auc_failure_day, stability_failure_day, validation_failure_day])
def test_every_suggested_hrlrec_command_is_one_the_cli_accepts(tmp_path: Path, scenario: Any) -> None:
    """The page's copy-paste commands must run: each `hrlrec ...` line parses with today's CLI."""
    import html
    import shlex

    from hrlrec.cli import build_parser

    page = html.unescape(render(scenario(tmp_path)))
    commands = re.findall(r"hrlrec [^<\n&|]+", page.replace("\\\n", " "))
    assert commands
    parser = build_parser()
    for command in commands:
        args = shlex.split(command.strip())[1:]
        if not args or args[0].startswith("-") or args[0] not in parser._subparsers._group_actions[0].choices:
            continue  # prose such as "hrlrec daily run"
        parser.parse_args(args)  # exits (a test failure) on an unknown option such as --source


def test_the_channel_chart_takes_the_noise_band_and_the_logged_mix() -> None:
    """One y scale for all channels, +-1.96 SE bars and the logs' share: a smoke test that it draws."""
    import base64

    from hrlrec.report import charts

    now = [[0.5, 0.3, 0.2], [0.4, 0.4, 0.2]]
    png = charts.proportions(["news", "article", "video"], 12, now, [[0.5, 0.3, 0.2]] * 2, ("this", "last"),
                             {"news"}, stderr=[[0.01, 0.02, None], [0.01, 0.01, 0.01]],
                             logged={"news": 0.3, "article": 0.4})  # fmt: skip
    assert base64.b64decode(png)[:8] == b"\x89PNG\r\n\x1a\n"
