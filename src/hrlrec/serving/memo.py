"""Rankings kept between steps, so the same requests ranked by the same model are ranked once a day.

The AUC gate's true-value measurement (evaluation/truth.py) and the stability
gate (stability.py) rank the same seeded sample of the day's requests with the
candidate and with production, under the same serving policy and seed: the same
four rankings, each 8,000 requests by default, computed twice per day. This
keeps each one in `paths.memo` and hands it to the second step.

The key is everything a ranking depends on, hashed from what is in memory, not
from file names: the model's weights and its spec, the dataset's arrays (the
rows the requests are built from), the requests and the pool, the serving
policy and seed, and the source of the `hrlrec` package (any code edit is a
miss, as DVC's `deps: src/hrlrec` treats it). A miss ranks and keeps; a hit
returns the kept arrays. So the memo can cost a ranking, never change one.
Only the day being ranked is kept (layout.memo_day): keeping a day's ranking removes other days'.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import logging
import shutil
import zipfile
from pathlib import Path

import numpy as np
import torch
from torch import nn

from hrlrec import atomic
from hrlrec.data.batches import Stream
from hrlrec.models.spec import ModelSpec
from hrlrec.serving.backends import TorchBackend
from hrlrec.serving.ranker import FIELDS, Ranker, Ranking, ServingPolicy, rank_lists

log = logging.getLogger(__name__)

PACKAGE = Path(__file__).resolve().parents[1]  # src/hrlrec
UNREADABLE = (OSError, KeyError, ValueError, zipfile.BadZipFile)  # what np.load raises on a missing or bad file


@functools.cache
def code_fingerprint() -> str:
    """sha256 over the package's Python sources (path and bytes, in path order)."""
    digest = hashlib.sha256()
    for path in sorted(PACKAGE.rglob("*.py")):
        digest.update(str(path.relative_to(PACKAGE)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _update(digest: hashlib._Hash, array: np.ndarray | torch.Tensor) -> None:
    a = array.detach().cpu().numpy() if isinstance(array, torch.Tensor) else np.asarray(array)
    a = np.ascontiguousarray(a)
    digest.update(f"{a.dtype.str}{a.shape}".encode())
    digest.update(memoryview(a).cast("B"))


def ranking_key(
    model: nn.Module, spec: ModelSpec, stream: Stream, lists: np.ndarray, pool: np.ndarray,
    policy: ServingPolicy, seed: int,
) -> str:  # fmt: skip
    """sha256 of everything `rank_lists` reads for these arguments (see the module's docstring)."""
    digest = hashlib.sha256()
    digest.update(code_fingerprint().encode())
    digest.update(f"{type(model).__module__}.{type(model).__qualname__}".encode())
    digest.update(spec.model_dump_json().encode())
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        _update(digest, tensor)
    for array in (stream.cat, stream.dense, stream.offset, stream.length, stream.user_start, stream.split,
                  lists, pool):  # fmt: skip
        _update(digest, array)
    digest.update(json.dumps(stream.cat_columns).encode())
    digest.update(json.dumps([policy.channel_choice, policy.epsilon, int(seed)]).encode())
    return digest.hexdigest()


def _read(path: Path) -> Ranking | None:
    try:
        with np.load(path, allow_pickle=False) as kept:
            return Ranking(*(kept[f] for f in FIELDS))
    except UNREADABLE as exc:  # absent, removed meanwhile, or damaged: rank again
        if path.exists():
            log.warning("%s: unreadable kept ranking (%s); ranking again", path, exc)
        return None


def _write(path: Path, ranking: Ranking) -> None:
    day = path.parent
    if day.parent.is_dir():
        for other in day.parent.iterdir():
            if other.name.startswith("ds=") and other != day:
                shutil.rmtree(other, ignore_errors=True)
    buffer = io.BytesIO()
    np.savez(buffer, **{f: getattr(ranking, f) for f in FIELDS})
    atomic.write_bytes(path, buffer.getvalue())


def ranked(
    day: Path | None, model: nn.Module, spec: ModelSpec, stream: Stream, lists: np.ndarray, pool: np.ndarray,
    policy: ServingPolicy, seed: int,
) -> Ranking:  # fmt: skip
    """`rank_lists` of `model` over `lists`, kept in the day's memo folder `day` (None: nothing kept)."""
    path = day / f"{ranking_key(model, spec, stream, lists, pool, policy, seed)}.npz" if day is not None else None
    if path is not None and (kept := _read(path)) is not None:
        log.info("ranking of %d requests taken from %s", len(lists), path)
        return kept
    ranker = Ranker(TorchBackend(model), stream.cat_columns, spec.list_len)
    ranking = rank_lists(ranker, stream, lists, pool, spec.history_len, policy, seed)
    if path is not None:
        _write(path, ranking)
    return ranking
