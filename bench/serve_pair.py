"""`bench/serve.py` of two source trees side by side on one machine, alternated and pinned (issue 15 item 3).

    python bench/serve_pair.py --new TREE:WORKSPACE --old TREE:WORKSPACE [--ds D] [--rounds 6]
                               [--core 1] [--requests 500] [--json OUT]
    python bench/serve_pair.py --logs DIR          # the table again from a folder of kept outputs

TREE is a checkout of the commit (a `git worktree add` of it), WORKSPACE a workspace whose candidate
for `ds` that commit trained and exported itself (the serving graphs differ between commits, so
each side serves its own). Each round runs both sides' own `bench/serve.py`, one after the other and
never at once, with `PYTHONPATH=TREE/src` and the same interpreter, pinned to one core with
`taskset -c CORE`; the order alternates between rounds (a machine whose speed drifts would
otherwise favour one side). Prints every run's figures and, paired by round:

- NEW / OLD onnxruntime p50 and p99 (one request, one intra-op thread; the item's target: p99 <= 0.7);
- NEW / OLD onnxruntime requests/s in batches of 256 (target >= 2.5; pinned, so one core for both);
- within NEW, PyTorch eager / onnxruntime p50 (target >= 3);

each as a mean with a 95 % t-interval over the rounds. A ratio whose interval holds the target is
"not shown", never a pass. Machines of one kind differ by up to 2x, so only a pair from one machine is
a ratio. Nothing else heavy should run meanwhile.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from hrlrec.evaluation.intervals import t_interval

# A latency row: runtime, backend (provider), p50, p99; a throughput row: runtime, backend, requests/s.
LATENCY = re.compile(r"^(onnxruntime|pytorch eager)\s+(\S+)\s+([\d.]+)\s+([\d.]+)\s*$", re.MULTILINE)
THROUGHPUT = re.compile(r"^(onnxruntime|pytorch eager)\s+(\S+)\s+(\d+)\s*$", re.MULTILINE)


def parsed(output: str) -> dict[str, float]:
    """One `bench/serve.py` table: p50/p99 ms per runtime and requests/s per runtime."""
    latency = {name: (float(p50), float(p99)) for name, _, p50, p99 in LATENCY.findall(output)}
    throughput = {name: float(rps) for name, _, rps in THROUGHPUT.findall(output)}
    if set(latency) != {"onnxruntime", "pytorch eager"} or set(throughput) != set(latency):
        raise ValueError("bench/serve.py printed no complete table (both runtimes' latency and throughput rows)")
    return {"ort_p50": latency["onnxruntime"][0], "ort_p99": latency["onnxruntime"][1],
            "torch_p50": latency["pytorch eager"][0], "torch_p99": latency["pytorch eager"][1],
            "ort_rps": throughput["onnxruntime"], "torch_rps": throughput["pytorch eager"]}  # fmt: skip


def verdict(mean_lo_hi: tuple[float, float, float], target: float, at_most: bool) -> str:
    """'met' when the whole interval is on the target's good side, 'not met' when all of it is on the other."""
    _, lo, hi = mean_lo_hi
    good = hi <= target if at_most else lo >= target
    bad = lo > target if at_most else hi < target
    return "met" if good else "not met" if bad else "not shown (the interval holds the target)"


def summary(rounds: list[dict[str, dict[str, float]]]) -> dict[str, Any]:
    """The paired ratios over rounds, with intervals and verdicts against the item's targets."""
    keys = ("ort_p50", "ort_p99", "ort_rps")
    new_old = {key: t_interval([r["new"][key] / r["old"][key] for r in rounds]) for key in keys}
    torch_ort = t_interval([r["new"]["torch_p50"] / r["new"]["ort_p50"] for r in rounds])
    return {
        "rounds": len(rounds),
        "new_over_old": new_old,
        "new_torch_over_ort_p50": torch_ort,
        "verdicts": {
            "onnxruntime p99 new / old <= 0.7": verdict(new_old["ort_p99"], 0.7, at_most=True),
            "onnxruntime requests/s new / old >= 2.5": verdict(new_old["ort_rps"], 2.5, at_most=False),
            "PyTorch / onnxruntime p50 (new) >= 3": verdict(torch_ort, 3.0, at_most=False),
        },
    }


def run_side(tree: Path, workspace: Path, ds: str, core: int, requests: int) -> str:
    """One side's `bench/serve.py`, pinned to `core`, its own sources first on the path; its output."""
    env = {**os.environ, "PYTHONPATH": str(tree / "src")}
    command = ["taskset", "-c", str(core), sys.executable, str(tree / "bench" / "serve.py"),
               "--workspace", str(workspace), "--requests", str(requests), "-S", f"ds={ds}"]  # fmt: skip
    done = subprocess.run(command, env=env, cwd=tree, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{tree}: bench/serve.py exited {done.returncode}:\n{done.stderr[-2000:]}")
    return done.stdout


def side(text: str) -> tuple[Path, Path]:
    tree, sep, workspace = text.partition(":")
    if not sep:
        raise argparse.ArgumentTypeError(f"{text!r}: give TREE:WORKSPACE")
    return Path(tree).resolve(), Path(workspace).resolve()


def printed(rounds: list[dict[str, dict[str, float]]]) -> dict[str, Any]:
    heads = ("ORT p50", "ORT p99", "PT p50", "PT p99")
    print(f"\n{'round':<7}{'side':<6}" + "".join(f"{h:>9}" for h in heads) + f"{'ORT req/s':>11}{'PT req/s':>10}")
    for i, r in enumerate(rounds, 1):
        for name in ("new", "old"):
            f = r[name]
            print(f"{i:<7}{name:<6}{f['ort_p50']:>9.2f}{f['ort_p99']:>9.2f}{f['torch_p50']:>9.2f}{f['torch_p99']:>9.2f}"
                  f"{f['ort_rps']:>11.0f}{f['torch_rps']:>10.0f}")  # fmt: skip
    out = summary(rounds)
    print(f"\nPaired over {out['rounds']} rounds, mean [95 % t-interval]:")
    for key, (m, lo, hi) in out["new_over_old"].items():
        print(f"  new / old {key}: {m:.2f} [{lo:.2f}, {hi:.2f}]")
    m, lo, hi = out["new_torch_over_ort_p50"]
    print(f"  new PyTorch / onnxruntime p50: {m:.2f} [{lo:.2f}, {hi:.2f}]")
    for target, said in out["verdicts"].items():
        print(f"  {target}: {said}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--new", type=side, help="TREE:WORKSPACE of the new side")
    parser.add_argument("--old", type=side, help="TREE:WORKSPACE of the old side")
    parser.add_argument("--ds", default="2026-11-08")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--core", type=int, default=1)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--logs", type=Path, default=None, help="re-table the outputs kept in this folder")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if args.logs is None and (args.new is None or args.old is None):
        parser.error("give --new and --old, or --logs")
    keep = args.logs or Path(tempfile.mkdtemp(prefix="hrlrec-serve-pair-"))
    rounds = []
    for i in range(args.rounds if args.logs is None else len(list(keep.glob("round*_new.txt")))):
        outputs = {}
        order = ("new", "old") if i % 2 == 0 else ("old", "new")
        for name in order:
            path = keep / f"round{i + 1}_{name}.txt"
            if args.logs is None:
                tree, workspace = getattr(args, name)
                path.write_text(run_side(tree, workspace, args.ds, args.core, args.requests))
                print(f"round {i + 1} {name} done", flush=True)
            outputs[name] = parsed(path.read_text())
        rounds.append(outputs)
    print(f"outputs kept in {keep}")
    out = printed(rounds)
    if args.json:
        args.json.write_text(json.dumps({"rounds": rounds, **out}, indent=2) + "\n")


if __name__ == "__main__":
    main()
