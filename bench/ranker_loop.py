"""Benchmark: the ranker's own time per request, without the graphs (what numpy costs around them).

    python bench/ranker_loop.py [--workspace DIR] [--requests 300] [--reps 5] [-S key=value ...]

A request's latency is its graph calls plus the ranking loop's numpy work between them
(hrlrec.serving.ranker), which is the same for both runtimes: at one request it was a quarter
to two fifths of onnxruntime's time on 2026-12-07, so it caps the PyTorch / onnxruntime ratio
that bench/serve.py reports. This bench ranks each request once on onnxruntime, one intra-op thread,
recording every graph output, then ranks it again `--reps` times replaying those outputs in order
(no graph runs), and prints the mean milliseconds per request of each rep and of the recorded pass.
The replayed passes take the same decisions as the recorded one (it checks the lists are equal).
A replayed loop runs back to back with warm caches and no graph work in between, so its figure is
a lower bound on what the loop costs inside a real request; the recorded pass is one cold pass
(onnxruntime's first runs, the pool's channel tables made once), not a steady-state latency: for
that, bench/serve.py.
Needs a workspace whose candidate for `ds` is trained and exported, as bench/serve.py does.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np


class Replay:
    """A backend that records a real backend's outputs per request, then hands them back in order."""

    def __init__(self, real) -> None:
        self.real, self.name = real, f"replay-of-{real.name}"
        self.recorded: list[tuple[np.ndarray, ...]] = []
        self.recording, self.next = True, 0

    def run(self, graph: str, *inputs: np.ndarray) -> tuple[np.ndarray, ...]:
        if self.recording:
            self.recorded.append(self.real.run(graph, *inputs))
            return self.recorded[-1]
        out = self.recorded[self.next]
        self.next += 1
        return out

    def replay(self, recorded: list[tuple[np.ndarray, ...]]) -> None:
        self.recording, self.recorded, self.next = False, recorded, 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workspace", type=Path, default=Path(".work/demo"))
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("-S", dest="overrides", action="append", default=[])
    args = parser.parse_args()

    from hrlrec.candidates import load_candidate
    from hrlrec.serving.backends import OrtBackend
    from hrlrec.serving.ranker import Draws, Ranker, ServingPolicy, day_requests, requests_from_lists
    from hrlrec.workspace import Workspace

    ws = Workspace.open(args.workspace, overrides=args.overrides)
    cfg, ds = ws.cfg, ws.cfg.ds
    candidate = load_candidate(ws, ds)
    stream, spec = candidate.stream, candidate.spec
    sample, pool = day_requests(stream, cfg.seed, args.requests, 200)
    requests = requests_from_lists(stream, sample, spec.history_len)
    policy = ServingPolicy.of(cfg.serving)
    draws = Draws.seeded(cfg.seed, requests.size, spec.list_len)
    backend = Replay(OrtBackend(ws.layout.export_day(ds), device="cpu", threads=1))
    ranker = Ranker(backend, stream.cat_columns, spec.list_len)
    prepared = ranker.prepare(pool)
    one = [(requests.take(slice(i, i + 1)), draws.take(slice(i, i + 1))) for i in range(requests.size)]

    recorded, lists = [], []
    t0 = time.perf_counter()
    for request, draw in one:
        backend.recording, backend.recorded = True, []
        lists.append(ranker.rank(request, prepared, policy, draw).items)
        recorded.append(backend.recorded)
    with_graphs = (time.perf_counter() - t0) / len(one) * 1e3
    reps = []
    for _ in range(args.reps):
        t0 = time.perf_counter()
        for (request, draw), outputs, items in zip(one, recorded, lists, strict=True):
            backend.replay(outputs)
            if not np.array_equal(ranker.rank(request, prepared, policy, draw).items, items):
                raise SystemExit("a replayed ranking differs from its recorded one: the loop is not deterministic")
        reps.append((time.perf_counter() - t0) / len(one) * 1e3)
    print(f"workspace {ws.root}, day {ds}: {len(one)} requests, serving policy {policy.channel_choice}, "
          f"epsilon {policy.epsilon}")  # fmt: skip
    print(f"with onnxruntime's graphs (first pass, recording): {with_graphs:.3f} ms/request")
    print(f"ranking loop alone, replayed ({args.reps} reps): {' '.join(f'{r:.3f}' for r in reps)} ms/request; "
          f"median {np.median(reps):.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
