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

A full table is hours of CPU (9 models x 3 seeds x 3 days), more than one
working session here, so every finished unit (the zoo, or one ablation variant,
of one day and seed) is kept in `--units` (default WORKSPACE/quality-runs/) as
a small JSON file: each model's test AUC and its AUC on `--boot` resamples of
the day's lists, drawn from a generator seeded by the day and the resample's
number, so every model and training seed of a day sees the same resamples
without keeping any prediction (~20 KB a unit, small enough to commit, e.g.
`--units docs/quality-units`). Each unit carries a fingerprint of the training
code (models, train, ...), of the day's built dataset and of the resolved
training settings; a later call reuses the units whose fingerprint still
matches and trains only the rest (adding --ablations later trains only the
variants). Runs go seed by seed over all days, so a stopped bench has covered
every day before it repeats one. `--summarise` prints the table from the kept
runs only (what exists so far), training nothing.

`--arm "LABEL=key=value[;key=value]"` measures one HRL-Rec setting against
the kept tables without training the zoo again (a zoo unit is ~17 min of a
core): for every day and seed it trains HRL-Rec under the arm's overrides
(row "HRL-Rec LABEL"), with `--ablations` every ablation on top of them (rows
"HRL-Rec LABEL, ABLATION", whose paired differences are also given from the
arm's row: Table 4 for the arm), and a control "HRL-Rec this code" with no
override. The zoo is read from `--zoo-from` (default `--units`) whatever code
made it, so the control shows whether this code's HRL-Rec still scores as the
kept zoo's: when it does to the last digit in every run, the arm's rows
compare with the kept baselines as if trained beside them. The zoo in
docs/quality-units was trained under `model.encoder_sharing: none`, the
default then: against it, pass `-S model.encoder_sharing=none` (every
training takes it, the control too) and give the arm its own sharing. A
missing zoo unit is an error naming its file, before any training, unless
`--no-zoo` allows it: such a run (e.g. a training seed the kept tables lack)
has no baselines, so it joins only the arm-against-control comparison
printed last, over every run that has both.
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import json
import logging
import re
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

import hrlrec
from hrlrec import atomic, config, metrics, pipeline, train
from hrlrec.candidates import load_for
from hrlrec.data import batches
from hrlrec.evaluation.intervals import t_interval
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
CONTROL = "this code"  # an arm run's HRL-Rec without override (row "HRL-Rec this code"), beside the kept zoo's


def parse_arm(text: str) -> tuple[str, list[str]]:
    """`LABEL=key=value[;key=value]` as (label, overrides); a clear error for anything else."""
    label, sep, rest = text.partition("=")
    overrides = [o.strip() for o in rest.split(";") if o.strip()]
    if not sep or not label.strip() or not overrides or any("=" not in o for o in overrides):
        raise SystemExit(f"--arm {text!r}: expected LABEL=key=value[;key=value], e.g. "
                         "'shared attention=model.encoder_sharing=attention'")  # fmt: skip
    if label.strip() == CONTROL or label.strip() in ABLATIONS or unit_slug(label) == "zoo":
        raise SystemExit(f"--arm {text!r}: the label {label.strip()!r} is taken; choose another")
    return label.strip(), overrides


def arm_variants(label: str, overrides: list[str], ablations: bool) -> dict[str, list[str]]:
    """The HRL-Rec trainings of an arm run: the control, the arm, and (with --ablations) each ablation on the arm."""
    variants = {CONTROL: [], label: overrides}
    if ablations:
        variants |= {f"{label}, {name}": [*overrides, *extra] for name, extra in ABLATIONS.items()}
    return variants


def scores(ws: Workspace, ds: str, name: str, stream: batches.Stream) -> tuple[np.ndarray, np.ndarray]:
    """Labels and click probabilities of the candidate `name` of `ds` on its test lists, in stream row order."""
    loaded = load_for(ws.layout.candidate_weights(ds, name), stream)
    pred = predict(loaded.model, stream, stream.lists("test"))
    return np.asarray(pred.labels), np.asarray(pred.probs)


def list_of_rows(stream: batches.Stream) -> np.ndarray:
    """For each test impression (stream row order), the index of its list among the test lists."""
    lists = stream.lists("test")
    return np.repeat(np.arange(len(lists)), stream.length[lists])


# What decides a trained model's test predictions, besides the day's built dataset (hashed itself, so
# the land / ingest / validate / dataset code and settings are covered by their output): these parts of
# the package and of the settings. The gates, serving, registry and Airflow cannot change them.
TRAINING_CODE = ("models", "train", "candidates.py", "metrics.py", "layout.py", "workspace.py")
TRAINING_SETTINGS = {"profile", "seed", "channels", "list_len", "dataset", "model", "train", "profiles"}
NOT_TRAINING = ("models", "threads")  # train.* keys that choose what or how fast, not the numbers
# dataset.* keys whose effect reaches a unit only through the built files, which the data fingerprint digests
# (shard_rows bounds the build's memory; it changes the row order, and so the files, only when it shards)
NOT_SETTINGS_OF_DATA = ("shard_rows",)


def code_fingerprint() -> str:
    """Digest of the training code (TRAINING_CODE and this bench's training and scoring functions).

    Only the functions that make a unit's numbers count from this file, so editing how units are
    kept or tabled keeps them.
    """
    digest = hashlib.sha256()
    package = Path(hrlrec.__file__).parent
    for part in TRAINING_CODE:
        for path in [package / part] if part.endswith(".py") else sorted((package / part).rglob("*.py")):
            digest.update(str(path.relative_to(package)).encode())
            digest.update(path.read_bytes())
    for function in (train_unit, scores, list_of_rows, summarised, resample):
        digest.update(inspect.getsource(function).encode())
    return digest.hexdigest()[:16]


def dataset_fingerprint(ws: Workspace, ds: str) -> str:
    """Digest of the day's built dataset (its Parquet files): the data every model of the unit trained on."""
    digest = hashlib.sha256()
    files = sorted(ws.layout.dataset_day(ds).glob("*.parquet"))
    if not files:
        raise RuntimeError(f"{ws.layout.dataset_day(ds)}: no dataset built for {ds}")
    for path in files:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def unit_fingerprint(code: str, data: str, cfg: config.Config) -> str:
    """A unit's fingerprint: training code, dataset, resolved training settings (day and seed) and the device."""
    settings = cfg.model_dump(mode="json", include=TRAINING_SETTINGS | {"ds"})
    for key in NOT_TRAINING:
        settings["train"].pop(key, None)
    for key in NOT_SETTINGS_OF_DATA:
        settings["dataset"].pop(key, None)
    device = {"cuda": torch.cuda.is_available(), "torch": torch.__version__}  # device and precision resolve on it
    text = json.dumps({"code": code, "data": data, "settings": settings, "device": device}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def unit_path(folder: Path, ds: str, seed: int, label: str) -> Path:
    """One kept unit: the zoo (label "") or one ablation variant, of one day and training seed."""
    return folder / f"{ds}_seed{seed}_{unit_slug(label)}.json"


def unit_slug(label: str) -> str:
    """A unit's file-name part: the label in lower case and hyphens; the zoo (label "") is "zoo"."""
    return re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-") or "zoo"


def resample(group: np.ndarray, ds: str, b: int) -> np.ndarray:
    """Impression indices of resample `b` of the day's lists (drawn with replacement, whole lists).

    Seeded by the day and `b` alone, so every model and training seed of a day (the same built
    dataset: the same lists in the same order) gets the same resample, in any session: the
    bootstrap stays paired although units keep only AUCs.
    """
    rng = np.random.default_rng([int(ds.replace("-", "")), b])
    n_lists = int(group.max()) + 1
    counts = np.bincount(rng.integers(0, n_lists, n_lists), minlength=n_lists)
    weight = counts[group]
    keep = weight > 0
    return np.repeat(np.flatnonzero(keep), weight[keep])


def summarised(day: str, seed: int, group: np.ndarray, labels: np.ndarray, probs: dict[str, np.ndarray],
               epochs: dict[str, tuple[int, int]], n_boot: int) -> dict[str, Any]:  # fmt: skip
    """A unit as kept: each model's AUC on the day's test impressions and on `n_boot` resamples of its lists."""
    draws = [resample(group, day, b) for b in range(n_boot)]
    return {
        "day": day, "seed": seed, "impressions": len(labels), "lists": int(group.max()) + 1, "epochs": epochs,
        "auc": {m: float(metrics.auc(labels, p)) for m, p in probs.items()},
        "boot": {m: [float(metrics.auc(labels[i], p[i])) for i in draws] for m, p in probs.items()},
    }  # fmt: skip


def kept_unit(path: Path, fingerprint: str | None) -> dict[str, Any] | None:
    """The unit at `path` when it exists, reads whole and its fingerprint matches (any when None), else None.

    A fingerprint that differs means other code, data or settings made it: it is trained again and
    overwritten (so alternating override sets on one workspace retrain each time: use a workspace each).
    """
    if not path.exists():
        return None
    try:
        meta = json.loads(path.read_text())
        if fingerprint is not None and meta["fingerprint"] != fingerprint:
            print(f"{path.name}: made by other training code, data or settings; training it again", flush=True)
            return None
        return {"day": meta["day"], "seed": meta["seed"], "impressions": meta["impressions"], "lists": meta["lists"],
                "auc": meta["auc"], "boot": meta["boot"], "epochs": {m: tuple(v) for m, v in meta["epochs"].items()},
                "codes": {meta["code"]}}  # fmt: skip
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"{path.name}: unreadable ({exc}); training it again", flush=True)
        return None


def keep_unit(path: Path, unit: dict[str, Any], fingerprint: str, code: str) -> None:
    """Write a finished unit atomically (a killed bench leaves no half unit to reuse)."""
    body = {"fingerprint": fingerprint, "code": code, **{k: v for k, v in unit.items() if k != "codes"}}
    atomic.write_bytes(path, (json.dumps(body, indent=1) + "\n").encode())


def merged(units: list[dict[str, Any]]) -> dict[str, Any]:
    """One (day, seed) run from its units: the zoo's and the variants' AUCs side by side."""
    run = {**units[0], "auc": {}, "boot": {}, "epochs": {}, "codes": set()}
    for unit in units:
        if (unit["impressions"], unit["lists"]) != (run["impressions"], run["lists"]):
            raise RuntimeError(f"{run['day']} seed {run['seed']}: units scored different test lists")
        run["auc"].update(unit["auc"])
        run["boot"].update(unit["boot"])
        run["epochs"].update(unit["epochs"])
        run["codes"] |= unit.get("codes", set())
    return run


def kept_runs(folder: Path, zoo_from: Path | None = None, require_zoo: bool = True) -> list[dict[str, Any]]:
    """Every kept (day, seed) run in `folder` that has its zoo (there or in `zoo_from`; any run when not
    `require_zoo`), whatever code made it."""
    units: dict[tuple[str, int], list[dict[str, Any]]] = {}
    paths = sorted(folder.glob("[0-9]*_seed*_*.json"))  # not the hidden temporary files of a killed write
    if zoo_from is not None and zoo_from.resolve() != folder.resolve():  # only the zoo: not another arm's variants
        paths += sorted(zoo_from.glob("[0-9]*_seed*_zoo.json"))
    for path in paths:
        unit = kept_unit(path, None)
        if unit is not None:
            units.setdefault((unit["day"], unit["seed"]), []).append(unit)
    runs = []
    for (ds, seed), found in sorted(units.items()):
        if require_zoo and not any("lr" in u["auc"] for u in found):
            print(f"{ds} seed {seed}: only ablation variants kept, no zoo; left out", flush=True)
            continue
        runs.append(merged(found))
    return runs


def common_models(runs: list[dict[str, Any]]) -> list[str]:
    """The models every run has (a bench stopped part-way through --ablations leaves some runs without variants)."""
    names = [m for m in runs[0]["auc"] if all(m in r["auc"] for r in runs)]
    left = sorted({m for r in runs for m in r["auc"]} - set(names))
    if left:
        print(f"left out, not in every run: {', '.join(left)}", flush=True)
    return names


def paired_bootstrap(runs: list[dict[str, Any]], models: list[str], base: str) -> dict[str, tuple[float, ...]]:
    """Mean AUC difference of each model from `base` over runs, with a 95 % percentile interval.

    Resample b of a day is the same for every model and seed of that day (`resample`), days are
    resampled independently; each resample's statistic is the difference averaged over the runs, so
    a seed's own noise enters through the average. Uses the resamples every run has.
    """
    n_boot = min(len(r["boot"][base]) for r in runs)
    out = {}
    for m in models:
        point = float(np.mean([r["auc"][m] - r["auc"][base] for r in runs]))
        draws = np.mean([np.subtract(r["boot"][m][:n_boot], r["boot"][base][:n_boot]) for r in runs], axis=0)
        out[m] = (point, *(float(x) for x in np.quantile(draws, [0.025, 0.975])))
    return out


def across_runs(runs: list[dict[str, Any]], models: list[str], base: str) -> dict[str, tuple[float, ...]]:
    """Mean difference of each model from `base` over runs with a 95 % t-interval over the runs, and how many
    runs put it below `base`.

    The paired bootstrap resamples the test lists with every trained model fixed, so it averages the training
    seeds' own spread away; this interval is made of it (and of the days'): a difference a seed can flip shows
    here. Runs of one day share their test lists, so the 9 runs are not 9 independent draws either; claims
    take the wider of the two intervals.
    """
    out = {}
    for m in models:
        diffs = [r["auc"][m] - r["auc"][base] for r in runs]
        out[m] = (*t_interval(diffs), float(sum(d < 0 for d in diffs)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workspace", type=Path, default=None, help="default: a new temporary folder")
    parser.add_argument("--days", default="2026-11-06,2026-11-07,2026-11-08", help="test days")
    parser.add_argument("--seeds", default="7,8,9", help="training seeds")
    parser.add_argument("--ablations", action="store_true", help="also Table 4 (HRL-Rec per ablation switch)")
    parser.add_argument("--boot", type=int, default=200, help="bootstrap resamples kept per unit")
    parser.add_argument(
        "--units", type=Path, default=None, help="where units are kept (default WORKSPACE/quality-runs)"
    )
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--summarise", action="store_true", help="print the table from the kept runs; train nothing")
    parser.add_argument("--arm", default=None, help="LABEL=key=value[;key=value]: HRL-Rec under these overrides "
                        "(and each ablation on it), beside the kept zoo; see above")  # fmt: skip
    parser.add_argument("--zoo-from", type=Path, default=None, help="with --arm: the folder of the kept zoo units "
                        "(default --units), so an arm's units can be kept apart from the tables they join")  # fmt: skip
    parser.add_argument("--no-zoo", action="store_true", help="with --arm: train the runs whose zoo is not kept "
                        "too; they join only the arm-against-control comparison")  # fmt: skip
    parser.add_argument("-S", dest="overrides", action="append", default=[])
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    root = (args.workspace or Path(tempfile.mkdtemp(prefix="hrlrec-quality-"))).resolve()
    kept = (args.units or root / "quality-runs").resolve()
    zoo_from = (args.zoo_from or kept).resolve()
    days, seeds = args.days.split(","), [int(s) for s in args.seeds.split(",")]
    t0 = time.perf_counter()
    arm = parse_arm(args.arm) if args.arm else None
    variants = arm_variants(*arm, args.ablations) if arm else {"": [], **(ABLATIONS if args.ablations else {})}
    args.arm_label = arm[0] if arm else None
    if args.summarise:
        every = [r for r in kept_runs(kept, zoo_from, require_zoo=False) if r["day"] in days and r["seed"] in seeds]
        runs = [r for r in every if "lr" in r["auc"]]
        if not runs:
            raise SystemExit(f"no kept runs for {args.days} x {args.seeds} in {kept}")
        days = sorted({r["day"] for r in runs})
        seeds = sorted({r["seed"] for r in runs})
        print(f"{len(runs)} kept runs: " + ", ".join(f"{r['day']} seed {r['seed']}" for r in runs))
        codes = sorted({c for r in runs for c in r["codes"]})
        if len(codes) > 1:
            print(f"WARNING: the kept runs were made by {len(codes)} versions of the code ({', '.join(codes)})")
        summarise(runs, days, seeds, root, args)
        if arm:
            arm_against_control(every, f"HRL-Rec {arm[0]}")
        return
    code, data = code_fingerprint(), {}
    for ds in days:  # each day's data once, before any training
        base = Workspace(root, config.load(None, [*args.overrides, f"ds={ds}"]))
        pipeline.build_data(base, ds)
        data[ds] = dataset_fingerprint(base, ds)
    if arm:  # the zoo is read, never trained, in an arm run: fail before any training when one is missing
        zoos = {(ds, seed): kept_unit(unit_path(zoo_from, ds, seed, ""), None) for seed in seeds for ds in days}
        missing = [str(unit_path(zoo_from, ds, seed, "")) for (ds, seed), unit in zoos.items() if unit is None]
        if missing and not args.no_zoo:
            raise SystemExit(f"--arm needs the kept zoo of every day and seed (or --no-zoo); missing or unreadable: "
                             f"{missing}")  # fmt: skip
    runs: list[dict[str, Any]] = []
    for seed in seeds:  # seed by seed over all days: a stopped bench has covered every day first
        for ds in days:
            zoo = zoos[ds, seed] if arm else None
            units, how = ([zoo], ["zoo read"]) if zoo else ([], ["no zoo"] if arm else [])
            for label, extra in variants.items():
                cfg = config.load(None, [*args.overrides, f"ds={ds}", f"train.seed={seed}", *extra])
                fingerprint, path = unit_fingerprint(code, data[ds], cfg), unit_path(kept, ds, seed, label)
                unit = kept_unit(path, fingerprint)
                if unit is None:
                    unit = train_unit(Workspace(root, cfg), ds, seed, label, args.boot)
                    keep_unit(path, unit, fingerprint, code)
                    how.append(f"{label or 'zoo'} trained ({time.perf_counter() - t0:.0f} s)")
                else:
                    how.append(f"{label or 'zoo'} kept")
                units.append(unit)
            run = merged(units)
            runs.append(run)
            if len(run["codes"]) > 1:
                print(f"{ds} seed {seed}: units of {len(run['codes'])} code versions", flush=True)
            aucs = {m: round(v, 4) for m, v in run["auc"].items()}
            print(f"{ds} seed {seed}: {aucs} [{'; '.join(how)}]", flush=True)
            print(f"  best epoch / epochs run: {run['epochs']}", flush=True)
    with_zoo = [r for r in runs if "lr" in r["auc"]]
    if with_zoo:
        summarise(with_zoo, sorted({r["day"] for r in with_zoo}), sorted({r["seed"] for r in with_zoo}), root, args)
    if arm:
        arm_against_control(runs, f"HRL-Rec {arm[0]}")


def arm_against_control(runs: list[dict[str, Any]], arm: str) -> None:
    """The arm minus this code's HRL-Rec over every run that has both, zoo or not: both intervals and runs below."""
    control = f"HRL-Rec {CONTROL}"
    both = [r for r in runs if arm in r["auc"] and control in r["auc"]]
    if not both:
        print(f"\nNo run has both {arm} and {control}.")
        return
    _, lo, hi = paired_bootstrap(both, [arm], control)[arm]
    mean, t_lo, t_hi, below = across_runs(both, [arm], control)[arm]
    print(f"\n{arm} minus {control} over {len(both)} runs ({len({r['seed'] for r in both})} seeds x "
          f"{len({r['day'] for r in both})} days): {mean:+.5f}, paired bootstrap [{lo:+.5f}, {hi:+.5f}], over the "
          f"runs [{t_lo:+.5f}, {t_hi:+.5f}], below in {below:.0f} of {len(both)}")  # fmt: skip


def train_unit(ws: Workspace, ds: str, seed: int, label: str, n_boot: int) -> dict[str, Any]:
    """Train the zoo (label "": HRL-Rec and every baseline) or one HRL-Rec variant on `ds`; score the test lists."""
    stream = batches.load(ws.layout.dataset_day(ds))
    group, probs, epochs, labels = list_of_rows(stream), {}, {}, None
    torch.manual_seed(seed)
    models = list(train.MODELS) if not label else ["hrlrec"]
    trained = train.run(ws, ds, models=models, progress=False).models
    for name in models:
        key = name if not label else f"HRL-Rec {label}"
        epochs[key] = (trained[name]["best_epoch"], trained[name]["epochs"])
        scored, probs[key] = scores(ws, ds, name, stream)
        if labels is not None and not np.array_equal(labels, scored):
            raise RuntimeError(f"{ds}: {name} scored the test impressions in another order")
        labels = scored
    return summarised(ds, seed, group, labels, probs, epochs, n_boot)


def _difference(v: float, lo: float, hi: float) -> str:
    """A table cell: the difference and its interval, marked "no difference" when the interval holds 0."""
    return f"{v:+.4f} [{lo:+.4f}, {hi:+.4f}]" + (" (no difference)" if lo <= 0 <= hi else "")


def summarise(runs: list[dict[str, Any]], days: list[str], seeds: list[int], root: Path, args: Any) -> None:
    """The table: mean AUC per model and paired-bootstrap differences from LR, the best baseline and HRL-Rec.

    The HRL-Rec column is Table 4's: an ablation variant's effect is its paired difference from the
    full model trained on the same day and seed, not the gap between two differences from a baseline.
    """
    t0 = time.perf_counter()
    names = common_models(runs)
    mean_auc = {m: float(np.mean([r["auc"][m] for r in runs])) for m in names}
    baselines = [m for m in names if m != "hrlrec" and not m.startswith("HRL-Rec ") and m != "lr"]
    best = max(baselines, key=mean_auc.__getitem__)
    vs_lr = paired_bootstrap(runs, names, "lr")
    vs_best = paired_bootstrap(runs, names, best)
    vs_full = paired_bootstrap(runs, names, "hrlrec") if "hrlrec" in names else None
    arm = f"HRL-Rec {args.arm_label}" if getattr(args, "arm_label", None) else None
    vs_arm = paired_bootstrap(runs, names, arm) if arm in names else None
    print(f"\n# Quality over {len(seeds)} seeds x {len(days)} test days ({', '.join(days)}), workspace {root}\n")
    print(f"Best baseline by mean AUC: {best}. Differences: mean [95 % paired bootstrap]; 'no difference' when "
          "the interval holds 0.\n")  # fmt: skip
    # Converged: early stopping chose an epoch before the budget's last in every run.
    budget = {m: max(r["epochs"][m][1] for r in runs) for m in names}
    at_last = {m: sum(r["epochs"][m][0] == r["epochs"][m][1] for r in runs) for m in names}
    tables = [vs_lr, vs_best] + ([vs_full] if vs_full else []) + ([vs_arm] if vs_arm else [])
    heads = (
        ["minus LR", "minus best baseline"]
        + (["minus HRL-Rec"] if vs_full else [])
        + ([f"minus {arm}"] if vs_arm else [])
    )
    print(f"| model | mean AUC | {' | '.join(heads)} | epochs run (max) | runs whose best epoch was the last |")
    print("|---|---|" + "---|" * len(heads) + "---|---|")
    for m in sorted(names, key=mean_auc.__getitem__):
        cells = []
        for table in tables:
            v, lo, hi = table[m]
            cells.append(_difference(v, lo, hi))
        print(f"| {m} | {mean_auc[m]:.4f} | {' | '.join(cells)} | {budget[m]} | {at_last[m]} of {len(runs)} |")
    spread = {b: across_runs(runs, names, b) for b in (best, "hrlrec", arm) if b in names}
    print(f"\nOver the {len(runs)} runs, mean [95 % t-interval of the per-run differences] (k: runs below):\n")
    print("| model | " + " | ".join(f"minus {b}" for b in spread) + " |")
    print("|---|" + "---|" * len(spread))
    for m in sorted(names, key=mean_auc.__getitem__):
        cells = [f"{_difference(v, lo, hi)} (k {below:.0f})" for v, lo, hi, below in (spread[b][m] for b in spread)]
        print(f"| {m} | {' | '.join(cells)} |")
    control = f"HRL-Rec {CONTROL}"
    if control in names and "hrlrec" in names:
        gaps = [abs(r["auc"][control] - r["auc"]["hrlrec"]) for r in runs]
        same = sum(g == 0 for g in gaps)
        print(f"\nControl: this code's HRL-Rec scores as the kept zoo's in {same} of {len(runs)} runs (largest AUC "
              f"gap {max(gaps):.2e}); " + ("the arm's rows compare with the kept baselines." if same == len(runs) else
              "where they differ, compare the arm with the control, not with the zoo's HRL-Rec."))  # fmt: skip
    print(f"\nSummary in {time.perf_counter() - t0:.0f} s.")
    if args.json:
        args.json.write_text(json.dumps({"days": days, "seeds": seeds, "mean_auc": mean_auc, "best_baseline": best,
                                         "minus_lr": vs_lr, "minus_best": vs_best, "minus_hrlrec": vs_full,
                                         "arm": arm, "minus_arm": vs_arm, "over_runs": spread,
                                         "epochs": [{"day": r["day"], "seed": r["seed"], "best_and_run": r["epochs"]}
                                                    for r in runs]}, indent=2) + "\n")  # fmt: skip


if __name__ == "__main__":
    main()
