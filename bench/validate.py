"""Benchmark: validate a large simulated day with the Great Expectations suites.

    python bench/validate.py               # ~1M rows (profile full)
    python bench/validate.py --scale 5     # ~5M rows (validated in chunks of validation.chunk_rows)

Prints rows/s and the peak RSS of the validating process (set-up of the day
runs in a separate process so its memory is not counted). Importing Great
Expectations takes seconds once per process (an Airflow worker or a CLI call
pays it once a day); it is timed apart and shown beside, so the rows/s figure
is the checking and the Data Docs, and the second figure is a cold process.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DAY = "2026-11-02"


def _prepare(root: Path, scale: float) -> None:
    from hrlrec import config, ingest
    from hrlrec.simulator import land
    from hrlrec.workspace import Workspace

    ws = Workspace(root, config.load(None, ["profile=full", f"simulator.scale={scale}"]))
    land.run(ws, DAY, backfill=False)
    ingest.run(ws, DAY, backfill=False)


def _validate(root: Path, scale: float) -> dict[str, float]:
    import logging

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    t0 = time.perf_counter()
    import great_expectations  # noqa: F401  (once per process: timed apart from the checking)

    import_s = time.perf_counter() - t0
    from hrlrec import config, validation
    from hrlrec.workspace import Workspace

    ws = Workspace(root, config.load(None, ["profile=full", f"simulator.scale={scale}"]))
    t0 = time.perf_counter()
    result = validation.run(ws, DAY, backfill=False)
    seconds = time.perf_counter() - t0
    return {
        "rows": result.rows,
        "seconds": seconds,
        "import_s": import_s,
        "checks": result.evaluated,
        "verdict": result.verdict,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--phase", choices=["prepare", "validate"], help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase == "prepare":
        _prepare(args.root, args.scale)
        return
    if args.phase == "validate":
        print(json.dumps(_validate(args.root, args.scale)))
        return
    with tempfile.TemporaryDirectory(prefix="hrlrec-bench-") as tmp:
        base = [sys.executable, __file__, "--root", tmp, "--scale", str(args.scale)]
        subprocess.run([*base, "--phase", "prepare"], check=True)
        out = subprocess.run([*base, "--phase", "validate"], check=True, capture_output=True, text=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"validated {r['rows']:,} rows with {r['checks']} checks in {r['seconds']:.1f}s: {r['verdict']}")
    print(
        f"throughput {r['rows'] / r['seconds']:,.0f} rows/s (Data Docs included; importing Great Expectations, "
        f"{r['import_s']:.1f}s once per process, not: {r['rows'] / (r['seconds'] + r['import_s']):,.0f} rows/s "
        f"with it), peak RSS {r['peak_rss_mb']:,.0f} MB"
    )


if __name__ == "__main__":
    main()
