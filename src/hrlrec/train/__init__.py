"""The train step: fit HRL-Rec and baselines on a built dataset; save weights and metrics.

Writes, for day D:
    models/candidates/ds=D/<model>.pt     weights only (state dict of tensors)
    models/candidates/ds=D/<model>.json   card: model, config, vocab, SHA-256, metrics
    metrics/train.json                    AUC, LogLoss, RelaImpr over LR, per-channel AUC,
                                          oracle AUC and share of the LR-to-oracle gap closed
Nothing is written when any model fails to train.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import torch
from torch import nn

from hrlrec import metrics, results
from hrlrec.config import Config
from hrlrec.data import batches
from hrlrec.data.build import STREAM
from hrlrec.errors import BadInput
from hrlrec.models.baselines import REGISTRY, FeatureSpec
from hrlrec.models.hrlrec import HRLRec
from hrlrec.simulator import partition, truth_partition
from hrlrec.train import checkpoint
from hrlrec.train.loop import Dist, FitResult, Predictions, fit, predict

log = logging.getLogger(__name__)

MODELS = ["hrlrec", *REGISTRY]


@dataclass(frozen=True)
class TrainResult:
    ds: str
    device: str
    models: dict[str, dict[str, Any]]
    oracle_auc: float | None
    out_dir: Path
    seconds: float


def resolve_device(requested: str) -> torch.device:
    """auto: CUDA when present, else CPU (said in the log); cuda without a GPU is an error."""
    if requested not in ("auto", "cpu", "cuda"):
        raise BadInput(f"--device must be auto, cpu or cuda, got {requested!r}")
    if requested == "cuda" and not torch.cuda.is_available():
        raise BadInput("--device cuda was requested but torch sees no CUDA device")
    if requested == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
        if device == "cpu":
            log.warning("no CUDA device found; training on the CPU")
        return torch.device(device)
    return torch.device(requested)


def build_model(name: str, cfg: Config, stream_meta: dict, cat_columns: list[str], dense_dim: int) -> nn.Module:
    """A fresh model by registry name, sized from the config's profile and the dataset's vocabulary."""
    vocab = stream_meta["vocab"]
    if name == "hrlrec":
        return HRLRec(cfg, vocab, cat_columns, dense_dim)
    if name not in REGISTRY:
        raise BadInput(f"unknown model {name!r}; choose from {', '.join(MODELS)}")
    return REGISTRY[name](FeatureSpec(vocab, cat_columns, dense_dim, cfg.active.field_dim))


def load_model(weights: Path, stream: batches.Stream) -> tuple[nn.Module, Config]:
    """A trained model rebuilt from its checkpoint card, ready to score `stream`; and its config.

    Refuses weights trained on other features (vocabulary or columns differ),
    which could not score today's data meaningfully.
    """
    state, card = checkpoint.load(weights)
    if card["cat_columns"] != stream.cat_columns or card["vocab"] != stream.meta["vocab"]:
        raise BadInput(f"{weights}: trained on other features (vocabulary or columns differ from today's)")
    model_cfg = Config.model_validate(card["config"])
    model = build_model(card["model"], model_cfg, stream.meta, card["cat_columns"], card["dense_dim"])
    model.load_state_dict(state)
    return model, model_cfg


@dataclass(frozen=True)
class Candidate:
    """The day's trained HRL-Rec candidate, ready to rank that day's requests."""

    weights: Path
    stream: batches.Stream
    model: nn.Module
    config: Config


def load_candidate(cfg: Config, ds: str, root: Path) -> Candidate:
    """The hrlrec candidate of `ds` with the day's dataset; a clear error when it was never trained."""
    weights = partition(root / cfg.paths.models / "candidates", ds) / "hrlrec.pt"
    if not weights.is_file():
        raise BadInput(f"{weights}: no hrlrec candidate for {ds}; run `hrlrec train --ds {ds}` first")
    stream = batches.load(partition(root / cfg.paths.datasets, ds))
    model, model_cfg = load_model(weights, stream)
    return Candidate(weights, stream, model, model_cfg)


def run(
    cfg: Config, ds: str, root: Path, models: list[str] | None = None, device: str | None = None, progress: bool = True
) -> TrainResult:
    """Train `models` (default: params `train.models`) on dataset `ds`; evaluate on the held-out day."""
    t0 = time.perf_counter()
    names = list(dict.fromkeys(models or cfg.train.models))
    for name in names:
        if name != "hrlrec" and name not in REGISTRY:
            raise BadInput(f"unknown model {name!r}; choose from {', '.join(MODELS)}")
    folder = partition(root / cfg.paths.datasets, ds)
    if not (folder / STREAM).is_file():
        raise BadInput(f"{folder}: no dataset for {ds}; run `hrlrec dataset --ds {ds}` first")
    rank = Dist.from_env()
    if rank.world > 1 and not torch.distributed.is_initialized():
        backend = "nccl" if torch.cuda.is_available() and (device or cfg.train.device) != "cpu" else "gloo"
        torch.distributed.init_process_group(backend)
    dev = resolve_device(device or cfg.train.device)
    if dev.type == "cuda" and rank.world > 1:
        dev = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    stream = batches.load(folder).to(dev)
    if stream.meta["channels"] != list(cfg.channels):
        raise BadInput(f"dataset {ds} was built for channels {stream.meta['channels']}, params say {cfg.channels}")

    fitted: dict[str, tuple[FitResult, Predictions]] = {}
    warm: dict[str, str | None] = {}
    for name in names:
        torch.manual_seed(cfg.seed)
        model = build_model(name, cfg, stream.meta, stream.cat_columns, stream.dense.shape[1]).to(dev)
        warm[name] = _warm_start(cfg, root, name, model, stream) if cfg.train.warm_start else None
        result = fit(name, model, cfg, stream, dev, rank, progress)
        fitted[name] = (result, predict(model, stream, stream.lists("test"), cfg))
        log.info("%s: %d epochs, %.0f impressions/s", name, result.epochs, result.impressions_per_s)

    if not rank.main:
        return TrainResult(ds, str(dev), {}, None, Path(), time.perf_counter() - t0)
    oracle = _oracle_auc(root / cfg.paths.landing, ds, stream, stream.lists("test"))
    report = _report(cfg, fitted, oracle, stream)
    out = partition(root / cfg.paths.models / "candidates", ds)
    for name, (result, _) in fitted.items():
        card = {
            "model": name,
            "ds": ds,
            "config": cfg.model_dump(),
            "vocab": stream.meta["vocab"],
            "cat_columns": stream.cat_columns,
            "dense_dim": int(stream.dense.shape[1]),
            "channels": list(cfg.channels),
            "metrics": report[name],
            "warm_start": warm.get(name),
        }
        checkpoint.save(out / f"{name}.pt", result.state, card)
    _write_metrics(root / cfg.paths.metrics / "train.json", ds, str(dev), report, oracle)
    return TrainResult(ds, str(dev), report, oracle, out, time.perf_counter() - t0)


def _warm_start(cfg: Config, root: Path, name: str, model: nn.Module, stream: batches.Stream) -> str | None:
    """Start from production's weights of `name` when they fit today's features; returns the version used.

    Retraining from scratch every day lands the actors in an arbitrary place
    of the embedding space, so the channel mix of the lists jumps from day to
    day; continuing from what serves keeps consecutive models close.
    """
    from hrlrec import registry

    prod = registry.production(cfg, root)
    if prod is None or not prod.weights(name).is_file():
        return None
    try:
        state, card = checkpoint.load(prod.weights(name))
    except BadInput as exc:
        log.warning("no warm start for %s: %s", name, exc)
        return None
    if card["cat_columns"] != stream.cat_columns or card["vocab"] != stream.meta["vocab"]:
        log.info("no warm start for %s: %s was trained on other features", name, prod.name)
        return None
    own = model.state_dict()
    if any(k not in own or own[k].shape != v.shape for k, v in state.items()) or len(state) != len(own):
        log.info("no warm start for %s: %s has another architecture", name, prod.name)
        return None
    model.load_state_dict(state)
    log.info("%s: warm start from production %s", name, prod.name)
    return prod.name


def _report(
    cfg: Config, fitted: dict[str, tuple[FitResult, Predictions]], oracle: float | None, stream: batches.Stream
) -> dict[str, dict[str, Any]]:
    names = {i + 1: c for i, c in enumerate(cfg.channels)}
    report: dict[str, dict[str, Any]] = {}
    for name, (result, pred) in fitted.items():
        report[name] = {
            "auc": metrics.auc(pred.labels, pred.probs),
            "logloss": metrics.logloss(pred.labels, pred.probs),
            "per_channel_auc": metrics.per_group_auc(pred.labels, pred.probs, pred.channel, names),
            "best_val_auc": result.best_val_auc,
            "epochs": result.epochs,
            "seconds": round(result.seconds, 1),
            "impressions_per_s": round(result.impressions_per_s, 1),
            "test_impressions": len(pred.labels),
        }
    base = report.get("lr", {}).get("auc")
    for r in report.values():
        r["relaimpr_over_lr"] = metrics.relaimpr(r["auc"], base) if base else None
        r["lr_to_oracle_gap_closed"] = metrics.gap_closed(r["auc"], base, oracle) if base and oracle else None
    return report


def _oracle_auc(landing: Path, ds: str, stream: batches.Stream, lists: np.ndarray) -> float | None:
    """AUC of the simulator's true click probabilities on the test impressions, when the truth exists."""
    truth_dir = truth_partition(landing, ds)
    if not truth_dir.is_dir():
        log.info("no ground truth for %s (real logs?); oracle AUC not reported", ds)
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


def _write_metrics(path: Path, ds: str, device: str, report: dict[str, dict[str, Any]], oracle: float | None) -> None:
    """Merge this run's models into metrics/train.json for the same day (other days are replaced)."""
    previous: dict[str, Any] = {}
    if path.is_file():
        previous = json.loads(path.read_text())
    models = previous.get("models", {}) if previous.get("ds") == ds else {}
    models.update(report)
    base = models.get("lr", {}).get("auc")
    for r in models.values():
        r["relaimpr_over_lr"] = metrics.relaimpr(r["auc"], base) if base else None
        r["lr_to_oracle_gap_closed"] = metrics.gap_closed(r["auc"], base, oracle) if base and oracle else None
    body = {"ds": ds, "device": device, "oracle_auc": oracle, "models": models}
    results.write(path.parent, path.stem, ds, _finite(body))


def _finite(value: Any) -> Any:
    """JSON has no NaN: undefined numbers become null."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
