"""Validation with the real Great Expectations: each corruption caught by the check meant for it."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from hrlrec import contract, ingest, validation
from hrlrec.config import Config
from hrlrec.errors import BadInput, Rejected
from hrlrec.simulator import land
from hrlrec.validation import frames
from hrlrec.workspace import Workspace
from tests.conftest import tiny_config

DAYS = ["2026-11-02", "2026-11-03", "2026-11-04", "2026-11-05"]
TODAY = DAYS[-1]


def _cfg() -> Config:
    return tiny_config("profiles.small.simulator_users=800")


def _ws(root: Path, cfg: Config | None = None) -> Workspace:
    return Workspace(root, cfg if cfg is not None else _cfg())


@pytest.fixture(scope="module")
def history_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace with three validated days and a fourth ingested, not yet validated."""
    root = tmp_path_factory.mktemp("ws")
    ws = _ws(root)
    for ds in DAYS:
        land.run(ws, ds, backfill=False)
        ingest.run(ws, ds, backfill=False)
    for ds in DAYS[:-1]:
        assert validation.run(ws, ds, backfill=False).verdict == "PASS"
    return root


@pytest.fixture
def ws(history_template: Path, tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    shutil.copytree(history_template, root)
    return root


def _raw(root: Path, ds: str = TODAY) -> Path:
    return _ws(root).layout.raw_day(ds)


def _corrupt(root: Path, change: Callable[[pa.Table], pa.Table]) -> None:
    day = _raw(root)
    table = pq.read_table(day)
    for f in day.glob("*.parquet"):
        f.unlink()
    changed = change(table)
    optional = [c for c in contract.OPTIONAL_COLUMNS if c in changed.column_names]
    pq.write_table(changed.cast(contract.schema_with(optional)), day / "part-00000.parquet")


def _set(table: pa.Table, column: str, values: pa.Array | np.ndarray | list) -> pa.Table:
    field = pa.field(column, contract.field_type(column))
    return table.set_column(table.schema.get_field_index(column), field, pa.array(values, field.type))


def _rows(table: pa.Table, n: int = 25) -> np.ndarray:
    """Mask of the first `n` rows: a small, local corruption."""
    mask = np.zeros(table.num_rows, dtype=bool)
    mask[:n] = True
    return mask


def _where(table: pa.Table, column: str, mask: np.ndarray, value: object) -> pa.Table:
    values = table.column(column).to_pylist()
    return _set(table, column, [value if m else v for v, m in zip(values, mask, strict=True)])


def _channel_mask(table: pa.Table, channel: str) -> np.ndarray:
    return pc.equal(table.column("channel"), channel).to_numpy(zero_copy_only=False)


def dwell_without_click(t: pa.Table) -> pa.Table:
    not_clicked = (t.column("clicked").to_numpy() == 0) & _rows(t, 400)
    return _where(t, "dwell_time_s", not_clicked, 12.5)


def negative_dwell(t: pa.Table) -> pa.Table:
    clicked = t.column("clicked").to_numpy() == 1
    first = np.flatnonzero(clicked)[:10]
    mask = np.zeros(t.num_rows, dtype=bool)
    mask[first] = True
    return _where(t, "dwell_time_s", mask, -3.0)


def ctr_collapse(t: pa.Table) -> pa.Table:
    news = _channel_mask(t, "news")
    return _where(_where(t, "clicked", news, 0), "dwell_time_s", news, 0.0)


def channel_vanishes(t: pa.Table) -> pa.Table:
    return t.filter(pa.array(~_channel_mask(t, "article")))


def volume_spike(t: pa.Table) -> pa.Table:
    copies = []
    for k in range(10):
        shifted = pc.add(t.column("session_id"), k * 10**12)
        copies.append(t.set_column(t.schema.get_field_index("session_id"), "session_id", shifted))
    return pa.concat_tables(copies)


def duplicated_rows(t: pa.Table) -> pa.Table:
    return pa.concat_tables([t, t.slice(0, 50)])


def timestamps_from_another_day(t: pa.Table) -> pa.Table:
    other = dt.datetime.fromisoformat("2026-11-07T10:00:00+00:00")
    return _where(t, "event_time", _rows(t), other)


def empty_tags(t: pa.Table) -> pa.Table:
    return _where(t, "item_tags", _rows(t), [])


def blank_tag(t: pa.Table) -> pa.Table:
    return _where(t, "item_tags", _rows(t), ["  "])


def position_out_of_range(t: pa.Table) -> pa.Table:
    return _where(t, "position", _rows(t, 1), 25)


def null_user_ids(t: pa.Table) -> pa.Table:
    return _where(t, "user_id", _rows(t), None)


def session_with_two_users(t: pa.Table) -> pa.Table:
    first_session = t.column("session_id")[0].as_py()
    rows = pc.equal(t.column("session_id"), first_session).to_numpy(zero_copy_only=False)
    second_row = np.flatnonzero(rows)[1]
    mask = np.zeros(t.num_rows, dtype=bool)
    mask[second_row] = True
    return _where(t, "user_id", mask, 999_999_999)


def unknown_channel(t: pa.Table) -> pa.Table:
    return _where(t, "channel", _rows(t), "podcast")


def clicked_not_binary(t: pa.Table) -> pa.Table:
    return _where(t, "clicked", _rows(t), 2)


def null_channel(t: pa.Table) -> pa.Table:
    return _where(t, "channel", _rows(t), None)


def implausible_dwell(t: pa.Table) -> pa.Table:
    clicked = pc.equal(t.column("clicked"), 1).to_numpy(zero_copy_only=False)
    return _where(t, "dwell_time_s", clicked & (np.cumsum(clicked) <= 5), 1e9)


def implausible_age(t: pa.Table) -> pa.Table:
    return _where(t, "user_age_bucket", _rows(t), 120)


def implausible_region(t: pa.Table) -> pa.Table:
    return _where(t, "user_region", _rows(t), 2_000_000_000)


def _above(column: str, value: int) -> Callable[[pa.Table], pa.Table]:
    """A few rows of `column` just above its params.yaml upper bound (issue 14 item 9: bounds were one-sided)."""

    def corrupt(t: pa.Table) -> pa.Table:
        return _where(t, column, _rows(t, 3), value)

    corrupt.__name__ = f"{column}_above_its_bound"
    return corrupt


def too_many_tags(t: pa.Table) -> pa.Table:
    return _where(t, "item_tags", _rows(t), [f"tag{k}" for k in range(65)])


CORRUPTIONS: dict[str, tuple[Callable[[pa.Table], pa.Table], str]] = {
    "a propensity above 1": (lambda t: _where(t, "propensity", _rows(t, 3), 1.5), "propensity_range"),
    "a propensity of 0": (lambda t: _where(t, "propensity", _rows(t, 3), 0.0), "propensity_range"),
    "null propensities": (lambda t: _where(t, "propensity", _rows(t, 3), None), "null_propensity"),
    "a user id above 2^62": (_above("user_id", 5 * 10**18), "user_id_range"),
    "a session id above 2^62": (_above("session_id", 5 * 10**18), "session_id_range"),
    "an item id above 2^62": (_above("item_id", 5 * 10**18), "item_id_range"),
    "gender code 10": (_above("user_gender", 10), "gender_range"),
    "age bucket 21": (_above("user_age_bucket", 21), "age_range"),
    "region 1,000,001": (_above("user_region", 1_000_001), "region_range"),
    "65 tags": (too_many_tags, "tags_not_empty"),
    "a dwell of 30 years": (implausible_dwell, "dwell_non_negative"),
    "age bucket 120": (implausible_age, "age_range"),
    "region 2e9": (implausible_region, "region_range"),
    "dwell without click": (dwell_without_click, "no_dwell_without_click"),
    "negative dwell": (negative_dwell, "dwell_non_negative"),
    "CTR collapse in one channel": (ctr_collapse, "channel_ctr_vs_trailing"),
    "a channel vanishing": (channel_vanishes, "channel_share_vs_trailing"),
    "10x volume spike": (volume_spike, "volume_vs_trailing"),
    "duplicated rows": (duplicated_rows, "unique_session_position"),
    "timestamps from another day": (timestamps_from_another_day, "event_time_in_day"),
    "empty tags": (empty_tags, "tags_not_empty"),
    "blank tag": (blank_tag, "tags_not_blank"),
    "out-of-range position": (position_out_of_range, "position_range"),
    "null user ids": (null_user_ids, "null_user_id"),
    "a session with two users": (session_with_two_users, "one_user_per_session"),
    "a channel not in the configured list": (unknown_channel, "channel_known"),
    "clicked not 0/1": (clicked_not_binary, "clicked_binary"),
    "null channel": (null_channel, "null_channel"),
}


@pytest.mark.parametrize("case", sorted(CORRUPTIONS))
def test_corruption_is_caught_by_its_check_and_quarantined(case: str, ws: Path) -> None:
    corrupt, check = CORRUPTIONS[case]
    _corrupt(ws, corrupt)
    result = validation.run(_ws(ws), TODAY, backfill=False)

    assert result.verdict == "FAIL"
    failed = {o.check: o for o in result.failed}
    assert check in failed, f"{case}: expected {check}, failed {sorted(failed)}"
    outcome = failed[check]
    assert outcome.threshold, "the failure must say what it was judged against"
    assert outcome.observed is not None or outcome.unexpected_count

    # The day went to quarantine, with its result beside the data; nothing deleted.
    layout = _ws(ws).layout
    quarantined = layout.quarantine_day(TODAY)
    assert not _raw(ws).exists()
    assert layout.quarantine_result(TODAY).is_file() and any(quarantined.glob("*.parquet"))
    metrics = json.loads(layout.result("validate").read_text())
    assert metrics["verdict"] == "FAIL" and check in {f["check"] for f in metrics["failed"]}
    with pytest.raises(Rejected, match="quarantined"):
        validation.require_validated(_ws(ws), TODAY)


def test_a_clean_day_passes_every_check_with_history(ws: Path) -> None:
    result = validation.run(_ws(ws), TODAY, backfill=False)
    assert result.verdict == "PASS", [o.to_json() for o in result.failed]
    assert result.skipped == []
    assert result.history == DAYS[:-1]
    assert result.evaluated >= 38
    assert validation.require_validated(_ws(ws), TODAY) == _raw(ws)
    docs = ws / result.data_docs
    assert docs.is_file() and "impressions" in docs.read_text()
    # One Data Docs build at the end holds a result page and a suite page for every suite that ran.
    ran = {"impressions", "impression_types", "sessions", "volume", "channel_drift", "propensity"}
    pages = {p.relative_to(docs.parent).parts[1] for p in (docs.parent / "validations").rglob("*.html")}
    suite_pages = {p.stem for p in (docs.parent / "expectations").glob("*.html")}
    assert pages == ran and suite_pages == ran
    index = docs.read_text()
    assert all(f"validations/{name}/" in index for name in ran)


def test_dwell_without_click_marks_only_unclicked_rows_with_dwell() -> None:
    clicked = pd.Series([0, 0, 1, 1, None, 0], dtype="Int8")
    dwell = pd.Series([0.0, 3.5, 3.5, 0.0, 2.0, None], dtype="float32")
    marked = frames.dwell_without_click(clicked, dwell)
    assert marked.tolist() == [False, True, False, False, False, False]  # nulls are the null checks' to judge


def test_without_enough_history_trailing_checks_are_skipped_visibly(ws: Path) -> None:
    first = validation.run(_ws(ws), DAYS[0], backfill=False)
    assert first.verdict == "PASS"
    assert {s["suite"] for s in first.skipped} == {"volume", "channel_drift"}
    assert "trailing comparisons need 3" in first.skipped[0]["reason"]
    metrics = json.loads(_ws(ws).layout.result("validate").read_text())
    assert metrics["checks"]["skipped"] == 2 and metrics["skipped"]


def test_release_of_a_quarantined_day_is_deliberate_and_recorded(ws: Path) -> None:
    _corrupt(ws, duplicated_rows)
    assert validation.run(_ws(ws), TODAY, backfill=False).verdict == "FAIL"
    with pytest.raises(BadInput, match="needs a reason"):
        validation.release(_ws(ws), TODAY, reason=" ")
    with pytest.raises(BadInput, match="in quarantine"):
        validation.run(_ws(ws), TODAY, backfill=False)

    released = validation.release(_ws(ws), TODAY, reason="duplicates are a known logger retry", by="alice")
    assert released.verdict == "WARN" and released.state == "released"
    assert validation.require_validated(_ws(ws), TODAY) == _raw(ws)
    log = _ws(ws).layout.releases.read_text().splitlines()
    entry = json.loads(log[-1])
    assert entry["by"] == "alice" and entry["reason"] == "duplicates are a known logger retry"
    assert set(entry["failed_checks"]) == {"unique_session_position", "list_length"}
    with pytest.raises(BadInput, match="not in quarantine"):
        validation.release(_ws(ws), TODAY, reason="again")


def test_never_validated_or_changed_days_are_refused(ws: Path) -> None:
    with pytest.raises(BadInput, match="never validated"):
        validation.require_validated(_ws(ws), TODAY)
    validation.run(_ws(ws), TODAY, backfill=False)
    _corrupt(ws, lambda t: t.slice(0, t.num_rows - 10))  # re-ingested with other content
    with pytest.raises(BadInput, match="changed since it was validated"):
        validation.require_validated(_ws(ws), TODAY)


def test_a_day_never_ingested_is_unusable_input(ws: Path) -> None:
    with pytest.raises(BadInput, match="has not been ingested"):
        validation.run(_ws(ws), "2026-12-01", backfill=False)


def test_large_days_are_checked_in_chunks_of_whole_lists(ws: Path) -> None:
    cfg = tiny_config("profiles.small.simulator_users=800", "validation.chunk_rows=7000")
    _corrupt(ws, duplicated_rows)
    result = validation.run(_ws(ws, cfg), TODAY, backfill=False)
    failed = {o.check: o for o in result.failed}
    assert set(failed) == {"unique_session_position", "list_length"}
    assert failed["unique_session_position"].unexpected_count == 100  # 50 rows, each seen twice
    assert (
        failed["unique_session_position"].element_count
        == pq.read_metadata(_ws(ws).layout.quarantine_day(TODAY) / "part-00000.parquet").num_rows
    )


def test_propensities_are_checked_in_slices_and_a_bad_one_in_the_last_slice_is_caught(ws: Path) -> None:
    cfg = tiny_config("profiles.small.simulator_users=800", "validation.chunk_rows=7000")
    last = np.zeros(pq.read_metadata(_raw(ws) / "part-00000.parquet").num_rows, dtype=bool)
    last[-2:] = True
    _corrupt(ws, lambda t: _where(t, "propensity", last, 1.5))
    result = validation.run(_ws(ws, cfg), TODAY, backfill=False)
    failed = {o.check: o for o in result.failed}
    assert set(failed) == {"propensity_range"}
    assert failed["propensity_range"].unexpected_count == 2
    assert failed["propensity_range"].element_count == len(last)  # every slice judged, none twice


def test_suites_come_from_the_workspace_when_it_has_them(ws: Path) -> None:
    own = ws / "data_checks"
    own.mkdir()
    (own / "only.yaml").write_text(
        "name: only\nframe: impressions\nexpectations:\n"
        "  - {type: expect_column_values_to_be_between, kwargs: {column: position, max_value: 3},"
        " meta: {check: short_lists, why: 'a stricter local rule'}}\n"
    )
    result = validation.run(_ws(ws), TODAY, backfill=False)
    assert result.evaluated == 1 and [o.check for o in result.failed] == ["short_lists"]


def test_a_suite_with_an_unknown_parameter_is_refused(ws: Path) -> None:
    own = ws / "data_checks"
    own.mkdir()
    (own / "bad.yaml").write_text(
        "name: bad\nframe: impressions\nexpectations:\n"
        "  - {type: expect_column_values_to_be_between, kwargs: {column: position, max_value: {$PARAMETER: nope}},"
        " meta: {check: c}}\n"
    )
    with pytest.raises(BadInput, match="unknown parameter 'nope'"):
        validation.run(_ws(ws), TODAY, backfill=False)


def test_markup_in_the_logs_is_text_in_the_data_docs_and_in_the_result(ws: Path) -> None:
    """A channel value `<script>...` must not become a script in the Data Docs the on-call page links to."""
    payload, image = "<script>alert(1)</script>", "<img src=x onerror=alert(2)>"
    second = np.zeros(0, dtype=bool)

    def inject(t: pa.Table) -> pa.Table:
        nonlocal second
        second = np.roll(_rows(t, 3), 3)  # rows 3..5
        return _where(_where(t, "channel", _rows(t, 3), payload), "channel", second, image)

    _corrupt(ws, inject)
    result = validation.run(_ws(ws), TODAY, backfill=False)
    assert result.verdict == "FAIL"
    known = {o.check: o for o in result.failed}["channel_known"]
    assert known.unexpected_count == 6
    recorded = json.dumps(known.examples)
    assert payload in recorded and "&lt;" not in recorded  # our result keeps the raw value (the report escapes it)
    pages = list(_ws(ws).layout.data_docs_day(TODAY).rglob("*.html"))
    assert pages, "Data Docs were built"
    html_text = "".join(p.read_text(encoding="utf-8") for p in pages)
    assert payload not in html_text and image not in html_text and "onerror=alert(2)>" not in html_text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html_text or "&amp;lt;script&amp;gt;" in html_text


def test_escape_text_touches_only_values_with_markup() -> None:
    import pandas as pd

    from hrlrec.validation.gx_run import escape_text

    frame = pd.DataFrame({"channel": ["news", "<b>x</b>", None], "n": [1, 2, 3]})
    out = escape_text(frame)
    assert out["channel"].tolist()[:2] == ["news", "&lt;b&gt;x&lt;/b&gt;"] and pd.isna(out["channel"][2])
    assert out["n"].tolist() == [1, 2, 3] and out["channel"].dtype == frame["channel"].dtype
    assert frame["channel"][1] == "<b>x</b>"  # the caller's frame is not changed
    clean = pd.DataFrame({"channel": ["news", "article"]})
    assert escape_text(clean) is clean


def test_escape_text_escapes_a_categoricals_categories_and_keeps_its_codes() -> None:
    from hrlrec.validation.gx_run import MAX_VALUE_CHARS, escape_text

    frame = pd.DataFrame({"channel": pd.Categorical(["news", "<b>x</b>", None, "<b>x</b>"])})
    out = escape_text(frame)
    assert isinstance(out["channel"].dtype, pd.CategoricalDtype)
    assert out["channel"].tolist()[:2] == ["news", "&lt;b&gt;x&lt;/b&gt;"] and pd.isna(out["channel"][2])
    assert (out["channel"].cat.codes == frame["channel"].cat.codes).all()
    assert frame["channel"][1] == "<b>x</b>"
    clean = pd.DataFrame({"channel": pd.Categorical(["news", "article"])})
    assert escape_text(clean) is clean
    # Two long values with the same first characters would become one category: judged value by value.
    long = ["y" * MAX_VALUE_CHARS + "1", "y" * MAX_VALUE_CHARS + "2"]
    cut = escape_text(pd.DataFrame({"channel": pd.Categorical(long)}))["channel"]
    assert cut.str.len().max() <= MAX_VALUE_CHARS + 30 and cut.nunique() == 1


def test_a_50_mb_value_that_bypassed_ingest_stays_bounded_in_results_data_docs_and_report(ws: Path) -> None:
    """Issue 14 item 6: one 50 MB channel value made validate print 52 MB lines and the report run for minutes.

    Ingest refuses such a value (tests/test_ingest.py); here it is written straight into the raw
    partition, as a broken upstream job could. Sizes are asserted, not times (those are benchmarks);
    the subprocess timeout only keeps a regression from hanging the suite.
    """
    import subprocess
    import sys

    huge = "x" * 50_000_000
    _corrupt(ws, lambda t: _where(t, "channel", _rows(t, 1), huge))
    result = validation.run(_ws(ws), TODAY, backfill=False)
    assert result.verdict == "FAIL" and "channel_known" in {o.check for o in result.failed}
    layout = _ws(ws).layout
    assert layout.result("validate").stat().st_size < 1_000_000
    docs = sum(p.stat().st_size for p in layout.data_docs_day(TODAY).rglob("*") if p.is_file())
    assert docs < 20_000_000, f"Data Docs hold {docs:,} bytes"
    (ws / "params.yaml").write_text(f'ds: "{TODAY}"\nprofiles:\n  small:\n    simulator_users: 800\n')
    out = subprocess.run(
        [sys.executable, "-m", "hrlrec.cli", "--workspace", str(ws), "report", "--ds", TODAY],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    assert len(out.stdout) + len(out.stderr) < 100_000
    page = layout.report_page(TODAY)
    assert page.stat().st_size < 5_000_000 and huge[:1000] not in page.read_text()


def test_a_day_without_propensities_skips_their_suite_visibly(ws: Path) -> None:
    _corrupt(ws, lambda t: t.drop_columns(["propensity"]))
    result = validation.run(_ws(ws), TODAY, backfill=False)
    assert result.verdict == "PASS"
    assert {"suite": "propensity", "reason": "no propensity column in the day: not evaluated"} in result.skipped


def test_widen_numbers_is_exact_and_leaves_wide_bool_and_text_columns() -> None:
    import pandas as pd

    from hrlrec.validation.gx_run import widen_numbers

    frame = pd.DataFrame(
        {
            "position": np.array([0, 9, 32767], dtype=np.int16),
            "age": np.array([-128, 0, 127], dtype=np.int8),
            "dwell": np.array([0.1, 3.3, 1e30], dtype=np.float32),
            "user_id": np.array([1, 2, 2**62], dtype=np.int64),
            "blank": [True, False, True],
            "channel": ["news", "article", "news"],
        }
    )
    out = widen_numbers(frame)
    assert out["position"].dtype == np.int64 and out["age"].dtype == np.int64 and out["dwell"].dtype == np.float64
    assert (
        out["user_id"].dtype == np.int64
        and out["blank"].dtype == bool
        and out["channel"].dtype == frame["channel"].dtype
    )
    for column in ("position", "age", "dwell"):
        assert (out[column].to_numpy() == frame[column].to_numpy()).all()  # every value exactly the same
    assert frame["position"].dtype == np.int16  # the caller's frame is not changed
    wide = pd.DataFrame({"a": np.array([1], dtype=np.int64), "b": [1.5]})
    assert widen_numbers(wide) is wide


def test_a_type_suite_sees_the_frames_own_dtypes_and_a_range_suite_the_widened_ones(tmp_path: Path) -> None:
    """GX's range check is judged on widened numbers, but a type check must still see int16 (not int64)."""
    import pandas as pd

    from hrlrec.validation.gx_run import GxRunner
    from hrlrec.validation.suites import Suite

    types = Suite(
        "types", "impressions", False,
        [{"type": "expect_column_values_to_be_of_type", "kwargs": {"column": "position", "type_": "int16"},
          "meta": {"check": "type_position"}}],
    )  # fmt: skip
    ranges = Suite(
        "ranges", "impressions", False,
        [{"type": "expect_column_values_to_be_between",
          "kwargs": {"column": "position", "min_value": 0, "max_value": 9}, "meta": {"check": "position_range"}}],
    )  # fmt: skip
    assert types.judges_types and not ranges.judges_types
    runner = GxRunner([types, ranges], tmp_path / "docs")
    frame = pd.DataFrame({"session_id": [1, 1, 2], "position": np.array([0, 1, 12], dtype=np.int16)})
    (typed,) = runner.validate(types, frame)
    assert typed.success and typed.observed == "int16"
    (ranged,) = runner.validate(ranges, frame)
    assert (
        not ranged.success and ranged.unexpected_count == 1 and ranged.examples == [{"session_id": 2, "position": 12}]
    )


def test_escape_text_tests_unhashable_values_row_by_row() -> None:
    import pandas as pd

    from hrlrec.validation.gx_run import escape_text

    frame = pd.DataFrame({"tags": [["a"], "<i>", None]})
    out = escape_text(frame)
    assert out["tags"].tolist()[:2] == [["a"], "&lt;i&gt;"]


def test_a_blank_tag_is_empty_whitespace_or_null_and_a_row_without_tags_has_none() -> None:
    tags = pa.array([["a", "b"], [""], ["x", " \t"], ["x", None], [], None, [" a "]], pa.list_(pa.string()))
    assert frames._has_blank_tag(tags).tolist() == [False, True, True, True, False, False, False]
