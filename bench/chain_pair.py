"""Two 14-day chains of bench/policy.py, paired day by day: what a setting changed in the served lists.

    python bench/chain_pair.py NEW.json OLD.json [NEW2.json OLD2.json ...]

Why: a setting that changes training (for example `model.encoder_sharing`) is adopted only after
its 14-day chain is compared with the default's on the same simulated world and days
(docs/results.md). Both chains see the same logs each day, so the day-by-day difference removes
the days' own swings; one chain's figures alone cannot say whether the setting moved them.

Prints each chain's second week against the policy issue's targets (bench/policy.py's summary),
then, as mean and 95 % t-interval of the per-day differences (NEW - OLD):

- week 2 (the days both chains have a stability baseline for): the worst channel's mean and max
  relative change, in points;
- all days: true clicks per list of the candidate's lists, relative (NEW / OLD - 1), and the
  candidate's test-day AUC.

An interval that holds 0 is "no difference". The days are not independent draws (each day's model
is retrained on a window that overlaps the last), so the interval is a guide, not a test.
Nothing is trained: it reads the two chains' JSON (`bench/policy.py --json`).

With several pairs (one per training seed: NEW and OLD trained with the same seed), each pair is
printed as above and then the pairs together. Every day of a chain trains with one seed, so a
chain is one seed's draw 14 times and its day intervals leave the seeds' spread out; across
pairs the unit is the seed: each pair's mean difference, their mean and a 95 % t-interval over
the pairs (k - 1 degrees of freedom, wide for few seeds), and the week-2 PASS days summed. The
days of all pairs pooled are printed too, as a reference only.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
from pathlib import Path
from typing import Any

from hrlrec.evaluation.intervals import t_interval

_spec = importlib.util.spec_from_file_location("policy", Path(__file__).with_name("policy.py"))
policy = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(policy)

WEEK = 7  # bench/policy.py's first week: no stability baseline a week back yet


def load_rows(path: Path) -> list[dict[str, Any]]:
    """The day rows of one chain's JSON, with a clear error when it is not one."""
    try:
        body = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise SystemExit(f"{path}: not a readable chain JSON ({exc})") from exc
    rows = body.get("rows") if isinstance(body, dict) else None
    if not rows:
        raise SystemExit(f"{path}: no 'rows' (write it with `bench/policy.py --json`)")
    return rows


def clicks(row: dict[str, Any]) -> float | None:
    """True clicks per list of the candidate's lists (older JSONs kept a bare number)."""
    value = row.get("clicks_candidate")
    return value.get("mean") if isinstance(value, dict) else value


def paired(new: list[dict[str, Any]], old: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per-day differences NEW - OLD and their t-intervals; the chains must cover the same days."""
    days_new, days_old = [r["ds"] for r in new], [r["ds"] for r in old]
    if days_new != days_old:
        raise ValueError(f"the chains cover different days: {days_new[0]}..{days_new[-1]} ({len(days_new)}) "
                         f"and {days_old[0]}..{days_old[-1]} ({len(days_old)})")  # fmt: skip
    week2 = [(a, b) for a, b in zip(new[WEEK:], old[WEEK:], strict=True)
             if a["mean_change"] is not None and b["mean_change"] is not None]  # fmt: skip
    both = [(a, b) for a, b in zip(new, old, strict=True) if clicks(a) is not None and clicks(b) is not None]
    scored = [(a, b) for a, b in zip(new, old, strict=True) if a["auc"] is not None and b["auc"] is not None]
    diffs = {
        "week2_worst_mean_change_points": [100 * (a["mean_change"] - b["mean_change"]) for a, b in week2],
        "week2_worst_max_change_points": [100 * (a["max_change"] - b["max_change"]) for a, b in week2],
        "clicks_per_list_percent": [100 * (clicks(a) / clicks(b) - 1) for a, b in both],
        "auc": [a["auc"] - b["auc"] for a, b in scored],
    }
    return {key: entry(values) for key, values in diffs.items()}


def entry(values: list[float]) -> dict[str, Any]:
    """Mean and 95 % t-interval of per-day (or per-seed) differences, and how many are below 0."""
    if not values:
        return {"days": 0, "mean": None, "low": None, "high": None, "new_below": 0, "values": []}
    mean, low, high = t_interval(values)
    return {"days": len(values), "mean": mean, "low": low, "high": high,
            "new_below": sum(v < 0 for v in values), "values": list(values)}  # fmt: skip


def across_seeds(pairs: list[dict[str, dict[str, Any]]]) -> dict[str, dict[str, dict[str, Any]]]:
    """Several pairs (one per seed) together: per measure, the pairs' means as units, and all days pooled."""
    out = {}
    for key in pairs[0]:
        means = [p[key]["mean"] for p in pairs if p[key]["days"]]
        out[key] = {"seeds": entry(means), "pooled_days": entry([v for p in pairs for v in p[key]["values"]])}
    return out


def describe(key: str, stats: dict[str, Any], unit: str = "days") -> str:
    """One line: mean [low, high], and whether the interval holds 0."""
    if not stats["days"]:
        return f"{key}: no paired {unit}"
    digits = 4 if key == "auc" else 2
    lo, hi = stats["low"], stats["high"]
    span = f"no interval (one {unit[:-1]})" if math.isnan(lo) else f"[{lo:+.{digits}f}, {hi:+.{digits}f}]"
    verdict = "no difference" if math.isnan(lo) or lo <= 0 <= hi else ("higher" if lo > 0 else "lower")
    return (f"{key}: {stats['mean']:+.{digits}f} {span} over {stats['days']} {unit}, NEW below on "
            f"{stats['new_below']}: {verdict}")  # fmt: skip


def week_line(name: str, rows: list[dict[str, Any]], path: Path) -> tuple[str, int, int]:
    """A chain's week 2 against the targets as one line, with its PASS days and days."""
    week = policy.summary(rows)  # the week-2 figures bench/policy.py judges against the targets
    aucs = [r["auc"] for r in rows if r["auc"] is not None]
    worst_mean, worst_max = week["week2_worst_mean_change"], week["week2_worst_max_change"]
    line = (f"{name} {path.name}: week 2 PASS on {week['week2_pass']} of {week['week2_days']}, worst mean change "
            f"{math.nan if worst_mean is None else worst_mean:.1%}, "
            f"worst max {math.nan if worst_max is None else worst_max:.1%}, "
            f"mean AUC {sum(aucs) / max(len(aucs), 1):.4f}")  # fmt: skip
    return line, week["week2_pass"], week["week2_days"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("chains", type=Path, nargs="+", metavar="NEW OLD", help="pairs of chain JSONs")
    args = parser.parse_args()
    if len(args.chains) % 2:
        raise SystemExit(f"chains come in pairs (NEW OLD ...); got {len(args.chains)} files")
    results, passes = [], {"NEW": [0, 0], "OLD": [0, 0]}
    for i in range(0, len(args.chains), 2):
        if i:
            print()
        new, old = load_rows(args.chains[i]), load_rows(args.chains[i + 1])
        for name, rows, path in (("NEW", new, args.chains[i]), ("OLD", old, args.chains[i + 1])):
            line, passed, days = week_line(name, rows, path)
            passes[name][0] += passed
            passes[name][1] += days
            print(line)
        try:
            results.append(paired(new, old))
        except ValueError as exc:
            raise SystemExit(f"{args.chains[i].name} and {args.chains[i + 1].name}: {exc}") from exc
        for key, stats in results[-1].items():
            print(describe(key, stats))
    if len(results) > 1:
        print(f"\nThe {len(results)} pairs together (unit: the pair's seed); week 2 PASS: NEW {passes['NEW'][0]} of "
              f"{passes['NEW'][1]}, OLD {passes['OLD'][0]} of {passes['OLD'][1]}")  # fmt: skip
        for key, both in across_seeds(results).items():
            print(describe(key, both["seeds"], "seeds") + "; per seed " +
                  ", ".join(f"{v:+.{4 if key == 'auc' else 2}f}" for v in both["seeds"]["values"]))  # fmt: skip
            print("  reference, days pooled: " + describe(key, both["pooled_days"]))


if __name__ == "__main__":
    main()
