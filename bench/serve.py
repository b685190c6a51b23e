"""Benchmark: serving latency and throughput, onnxruntime vs PyTorch eager, same ranking code.

    python bench/serve.py [--workspace DIR] [--requests 300] [--device cpu|cuda] [--pool-per-request]
                          [-S key=value ...]

Needs a workspace whose candidate for `ds` is trained and exported (default:
the `make run` workspace .work/demo; `hrlrec export --ds D` makes one). Each
request is one user with 4 channels x 200 candidates, ranked into a 10-item
list step by step (hrlrec.serving.ranker) with the serving policy of params.yaml
(`serving.channel_choice`, `serving.epsilon`). The pool is the day's, prepared
once per runtime (Ranker.prepare: its item-tower half and channel tables), as a
server holding the day's pool would; `--pool-per-request` prepares it inside
every timed request instead, as the ranker did before 2026-12-06, to separate
that saving from the rest. Latency: one request at a time, one
intra-op thread for both runtimes, p50 and p99 over `--requests` requests
after a warm-up. Throughput: batches of 256 requests with the machine's
default threads. Prints one table.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np


def _percentiles(seconds: list[float]) -> tuple[float, float]:
    ms = np.array(seconds) * 1000
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 99))


def _latency(ranker, requests, pool, policy, draws, n: int, per_request: bool) -> list[float]:
    ranked = pool if per_request else ranker.prepare(pool)  # a raw pool is prepared inside every call

    def one(i: int):
        return ranker.rank(requests.take(slice(i, i + 1)), ranked, policy, draws.take(slice(i, i + 1)))

    for i in range(5):  # warm-up: allocators, ORT's first-run graph work
        one(i)
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        one(i)
        out.append(time.perf_counter() - t0)
    return out


def _throughput(ranker, requests, pool, policy, draws, batch: int) -> float:
    pool = ranker.prepare(pool)
    ranker.rank(requests.take(slice(0, batch)), pool, policy, draws.take(slice(0, batch)))  # warm-up
    t0 = time.perf_counter()
    done = 0
    for i in range(0, requests.size, batch):
        chunk = requests.take(slice(i, i + batch))
        ranker.rank(chunk, pool, policy, draws.take(slice(i, i + batch)))
        done += chunk.size
    return done / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workspace", type=Path, default=Path(".work/demo"))
    parser.add_argument("--requests", type=int, default=300, help="requests timed one at a time")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--pool-per-request", action="store_true", help="prepare the pool inside each timed request")
    parser.add_argument("-S", dest="overrides", action="append", default=[])
    args = parser.parse_args()

    import torch

    from hrlrec.candidates import load_candidate
    from hrlrec.serving.backends import OrtBackend, TorchBackend
    from hrlrec.serving.ranker import Draws, Ranker, ServingPolicy, day_requests, requests_from_lists
    from hrlrec.workspace import Workspace

    ws = Workspace.open(args.workspace, overrides=args.overrides)
    cfg, ds = ws.cfg, ws.cfg.ds
    candidate = load_candidate(ws, ds)
    stream, model, spec = candidate.stream, candidate.model, candidate.spec
    sample, pool = day_requests(stream, cfg.seed, max(args.requests + 5, 1024), 200)
    requests = requests_from_lists(stream, sample, spec.history_len)
    policy = ServingPolicy.of(cfg.serving)
    draws = Draws.seeded(cfg.seed, requests.size, spec.list_len)
    per_channel = np.bincount(pool[:, stream.column("channel")])[1:]
    print(f"workspace {ws.root}, day {ds}: pool {len(pool)} candidates ({'/'.join(map(str, per_channel))} per channel)")
    print(f"serving policy: channel {policy.channel_choice}, epsilon {policy.epsilon}; pool prepared "
          f"{'in every request' if args.pool_per_request else 'once per runtime'}")  # fmt: skip

    default_threads = torch.get_num_threads()
    rows = []
    for threads in (1, 0):  # 1: latency, one intra-op thread; 0: throughput, default threads
        torch.set_num_threads(threads or default_threads)
        backends = {
            "onnxruntime": OrtBackend(ws.layout.export_day(ds), device=args.device, threads=threads),
            "pytorch eager": TorchBackend(model, device=args.device),
        }
        for name, backend in backends.items():
            ranker = Ranker(backend, stream.cat_columns, spec.list_len)
            if threads == 1:
                p50, p99 = _percentiles(
                    _latency(ranker, requests, pool, policy, draws, args.requests, args.pool_per_request)
                )
                rows.append((name, backend.name, p50, p99, None))
            else:
                rows.append((name, backend.name, None, None, _throughput(ranker, requests, pool, policy, draws, 256)))

    print(f"\n{'runtime':<15}{'backend':<18}{'p50 ms':>9}{'p99 ms':>9}{'requests/s':>12}")
    for name, backend, p50, p99, rps in rows:
        cells = f"{p50:>9.2f}{p99:>9.2f}" if p50 is not None else f"{'':>18}"
        print(f"{name:<15}{backend:<18}{cells}{rps:>12.0f}" if rps else f"{name:<15}{backend:<18}{cells}")
    ort_p50, torch_p50 = rows[0][2], rows[1][2]
    ort_rps, torch_rps = rows[2][4], rows[3][4]
    print(f"\nPyTorch / onnxruntime p50 latency: {torch_p50 / ort_p50:.2f}x; "
          f"onnxruntime / PyTorch throughput: {ort_rps / torch_rps:.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
