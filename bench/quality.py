"""Quality tables (paper Tables 2 and 4) over seeds x test days, with paired-bootstrap intervals.

    python bench/quality.py [--workspace DIR] [--days 2026-11-06,2026-11-07,2026-11-08] [--seeds 7,8,9]
                            [--ablations] [--boot 200] [--json OUT] [-S key=value ...]

For every test day D: lands, ingests and validates D's window and builds its
dataset once (the world of params' `seed`); then, for every training seed
(`train.seed`: initial weights and batch order, same world and data), trains HRL-Rec and every baseline (and, with
`--ablations`, HRL-Rec once per ablation switch) and scores each on D's held-out
lists. Prints, per model, the mean test AUC over seeds x days and its
difference from LR and from the best baseline (by mean AUC) with a 95 %
paired-bootstrap interval: lists are resampled within each day, the same
resample for every model and seed, and the difference is averaged over seeds
and days in each resample; a seed's own noise enters through the average.
An interval that contains 0 is "no difference".

The bench runs in its own workspace (default: a new temporary folder) and never
touches another's candidates. Every setting comes from params.yaml (chosen on
validation days); no choice is made here.

A full table is hours of CPU (9 models x 3 seeds x 3 days), so every finished
(day, seed) run is kept in WORKSPACE/quality-runs/ with a fingerprint of the
code under src/hrlrec and of the run's settings; a later call with the same
workspace reuses the runs whose fingerprint still matches and trains only the
rest. Runs go seed by seed over all days, so a stopped bench has covered every
day before it repeats one. `--summarise` prints the table from the kept runs
only (what exists so far), training nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

import hrlrec
from hrlrec import config, metrics, pipeline, train
from hrlrec.candidates import load_for
from hrlrec.data import batches
from hrlrec.train.loop import predict
from hrlrec.workspace import Workspace

ABLATIONS = {
    "w/o GRU (mean pooling + dense)": ["model.use_gru=false"],
    "w/o self-attention (dense)": ["model.use_attention=false"],
    "gamma = 0": ["profiles.small.gamma=0", "profiles.full.gamma=0"],
    "w/o similarity loss L_s": ["model.use_similarity_loss=false"],
    "w/o supervised loss L_c": ["model.use_supervised_loss=false"],
    "paper loss weights 5:5:1:1, beta 1": ["model.loss_weights=[5,5,1,1]", "model.beta=1"],
}


def scores(ws: Workspace, ds: str, name: str, stream: batches.Stream) -> tuple[np.ndarray, np.ndarray]:
    """Labels and click probabilities of the candidate `name` of `ds` on its test lists, in stream row order."""
    loaded = load_for(ws.layout.candidate_weights(ds, name), stream)
    pred = predict(loaded.model, stream, stream.lists("test"))
    return np.asarray(pred.labels), np.asarray(pred.probs)


def list_of_rows(stream: batches.Stream) -> np.ndarray:
    """For each test impression (stream row order), the index of its list among the test lists."""
    lists = stream.lists("test")
    return np.repeat(np.arange(len(lists)), stream.length[lists])


def code_fingerprint() -> str:
    """Digest of every source file of the package: a kept run is reused only by the code that made it."""
    digest = hashlib.sha256()
    package = Path(hrlrec.__file__).parent
    for path in sorted(package.rglob("*")):
        if path.suffix in (".py", ".yaml") and path.is_file():
            digest.update(str(path.relative_to(package)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def run_fingerprint(code: str, overrides: list[str], ds: str, seed: int, variants: dict[str, list[str]]) -> str:
    """What decides a (day, seed) run's numbers: the code, the settings, the day, the seed and the variants."""
    text = json.dumps({"code": code, "overrides": overrides, "ds": ds, "seed": seed, "variants": variants},
                      sort_keys=True)  # fmt: skip
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def kept_run(folder: Path, ds: str, seed: int, fingerprint: str) -> dict[str, Any] | None:
    """The run kept for (ds, seed) when its fingerprint matches, else None (and say why when one exists)."""
    path = folder / f"{ds}_seed{seed}.npz"
    if not path.exists():
        return None
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["meta"]))
        if meta["fingerprint"] != fingerprint:
            print(f"{ds} seed {seed}: the kept run was made by other code or settings; training again", flush=True)
            return None
        probs = {m: data[f"probs/{m}"] for m in meta["models"]}
        return {"day": ds, "seed": seed, "group": data["group"], "labels": data["labels"], "probs": probs,
                "epochs": {m: tuple(v) for m, v in meta["epochs"].items()}, "code": meta["code"]}  # fmt: skip


def keep_run(folder: Path, run: dict[str, Any], fingerprint: str, code: str) -> None:
    """Write a finished run atomically (a killed bench leaves no half run to reuse)."""
    folder.mkdir(parents=True, exist_ok=True)
    meta = {"fingerprint": fingerprint, "code": code, "models": list(run["probs"]), "epochs": run["epochs"]}
    arrays = {"labels": run["labels"], "group": run["group"], "meta": np.array(json.dumps(meta)),
              **{f"probs/{m}": p for m, p in run["probs"].items()}}  # fmt: skip
    tmp = folder / f".{run['day']}_seed{run['seed']}.tmp.npz"
    np.savez(tmp, **arrays)
    tmp.replace(folder / f"{run['day']}_seed{run['seed']}.npz")


def kept_runs(folder: Path) -> list[dict[str, Any]]:
    """Every kept run in `folder`, whatever made it (for --summarise)."""
    runs = []
    for path in sorted(folder.glob("*_seed*.npz")):
        ds, seed = path.stem.split("_seed")
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
        run = kept_run(folder, ds, int(seed), meta["fingerprint"])
        if run is not None:
            runs.append(run)
    return runs


def paired_bootstrap(runs: list[dict[str, Any]], models: list[str], base: str, n_boot: int, seed: int = 0):
    """Mean AUC difference of each model from `base` over runs, with a percentile interval.

    Each run is {day, labels, probs: {model: array}, group}; lists are resampled per day, the same
    resample for every model and seed of that day.
    """
    rng = np.random.default_rng(seed)
    days = sorted({r["day"] for r in runs})
    by_day = {d: [r for r in runs if r["day"] == d] for d in days}
    point = {m: np.mean([metrics.auc(r["labels"], r["probs"][m]) - metrics.auc(r["labels"], r["probs"][base])
                         for r in runs]) for m in models}  # fmt: skip
    draws = {m: [] for m in models}
    for _ in range(n_boot):
        diffs = {m: [] for m in models}
        for d in days:
            group = by_day[d][0]["group"]
            n_lists = int(group.max()) + 1
            counts = np.bincount(rng.integers(0, n_lists, n_lists), minlength=n_lists)
            weight = counts[group]
            keep = weight > 0
            idx = np.repeat(np.flatnonzero(keep), weight[keep])
            for r in by_day[d]:
                y = r["labels"][idx]
                base_auc = metrics.auc(y, r["probs"][base][idx])
                for m in models:
                    diffs[m].append(metrics.auc(y, r["probs"][m][idx]) - base_auc)
        for m in models:
            draws[m].append(np.mean(diffs[m]))
    return {m: (float(point[m]), *(float(x) for x in np.quantile(draws[m], [0.025, 0.975]))) for m in models}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workspace", type=Path, default=None, help="default: a new temporary folder")
    parser.add_argument("--days", default="2026-11-06,2026-11-07,2026-11-08", help="test days")
    parser.add_argument("--seeds", default="7,8,9", help="training seeds")
    parser.add_argument("--ablations", action="store_true", help="also Table 4 (HRL-Rec per ablation switch)")
    parser.add_argument("--boot", type=int, default=200, help="bootstrap resamples")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--summarise", action="store_true", help="print the table from the kept runs; train nothing")
    parser.add_argument("-S", dest="overrides", action="append", default=[])
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    root = (args.workspace or Path(tempfile.mkdtemp(prefix="hrlrec-quality-"))).resolve()
    kept = root / "quality-runs"
    days, seeds = args.days.split(","), [int(s) for s in args.seeds.split(",")]
    t0 = time.perf_counter()
    variants = {"": [], **(ABLATIONS if args.ablations else {})}
    if args.summarise:
        runs = [r for r in kept_runs(kept) if r["day"] in days and r["seed"] in seeds]
        if not runs:
            raise SystemExit(f"no kept runs for {args.days} x {args.seeds} in {kept}")
        days = sorted({r["day"] for r in runs})
        seeds = sorted({r["seed"] for r in runs})
        print(f"{len(runs)} kept runs: " + ", ".join(f"{r['day']} seed {r['seed']}" for r in runs))
        codes = sorted({r["code"] for r in runs})
        if len(codes) > 1:
            print(f"WARNING: the kept runs were made by {len(codes)} versions of the code ({', '.join(codes)})")
        summarise(runs, days, seeds, root, args)
        return
    code = code_fingerprint()
    for ds in days:  # each day's data once, before any training
        base = Workspace(root, config.load(None, [*args.overrides, f"ds={ds}"]))
        for step in ("land", "ingest", "validate", "dataset"):
            pipeline.run(step, base, ds)
    runs: list[dict[str, Any]] = []
    for seed in seeds:  # seed by seed over all days: a stopped bench has covered every day first
        for ds in days:
            fingerprint = run_fingerprint(code, args.overrides, ds, seed, variants)
            run = kept_run(kept, ds, seed, fingerprint)
            if run is None:
                run = train_run(root, ds, seed, variants, args.overrides)
                keep_run(kept, run, fingerprint, code)
                how = f"trained ({time.perf_counter() - t0:.0f} s)"
            else:
                how = "kept from an earlier call"
            runs.append(run)
            aucs = {m: round(metrics.auc(run["labels"], p), 4) for m, p in run["probs"].items()}
            print(f"{ds} seed {seed}: {aucs} [{how}]", flush=True)
            print(f"  best epoch / epochs run: {run['epochs']}", flush=True)
    summarise(runs, days, seeds, root, args)


def train_run(root: Path, ds: str, seed: int, variants: dict[str, list[str]], overrides: list[str]) -> dict[str, Any]:
    """Train HRL-Rec, every baseline and the variants on day `ds` under training seed `seed`; score the test lists."""
    stream = batches.load(Workspace(root, config.load(None, [*overrides, f"ds={ds}"])).layout.dataset_day(ds))
    run: dict[str, Any] = {"day": ds, "seed": seed, "group": list_of_rows(stream), "probs": {}, "epochs": {}}
    for label, extra in variants.items():
        ws = Workspace(root, config.load(None, [*overrides, f"ds={ds}", f"train.seed={seed}", *extra]))
        torch.manual_seed(seed)
        models = list(train.MODELS) if not label else ["hrlrec"]
        trained = train.run(ws, ds, models=models, progress=False).models
        for name in models:
            key = name if not label else f"HRL-Rec {label}"
            run["epochs"][key] = (trained[name]["best_epoch"], trained[name]["epochs"])
            labels, probs = scores(ws, ds, name, stream)
            if "labels" in run and not np.array_equal(run["labels"], labels):
                raise RuntimeError(f"{ds}: {name} scored the test impressions in another order")
            run["labels"] = labels
            run["probs"][key] = probs
    return run


def summarise(runs: list[dict[str, Any]], days: list[str], seeds: list[int], root: Path, args: Any) -> None:
    """The table: mean AUC per model and paired-bootstrap differences from LR and from the best baseline."""
    t0 = time.perf_counter()
    names = list(runs[0]["probs"])
    mean_auc = {m: float(np.mean([metrics.auc(r["labels"], r["probs"][m]) for r in runs])) for m in names}
    baselines = [m for m in names if m != "hrlrec" and not m.startswith("HRL-Rec ") and m != "lr"]
    best = max(baselines, key=mean_auc.__getitem__)
    vs_lr = paired_bootstrap(runs, names, "lr", args.boot)
    vs_best = paired_bootstrap(runs, names, best, args.boot, seed=1)
    print(f"\n# Quality over {len(seeds)} seeds x {len(days)} test days ({', '.join(days)}), workspace {root}\n")
    print(f"Best baseline by mean AUC: {best}. Differences: mean [95 % paired bootstrap]; 'no difference' when "
          "the interval holds 0.\n")  # fmt: skip
    # Converged: early stopping chose an epoch before the budget's last in every run.
    budget = {m: max(r["epochs"][m][1] for r in runs) for m in names}
    at_last = {m: sum(r["epochs"][m][0] == r["epochs"][m][1] for r in runs) for m in names}
    print("| model | mean AUC | minus LR | minus best baseline | epochs run (max) | runs whose best epoch was the "
          "last |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for m in sorted(names, key=mean_auc.__getitem__):
        cells = []
        for table in (vs_lr, vs_best):
            v, lo, hi = table[m]
            cells.append(f"{v:+.4f} [{lo:+.4f}, {hi:+.4f}]" + (" (no difference)" if lo <= 0 <= hi else ""))
        print(f"| {m} | {mean_auc[m]:.4f} | {cells[0]} | {cells[1]} | {budget[m]} | {at_last[m]} of {len(runs)} |")
    print(f"\nSummary in {time.perf_counter() - t0:.0f} s.")
    if args.json:
        args.json.write_text(json.dumps({"days": days, "seeds": seeds, "mean_auc": mean_auc, "best_baseline": best,
                                         "minus_lr": vs_lr, "minus_best": vs_best,
                                         "epochs": [{"day": r["day"], "seed": r["seed"], "best_and_run": r["epochs"]}
                                                    for r in runs]}, indent=2) + "\n")  # fmt: skip


if __name__ == "__main__":
    main()
