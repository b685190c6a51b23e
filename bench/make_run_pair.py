"""`make run` of two commits side by side on one machine, each alone on a fresh clone (issue 15 item 6).

    python bench/make_run_pair.py NEW OLD [--old-first] [--repo .] [--into DIR] [--json OUT]
    python bench/make_run_pair.py --logs NEW.log OLD.log

Clones the repository at NEW and at OLD into DIR (default: a new temporary folder), then runs
`make run` in each, one after the other and never at once (NEW first, as the pairs in
docs/results.md were run; a machine whose speed drifts favours one side, so repeat the pair with
`--old-first` before trusting a ratio near the target), and prints:

- each run's exit status, whole wall time (venv build included) and its eight days through Airflow;
- the ratios NEW / OLD on both measures (the item's target: <= 0.5);
- the days whose verdicts differ (validation, AUC, stability and export gates, Airflow state): the item
  asks for the same verdicts;
- whether the two runs published the same model ids, which they must on one machine when the
  change is meant to leave HRL-Rec's numbers alone (ids differ across kinds of CPU, not within one).

Machines of one kind differ by up to 2x, so only a pair from one machine is a ratio; never divide
one machine's run by another's. Nothing else heavy should run meanwhile: with two cores, a second
job makes PyTorch's intra-op threads wait on each other.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

AIRFLOW_DAYS = re.compile(r"^ran (\d+) of (\d+) days through Airflow in (\d+)s$", re.MULTILINE)
PUBLISHED = re.compile(r"^(\d{4}-\d{2}-\d{2}) \w{3} .*?\s(\d{4}-\d{2}-\d{2}-[0-9a-f]{8})\s", re.MULTILINE)
_V = r"(?:PASS|WARN|FAIL|-)"
# A day's row: validation, then the AUC, stability (* = no baseline a week back) and export gates, the Airflow state.
VERDICTS = re.compile(
    rf"^(\d{{4}}-\d{{2}}-\d{{2}}) \w{{3}} +\S+ +({_V}) +.*? +({_V}) +({_V}\*?) +({_V}) +\S+ +(\w+) \(\d+s\)$",
    re.MULTILINE,
)


def parsed(output: str) -> dict[str, Any]:
    """What `make run` printed: days run, days asked, Airflow seconds, the model id published per day, and
    each day's verdicts (validation, AUC, stability, export gates and the Airflow run's state)."""
    days = AIRFLOW_DAYS.search(output)
    if days is None:
        raise ValueError("no 'ran N of M days through Airflow in Ss' line: the run did not reach its summary")
    ran, asked, seconds = (int(g) for g in days.groups())
    return {"days_ran": ran, "days_asked": asked, "airflow_seconds": seconds,
            "published": dict(PUBLISHED.findall(output)),
            "verdicts": {d: " ".join(v) for d, *v in VERDICTS.findall(output)}}  # fmt: skip


def run_one(repo: Path, ref: str, into: Path) -> dict[str, Any]:
    """Clone `repo` at `ref` into `into/ref` and run `make run` there, alone; the run's figures."""
    where = into / ref
    subprocess.run(["git", "clone", "--quiet", str(repo), str(where)], check=True)
    subprocess.run(["git", "-C", str(where), "checkout", "--quiet", ref], check=True)
    commit = subprocess.run(["git", "-C", str(where), "rev-parse", "--short", "HEAD"], check=True,
                            capture_output=True, text=True).stdout.strip()  # fmt: skip
    print(f"{ref} ({commit}): make run in {where} ...", flush=True)
    t0 = time.perf_counter()
    done = subprocess.run(["make", "run"], cwd=where, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    (into / f"{ref}.log").write_text(done.stdout + done.stderr)
    result = {"ref": ref, "commit": commit, "rc": done.returncode, "wall_seconds": round(wall)}
    try:
        result |= parsed(done.stdout)
    except ValueError as exc:
        result["error"] = f"{exc} (log: {into / f'{ref}.log'})"
    print(json.dumps(result), flush=True)
    return result


def compared(new: dict[str, Any], old: dict[str, Any]) -> dict[str, Any]:
    """The ratios NEW / OLD, and the days whose published ids or verdicts differ."""
    out: dict[str, Any] = {}
    if "wall_seconds" in new and "wall_seconds" in old:
        out["wall_ratio"] = round(new["wall_seconds"] / old["wall_seconds"], 3)
    if "airflow_seconds" in new and "airflow_seconds" in old:
        out["airflow_ratio"] = round(new["airflow_seconds"] / old["airflow_seconds"], 3)
        days = sorted(set(new["published"]) | set(old["published"]))
        out["ids_differ"] = [d for d in days if new["published"].get(d) != old["published"].get(d)]
        nv, ov = new.get("verdicts", {}), old.get("verdicts", {})
        out["verdicts_differ"] = {
            d: [nv.get(d), ov.get(d)] for d in sorted(set(nv) | set(ov)) if nv.get(d) != ov.get(d)
        }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("new", help="a commit, or with --logs the NEW run's saved log")
    parser.add_argument("old", help="a commit, or with --logs the OLD run's saved log")
    parser.add_argument("--logs", action="store_true",
                        help="compare two saved logs (DIR/REF.log) instead of running; no wall time")  # fmt: skip
    parser.add_argument("--old-first", action="store_true", help="run OLD before NEW")
    parser.add_argument("--repo", type=Path, default=Path("."))
    parser.add_argument("--into", type=Path, default=None, help="default: a new temporary folder")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.logs:
        new, old = ({"log": p, **parsed(Path(p).read_text())} for p in (args.new, args.old))
        print(json.dumps(compared(new, old)))
        return 0
    if args.new == args.old:
        parser.error(f"NEW and OLD are both {args.new!r}: a pair needs two commits")
    into = (args.into or Path(tempfile.mkdtemp(prefix="hrlrec-pair-"))).resolve()
    into.mkdir(parents=True, exist_ok=True)
    runs = {}
    for ref in [args.old, args.new] if args.old_first else [args.new, args.old]:
        runs[ref] = run_one(args.repo.resolve(), ref, into)
    new, old = runs[args.new], runs[args.old]
    report = {"new": new, "old": old, **compared(new, old)}
    print(json.dumps({k: v for k, v in report.items() if k not in ("new", "old")}))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    return 0 if new["rc"] == old["rc"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
