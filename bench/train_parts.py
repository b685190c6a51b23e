"""Where an HRL-Rec training step spends its time: CPU milliseconds per part, one thread.

    python bench/train_parts.py --workspace DIR [--ds 2026-11-08] [--repeat 3] [-S key=value ...]

Needs a workspace whose dataset for `ds` is built (bench/train.py or
`hrlrec dataset` makes one). Times, on one batch of the profile's size,
forward plus backward of each part alone (the two state encoders and, inside
the LRA's, field embedding, field self-attention and the GRU; under the default
`model.encoder_sharing: attention` the LRA's embedding and attention are the
HRA's, so both encoders' rows count them: pass `-S model.encoder_sharing=none`
for the paper's separate parts), the model, the
similarity loss and the whole objective. CPU time of this process with one
intra-op thread, so a busy machine disturbs it less than wall time would.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import torch

from hrlrec import config
from hrlrec.data import batches
from hrlrec.data.batches import list_batch
from hrlrec.models import factory
from hrlrec.models.spec import ModelSpec
from hrlrec.train import features_of
from hrlrec.train.objective import HRLRecObjective
from hrlrec.workspace import Workspace


def cpu_ms(step: Callable[[], None], repeat: int) -> float:
    """Mean CPU milliseconds of `step` after one warm-up call."""
    step()
    t0 = time.process_time()
    for _ in range(repeat):
        step()
    return (time.process_time() - t0) / repeat * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workspace", type=Path, required=True)
    parser.add_argument("--ds", default="2026-11-08")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("-S", dest="overrides", action="append", default=[])
    args = parser.parse_args()
    torch.set_num_threads(1)
    ws = Workspace(args.workspace, config.load(None, args.overrides))
    cfg, p = ws.cfg, ws.cfg.active
    stream = batches.load(ws.layout.dataset_day(args.ds))
    torch.manual_seed(0)
    model = factory.build("hrlrec", ModelSpec.of(cfg), features_of(stream))
    objective = HRLRecObjective(model)
    batch = list_batch(stream, stream.lists("train")[: p.batch_size], p.history_len, cfg.list_len)
    seq = (batch.seq_cat, batch.seq_dense, batch.feedback, batch.hist_len, batch.list_len, model.list_len)
    low = model.low_encoder
    B, T = batch.seq_cat.shape[:2]
    fields = low.fields(batch.seq_cat, batch.seq_dense, {"feedback": batch.feedback}).detach().requires_grad_()
    behaviours = low.attention(fields.reshape(B * T, *fields.shape[2:])).reshape(B, T, -1).detach()
    behaviours.requires_grad_()
    h0 = torch.zeros(1, B, low.state_dim)

    def backward(x: torch.Tensor) -> None:
        x.float().sum().backward()

    def objective_step(actor: bool) -> Callable[[], None]:
        return lambda: objective(batch, actor)[0].backward()

    def similarity() -> None:
        out = model(batch)
        objective._similarity(out.a_low, out.a_high, batch).backward()

    parts: dict[str, Callable[[], None]] = {
        "gather one batch of lists": lambda: list_batch(
            stream, stream.lists("train")[p.batch_size : 2 * p.batch_size], p.history_len, cfg.list_len
        ),
        "LRA encoder": lambda: backward(low(*seq)),
        "  field embedding": lambda: backward(low.fields(batch.seq_cat, batch.seq_dense, {"feedback": batch.feedback})),
        "  field self-attention": lambda: backward(low.attention(fields.reshape(B * T, *fields.shape[2:]))),
        "  GRU": lambda: backward(low.gru(behaviours, h0)[0]),
        "HRA encoder": lambda: backward(model.high_encoder(*seq)),
        "model forward (click logits)": lambda: backward(model(batch).logits),
        "model + similarity loss": similarity,
        "objective, critic step": objective_step(False),
        "objective, actor step": objective_step(True),
    }
    print(f"# HRL-Rec training step, {B} lists x {T} behaviours, CPU ms forward + backward, one thread")
    for name, step in parts.items():
        print(f"{name:<32}{cpu_ms(step, args.repeat):>8.0f}", flush=True)


if __name__ == "__main__":
    main()
