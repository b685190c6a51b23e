"""One training loop for every model: epochs, early stopping, a NaN guard, DDP, progress.

HRL-Rec trains on batches of lists, the baselines on batches of impressions;
everything else (optimizer, clipping, validation AUC after each epoch, keeping
the best weights, stopping after `patience` epochs without improvement) is the
same code. Under `torchrun` each process trains on its shard of every epoch's
shuffled batches and DistributedDataParallel averages the gradients.
"""

from __future__ import annotations

import copy
import logging
import math
import os
import time
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from hrlrec import metrics
from hrlrec.config import Config
from hrlrec.data.batches import Stream, iterate_impressions, iterate_lists
from hrlrec.errors import HrlrecError
from hrlrec.models.baselines.common import behaviour_window
from hrlrec.models.baselines.lr import LR
from hrlrec.models.hrlrec import HRLRec
from hrlrec.progress import Progress
from hrlrec.train.objective import BCEObjective, HRLRecObjective

log = logging.getLogger(__name__)

IMPRESSIONS_PER_LIST = 10  # a baseline scores impressions: batches of `batch_size` lists' worth of rows


class TrainingDiverged(HrlrecError):
    """A loss became NaN or infinite; nothing is written."""

    exit_code = 1


@dataclass(frozen=True)
class Dist:
    """This process's place in a torchrun job (rank 0 of 1 when run alone).

    `launched` is True under torchrun whatever the world size: a one-process job still starts the process
    group and wraps the model in DistributedDataParallel, so `torchrun --nproc_per_node 1` on a one-GPU
    machine runs the NCCL path that more GPUs would (scripts/gpu-check.sh relies on it).
    """

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    launched: bool = False

    @property
    def main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_env(cls) -> Dist:
        env = os.environ
        world = int(env.get("WORLD_SIZE", "1"))
        # A launcher that sets RANK and WORLD_SIZE alone (not torchrun) still shards the data: it needs the group.
        launched = ("LOCAL_RANK" in env and "WORLD_SIZE" in env) or world > 1
        return cls(int(env.get("RANK", "0")), world, int(env.get("LOCAL_RANK", "0")), launched)


@dataclass
class Predictions:
    """Scores of the impressions of some lists, in stream order."""

    labels: np.ndarray
    probs: np.ndarray
    channel: np.ndarray
    rows: np.ndarray


@dataclass
class FitResult:
    name: str
    state: dict[str, torch.Tensor]
    epochs: int
    best_val_auc: float
    seconds: float
    impressions: int
    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = 0  # the epoch whose weights were kept (== epochs: the budget, not early stopping, ended it)

    @property
    def impressions_per_s(self) -> float:
        return self.impressions / self.seconds if self.seconds else math.nan


def predict(model: nn.Module, stream: Stream, lists: np.ndarray, batch_size: int = 1024) -> Predictions:
    """Click probabilities of every impression of `lists` (in eval mode, no noise).

    HRL-Rec reads its history length and list length from its own spec, so a
    model scores a day exactly as it was trained, whatever today's params say.
    """
    was_training = model.training
    model.eval()
    probs, labels, channels = [], [], []
    ch = stream.column("channel")
    with torch.no_grad():
        if isinstance(model, HRLRec):
            spec = model.spec
            for b in iterate_lists(stream, lists, batch_size, spec.history_len, spec.list_len):
                p = model.score(b)
                probs.append(p[b.list_mask].float().cpu())
                labels.append(b.clicked[b.list_mask].cpu())
                channels.append(b.list_cat[..., ch][b.list_mask].cpu())
        else:
            window = behaviour_window(model)
            for b in iterate_impressions(stream, stream.rows(lists), batch_size * IMPRESSIONS_PER_LIST, *window):
                probs.append(torch.sigmoid(model(b)).float().cpu())
                labels.append(b.clicked.cpu())
                channels.append(b.cat[:, ch].cpu())
    model.train(was_training)
    return Predictions(
        labels=torch.cat(labels).numpy(),
        probs=torch.cat(probs).numpy(),
        channel=torch.cat(channels).numpy(),
        rows=stream.rows(lists),
    )


def _shard(items: np.ndarray, rank: Dist) -> np.ndarray:
    """This process's equal share of `items` (the remainder of the division is dropped)."""
    usable = len(items) // rank.world * rank.world
    return items[:usable][rank.rank :: rank.world]


def _guard(name: str, logs: dict[str, torch.Tensor], epoch: int, step: int) -> None:
    bad = {k: float(v.detach()) for k, v in logs.items() if not torch.isfinite(v).all()}
    if bad:
        terms = ", ".join(f"{k}={v}" for k, v in bad.items())
        raise TrainingDiverged(
            f"{name}: training diverged at epoch {epoch}, step {step}: {terms}. Nothing was written; "
            "check the day's data (NaN features?) or lower train.learning_rate"
        )


def _weight_decay(model: nn.Module, cfg: Config, stream: Stream) -> float:
    """Adam's weight decay: `train.weight_decay`, except LR's, which is scikit-learn's L2 with C = `train.lr_c`.

    Why LR differs: RelaImpr is measured over it, so it must be a real logistic regression. Without a
    penalty, one free weight per user and item id overfits small logs (2,000 users: 0.703 test AUC where
    scikit-learn's C = 0.3 reaches 0.711). sklearn minimises sum(log loss) + ||w||^2 / (2C); Adam on the
    mean loss with decay wd minimises mean(log loss) + wd ||w||^2 / 2, so wd = 1 / (C n) for n training
    impressions: the same C means the same penalty whatever the size of the window.
    """
    if isinstance(model, LR) and cfg.train.lr_c is not None:
        n = len(stream.rows(stream.lists("train")))
        return 1.0 / (cfg.train.lr_c * max(n, 1))
    return cfg.train.weight_decay


def _learning_rate(model: nn.Module, cfg: Config) -> float:
    """Adam's step: `train.learning_rate`, except LR's, which is `train.lr_learning_rate` when set.

    Why LR has its own: its loss is convex with one weight per id, so a larger step reaches the same
    validation AUC in fewer epochs, and LR trains every day beside the candidate. The step was chosen on
    validation lists (docs/results.md); the other models keep the step their figures were measured with.
    """
    if isinstance(model, LR) and cfg.train.lr_learning_rate is not None:
        return cfg.train.lr_learning_rate
    return cfg.train.learning_rate


def _autocast(precision: str, device: torch.device):
    """bf16 autocast for `precision` bf16, or auto on CUDA; float32 otherwise."""
    if precision == "bf16" or (precision == "auto" and device.type == "cuda"):
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return nullcontext()


def fit(
    name: str, model: nn.Module, cfg: Config, stream: Stream, device: torch.device, rank: Dist, progress: bool = True
) -> FitResult:
    """Train `model` on the stream's train lists; keep the weights with the best validation AUC."""
    is_hrlrec = isinstance(model, HRLRec)
    objective: nn.Module = HRLRecObjective(model) if is_hrlrec else BCEObjective(model)
    objective.to(device)
    trainable = [p for p in objective.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(
        trainable, lr=_learning_rate(model, cfg), weight_decay=_weight_decay(model, cfg, stream)
    )
    wrapped = objective
    if rank.launched:
        wrapped = nn.parallel.DistributedDataParallel(objective, find_unused_parameters=True)
    autocast = _autocast(cfg.train.precision, device)
    p = cfg.active
    train_lists, val_lists = stream.lists("train"), stream.lists("val")
    best_auc, best_state, best_epoch, bad_epochs, history = -math.inf, None, 0, 0, []
    impressions, t0, global_step, epoch = 0, time.perf_counter(), 0, 0
    epochs = p.epochs if is_hrlrec else cfg.train.baseline_epochs
    for epoch in range(1, epochs + 1):
        rng = np.random.default_rng([cfg.training_seed, epoch])
        # Equal shards, so every process runs the same number of steps (DDP's all-reduce pairs them).
        order = _shard(rng.permutation(train_lists), rank)
        batches: Iterator
        if is_hrlrec:
            batches = iterate_lists(stream, order, p.batch_size, p.history_len, cfg.list_len)
            n_batches = math.ceil(len(order) / p.batch_size)
        else:
            rows = _shard(rng.permutation(stream.rows(rng.permutation(train_lists))), rank)
            batches = iterate_impressions(stream, rows, p.batch_size * cfg.list_len, *behaviour_window(model))
            n_batches = math.ceil(len(rows) / (p.batch_size * cfg.list_len))
        shown = Progress(f"{name} epoch {epoch}/{epochs}", n_batches, unit="batches", enabled=progress and rank.main)
        epoch_t0, epoch_imps, running = time.perf_counter(), 0, 0.0
        for step, batch in enumerate(batches, 1):
            with autocast:
                if is_hrlrec:
                    actor_step = global_step % cfg.model.critic_updates_per_actor == 0
                    loss, logs = wrapped(batch, actor_step)
                else:
                    loss, logs = wrapped(batch)
            _guard(name, logs, epoch, step)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(trainable, cfg.train.max_grad_norm)
            optimizer.step()
            if is_hrlrec:
                model.update_targets(cfg.model.tau)
            global_step += 1
            n = int(batch.list_mask.sum()) if is_hrlrec else batch.clicked.shape[0]
            epoch_imps += n
            value = float(loss.detach())
            running = 0.98 * running + 0.02 * value if step > 1 else value
            shown.update()
            if cfg.train.max_steps is not None and global_step >= cfg.train.max_steps:
                break
            if step % 20 == 0:
                rate = epoch_imps / (time.perf_counter() - epoch_t0)
                shown.note(loss=f"{running:.4f}", impressions_per_s=f"{rate:,.0f}")
        shown.close()
        impressions += epoch_imps * rank.world
        val = predict(model, stream, val_lists)
        val_auc = metrics.auc(val.labels, val.probs)
        history.append({"epoch": epoch, "loss": running, "val_auc": val_auc})
        if rank.main:
            log.info("%s epoch %d: loss %.4f, validation AUC %.4f", name, epoch, running, val_auc)
        if best_state is None or val_auc > best_auc + 1e-5:
            best_auc, best_epoch, bad_epochs = val_auc, epoch, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            bad_epochs += 1
            if bad_epochs > cfg.train.patience:
                if rank.main:
                    log.info("%s: early stop after epoch %d (best validation AUC %.4f)", name, epoch, best_auc)
                break
        if cfg.train.max_steps is not None and global_step >= cfg.train.max_steps:
            if rank.main:
                log.info("%s: stopped at train.max_steps = %d, in epoch %d", name, cfg.train.max_steps, epoch)
            break
    if rank.launched:
        dist.barrier()
    model.load_state_dict(best_state)
    return FitResult(name, best_state, epoch, best_auc, time.perf_counter() - t0, impressions, history, best_epoch)
