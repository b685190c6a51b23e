"""The layout's names, spelled out: a regression here would move files every reader and writer agree on."""

from __future__ import annotations

from pathlib import Path

from hrlrec import config
from hrlrec.layout import Layout, training_window

DS = "2026-11-08"


def test_every_file_has_its_documented_name() -> None:
    lay = Layout(Path("/w"), config.load().paths)
    expected = {
        lay.landing_day(DS): "/w/landing/ds=2026-11-08",
        lay.truth_day(DS): "/w/landing/_truth/ds=2026-11-08",
        lay.raw_manifest(DS): "/w/data/raw/ds=2026-11-08/_manifest.json",
        lay.quarantine_result(DS): "/w/data/quarantine/ds=2026-11-08/_validation.json",
        lay.validation_result(DS): "/w/data/validation/ds=2026-11-08/result.json",
        lay.validation_summary(DS): "/w/data/validation/ds=2026-11-08/summary.json",
        lay.releases: "/w/data/validation/releases.jsonl",
        lay.data_docs_page(DS): "/w/reports/data_docs/ds=2026-11-08/index.html",
        lay.dataset_meta(DS): "/w/data/datasets/ds=2026-11-08/meta.json",
        lay.candidate_weights(DS, "lr"): "/w/models/candidates/ds=2026-11-08/lr.pt",
        lay.export_day(DS): "/w/models/exports/ds=2026-11-08",
        lay.version_file("v1"): "/w/models/registry/versions/v1/version.json",
        lay.production_pointer: "/w/models/registry/production.json",
        lay.registry_history: "/w/models/registry/history.jsonl",
        lay.stability_record("production", DS): "/w/data/stability/production/ds=2026-11-08.json",
        lay.result("evaluate"): "/w/metrics/evaluate.json",
        lay.result_day("evaluate", DS): "/w/metrics/days/ds=2026-11-08/evaluate.json",
        lay.report_page(DS): "/w/reports/ds=2026-11-08/index.html",
        lay.notifications: "/w/reports/notifications.jsonl",
        lay.params_file: "/w/params.yaml",
    }
    for got, want in expected.items():
        assert str(got) == want


def test_the_training_window_is_lookback_then_training_days() -> None:
    window = training_window(config.load(), DS)  # small profile: 3 training days, 2 lookback days
    assert window.lookback == ["2026-11-03", "2026-11-04"]
    assert window.train == ["2026-11-05", "2026-11-06", "2026-11-07"]
    assert window.days == [*window.lookback, *window.train]
