"""Failure notifications: bounded, escaped (issue 14, item 11: the SMTP body was not escaped)."""

from __future__ import annotations

from hrlrec.orchestration import notify


def test_smtp_body_escapes_data_values_in_the_error() -> None:
    note = {"text": "hrlrec_daily 2026-11-08: FAIL\nfailed task: ingest\n<script>alert(1)</script> <img onerror=x>"}
    subject, body = notify.email_parts(note)
    assert subject == "hrlrec_daily 2026-11-08: FAIL"
    assert "<script>" not in body and "<img" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body and body.startswith("<pre>")


def test_a_huge_error_is_cut_and_says_how_long_it_was() -> None:
    text = "x" * 5_000_000
    cut = notify.bounded(text)
    assert len(cut) < notify.MAX_ERROR_CHARS + 40 and cut.endswith("(5,000,000 characters)")
    assert notify.bounded("short") == "short"
    subject, _ = notify.email_parts({"text": "y" * 10_000})
    assert len(subject) < 240
