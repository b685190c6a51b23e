"""Benchmark: simulate and ingest a large day; print rows/s, peak RSS and overhead.

    python bench/ingest.py                  # ~1M rows (profile full)
    python bench/ingest.py --scale 5        # ~5M rows, to check ingestion's memory bound

Each phase runs in its own process so that its peak RSS is its own. The
baseline is a bare pyarrow stream of the same files (read batches, write zstd
Parquet) with no contract checks: the ratio is what the checks cost.
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


def _phase(name: str, work: Path, scale: float) -> dict[str, float]:
    from hrlrec import config, ingest, simulator
    from hrlrec.workspace import Workspace

    ws = Workspace(work, config.load(None, ["profile=full", f"simulator.scale={scale}"]))
    t0 = time.perf_counter()
    if name == "simulate":
        rows = simulator.run(ws.cfg, DAY, 1, ws.layout.landing).rows
    elif name == "ingest":
        rows = ingest.run(ws, DAY, backfill=False).rows
    else:
        rows = _bare_copy(ws.layout.landing_day(DAY), work / "bare")
    seconds = time.perf_counter() - t0
    return {"rows": rows, "seconds": seconds, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _bare_copy(src: Path, dst: Path) -> int:
    import pyarrow.parquet as pq

    from hrlrec.ingest import BATCH_ROWS

    dst.mkdir(parents=True, exist_ok=True)
    rows = 0
    for f in sorted(src.glob("*.parquet")):
        reader = pq.ParquetFile(f)
        with pq.ParquetWriter(dst / f.name, reader.schema_arrow, compression="zstd") as writer:
            for batch in reader.iter_batches(batch_size=BATCH_ROWS):
                writer.write_batch(batch)
                rows += batch.num_rows
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="simulator.scale on the full profile (1 = ~1M rows)")
    parser.add_argument("--phase", choices=["simulate", "ingest", "bare"], help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(_phase(args.phase, args.work, args.scale)))
        return
    with tempfile.TemporaryDirectory(prefix="hrlrec-bench-") as tmp:
        results = {}
        for phase in ("simulate", "ingest", "bare"):
            cmd = [sys.executable, __file__, "--phase", phase, "--work", tmp, "--scale", str(args.scale)]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True)
            results[phase] = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"{'phase':<10}{'rows':>12}{'seconds':>10}{'rows/s':>14}{'peak RSS MB':>14}")
    for phase, r in results.items():
        rate = r["rows"] / r["seconds"]
        print(f"{phase:<10}{r['rows']:>12,}{r['seconds']:>10.2f}{rate:>14,.0f}{r['peak_rss_mb']:>14,.0f}")
    ratio = results["ingest"]["seconds"] / results["bare"]["seconds"]
    print(f"ingest / bare pyarrow read+write time: {ratio:.2f}x")


if __name__ == "__main__":
    main()
