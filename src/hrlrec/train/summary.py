"""The train step's metrics table: AUC, LogLoss, RelaImpr over LR, per-channel AUC, the oracle's AUC.

The oracle AUC is the AUC of the simulator's true click probabilities on the
test impressions, read from the ground-truth sidecar when one exists (real
logs have none): the ceiling any model can reach, against which the share of
the LR-to-oracle gap each model closes is reported.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from hrlrec import metrics, results
from hrlrec.data.batches import Stream
from hrlrec.layout import Layout
from hrlrec.train.loop import FitResult, Predictions

JsonDict = dict[str, Any]

log = logging.getLogger(__name__)


def table(
    channels: list[str], fitted: dict[str, tuple[FitResult, Predictions]], oracle: float | None
) -> dict[str, dict[str, Any]]:
    """One row of metrics per trained model."""
    names = {i + 1: c for i, c in enumerate(channels)}
    report: dict[str, dict[str, Any]] = {}
    for name, (result, pred) in fitted.items():
        report[name] = {
            "auc": metrics.auc(pred.labels, pred.probs),
            "logloss": metrics.logloss(pred.labels, pred.probs),
            "per_channel_auc": metrics.per_group_auc(pred.labels, pred.probs, pred.channel, names),
            "best_val_auc": result.best_val_auc,
            "epochs": result.epochs,
            "best_epoch": result.best_epoch,  # == epochs: the budget, not early stopping, ended training
            "seconds": round(result.seconds, 1),
            "impressions_per_s": round(result.impressions_per_s, 1),
            "test_impressions": len(pred.labels),
        }
    _relative_to_lr(report, oracle)
    return report


def _relative_to_lr(report: dict[str, dict[str, Any]], oracle: float | None) -> None:
    base = report.get("lr", {}).get("auc")
    for r in report.values():
        r["relaimpr_over_lr"] = metrics.relaimpr(r["auc"], base) if base else None
        r["lr_to_oracle_gap_closed"] = metrics.gap_closed(r["auc"], base, oracle) if base and oracle else None


def oracle_auc(truth_dir: Path, stream: Stream, lists: np.ndarray) -> float | None:
    """AUC of the simulator's true click probabilities on the test impressions, when the truth exists."""
    if not truth_dir.is_dir():
        log.info("no ground truth in %s (real logs?); oracle AUC not reported", truth_dir)
        return None
    truth = pq.read_table(truth_dir, columns=["session_id", "position", "p_click"])
    # Join on (list, position) through one sortable key; positions are < 2**15.
    key = truth.column("session_id").to_numpy() * (1 << 15) + truth.column("position").to_numpy().astype(np.int64)
    order = np.argsort(key)
    keys, p_click = key[order], truth.column("p_click").to_numpy()[order]
    rows = stream.rows(lists)
    position = stream.cat[rows, stream.column("position")].cpu().numpy() - 1  # ids are position + 1
    want = stream.session_id[rows] * (1 << 15) + position
    idx = np.clip(np.searchsorted(keys, want), 0, len(keys) - 1)
    found = keys[idx] == want
    if not found.all():
        log.warning("ground truth covers %.1f%% of the test impressions", 100 * found.mean())
    labels = stream.clicked[rows].cpu().numpy()[found]
    return metrics.auc(labels, p_click[idx[found]])


CANDIDATE_SUMMARY = "train.json"  # the same summary, inside the candidates folder it describes


def merged(layout: Layout, ds: str, device: str, report: dict[str, dict[str, Any]], oracle: float | None) -> JsonDict:
    """metrics/train.json's body after this run: its models merged into the same day's (other days replaced).

    A read-modify-write: call it holding `atomic.locked(layout.result("train"))`.
    """
    path = layout.result("train")
    previous: dict[str, Any] = json.loads(path.read_text()) if path.is_file() else {}
    models = previous.get("models", {}) if previous.get("ds") == ds else {}
    models.update(report)
    _relative_to_lr(models, oracle)
    return finite({"ds": ds, "device": device, "oracle_auc": oracle, "models": models})


def write(layout: Layout, ds: str, body: JsonDict) -> None:
    """Write the summary `merged` returned to metrics/train.json (and the day's archive)."""
    results.write(layout, "train", ds, body)


def finite(value: Any) -> Any:
    """JSON has no NaN: undefined numbers become null."""
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
