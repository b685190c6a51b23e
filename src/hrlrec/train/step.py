"""The train step: fit HRL-Rec and baselines on a built dataset; save weights and metrics.

Writes, for day D:
    models/candidates/ds=D/<model>.pt     weights only (state dict of tensors)
    models/candidates/ds=D/<model>.json   card: model, ModelSpec, features, SHA-256, metrics
    metrics/train.json                    AUC, LogLoss, RelaImpr over LR, per-channel AUC,
                                          oracle AUC and share of the LR-to-oracle gap closed
The day's candidates are replaced as one set (a temporary folder, then a
rename): a crash never leaves one model from this run beside one from the last.
Models not trained this time (`--model lr` alone) are carried over unchanged.
Nothing is written when any model fails to train.
"""

from __future__ import annotations

import copy
import json
import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from hrlrec import atomic, checkpoints
from hrlrec.data import batches
from hrlrec.data.build import STREAM
from hrlrec.errors import BadInput
from hrlrec.models.factory import MODELS, build
from hrlrec.models.hrlrec import HRLRec
from hrlrec.models.spec import Features, ModelSpec
from hrlrec.train import channel_mix, summary, unseen_context
from hrlrec.train.device import resolve_device
from hrlrec.train.loop import Dist, FitResult, Predictions, fit, predict
from hrlrec.train.warm_start import warm_start
from hrlrec.workspace import Workspace

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainResult:
    ds: str
    device: str
    models: dict[str, dict[str, Any]]
    oracle_auc: float | None
    out_dir: Path
    seconds: float


def features_of(stream: batches.Stream) -> Features:
    """The input features a model trained on `stream` sees."""
    return Features(dict(stream.meta["vocab"]), list(stream.cat_columns), int(stream.dense.shape[1]))


def run(
    ws: Workspace, ds: str, models: list[str] | None = None, device: str | None = None, progress: bool = True
) -> TrainResult:
    """Train `models` (default: params `train.models`) on dataset `ds`; evaluate on the held-out day.

    With `train.warm_start`, HRL-Rec starts from production's weights when
    they fit today's model (off by default: the stage would then depend on the
    registry, which `dvc repro` cannot express without a cycle).
    """
    cfg, layout = ws.cfg, ws.layout
    t0 = time.perf_counter()
    names = list(dict.fromkeys(models or cfg.train.models))
    for name in names:
        if name not in MODELS:
            raise BadInput(f"unknown model {name!r}; choose from {', '.join(MODELS)}")
    folder = layout.dataset_day(ds)
    if not (folder / STREAM).is_file():
        raise BadInput(f"{folder}: no dataset for {ds}; run `hrlrec dataset --ds {ds}` first")
    rank = Dist.from_env()
    dev = resolve_device(device or cfg.train.device)
    started_group = False
    if rank.launched:
        if dev.type == "cuda":
            dev = torch.device("cuda", rank.local_rank)
            torch.cuda.set_device(dev)  # before the process group: NCCL binds each rank to its current device
        if not torch.distributed.is_initialized():
            torch.distributed.init_process_group("nccl" if dev.type == "cuda" else "gloo")
            started_group = True
        log.info("torchrun: process group %s, rank %d of %d, device %s", torch.distributed.get_backend(),
                 rank.rank, rank.world, dev)  # fmt: skip
    try:
        return _train(ws, ds, names, dev, rank, progress, t0)
    finally:
        if started_group:
            torch.distributed.destroy_process_group()


def _train(
    ws: Workspace, ds: str, names: list[str], dev: torch.device, rank: Dist, progress: bool, t0: float
) -> TrainResult:
    """`run` on `dev`, once the process group (under torchrun) is up."""
    cfg, layout = ws.cfg, ws.layout
    folder = layout.dataset_day(ds)
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    stream = batches.load(folder).to(dev)
    if stream.meta["channels"] != list(cfg.channels):
        raise BadInput(f"dataset {ds} was built for channels {stream.meta['channels']}, params say {cfg.channels}")
    spec, features = ModelSpec.of(cfg), features_of(stream)

    fitted: dict[str, tuple[FitResult, Predictions]] = {}
    warm: dict[str, str | None] = {}
    mixes: dict[str, dict[str, Any] | None] = {}
    unseen: dict[str, dict[str, list[int]]] = {}
    for name in names:
        torch.manual_seed(cfg.training_seed)
        model = build(name, spec, features).to(dev)
        warm[name] = None
        if cfg.train.warm_start:
            from hrlrec import registry

            prod = registry.production(ws)
            if prod is not None:
                warm[name] = warm_start(model, prod.weights(name), prod.name, features)
        result = fit(name, model, cfg, stream, dev, rank, progress)
        mixes[name] = None
        if isinstance(model, HRLRec):
            if spec.model.unseen_context == "mean":
                unseen[name] = unseen_context.fill_unseen_context(model, stream)
            if spec.model.channel_mix == "logged":
                hours = spec.model.channel_mix_hours
                lists = channel_mix.calibration_lists(stream, hours, cfg.training_seed, spec.model.channel_mix_fit)
                mixes[name] = channel_mix.calibrate(model, stream, lists, hours).to_card()
            result.state = copy.deepcopy(model.state_dict())  # the served policy's offsets included
        fitted[name] = (result, predict(model, stream, stream.lists("test")))
        log.info("%s: %d epochs, %.0f impressions/s", name, result.epochs, result.impressions_per_s)

    if not rank.main:
        return TrainResult(ds, str(dev), {}, None, Path(), time.perf_counter() - t0)
    oracle = summary.oracle_auc(layout.truth_day(ds), stream, stream.lists("test"))
    report = summary.table(list(cfg.channels), fitted, oracle)
    out = layout.candidates_day(ds)
    # One atomic set: every model, its card and the summary appear together or not at all.
    with atomic.locked(layout.result("train")):
        body = summary.merged(layout, ds, str(dev), report, oracle)
        with atomic.atomic_dir(out) as tmp:
            if out.is_dir():  # carry over the models not retrained this time, as they were
                for old in out.iterdir():
                    if old.suffix in (".pt", ".json") and old.stem not in fitted and not old.name.startswith("."):
                        shutil.copy2(old, tmp / old.name)
            for name, (result, _) in fitted.items():
                card = {
                    "model": name,
                    "ds": ds,
                    "spec": spec.model_dump(mode="json"),
                    **features.to_card(),
                    "channels": list(cfg.channels),
                    "metrics": report[name],
                    "warm_start": warm.get(name),
                    "channel_mix": mixes.get(name),
                    "unseen_context_filled": unseen.get(name),
                }
                checkpoints.save(tmp / f"{name}.pt", result.state, card)
            (tmp / summary.CANDIDATE_SUMMARY).write_text(json.dumps(body, indent=2) + "\n")
        summary.write(layout, ds, body)
    return TrainResult(ds, str(dev), report, oracle, out, time.perf_counter() - t0)
