"""Quality table (paper Tables 2 and 4) on the simulated world: every model, then ablations.

    python bench/quality.py [--workspace DIR] [--days 8] [-S key=value ...]

Simulates, ingests and validates `--days` days ending at params `ds`, builds the
dataset of the last day (training window = the profile's train_days, last day
held out), trains HRL-Rec and every baseline, then HRL-Rec once per ablation
switch, and prints both tables in Markdown with the oracle AUC of the day.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import tempfile
import time
from pathlib import Path

from hrlrec import config, pipeline, train
from hrlrec.layout import days_from
from hrlrec.workspace import Workspace

ABLATIONS = {
    "w/o GRU (mean pooling + dense)": ["model.use_gru=false"],
    "w/o self-attention (dense)": ["model.use_attention=false"],
    "gamma = 0": ["profiles.small.gamma=0", "profiles.full.gamma=0"],
    "w/o similarity loss L_s": ["model.use_similarity_loss=false"],
    "w/o supervised loss L_c": ["model.use_supervised_loss=false"],
    "paper loss weights 5:5:1:1, beta 1": ["model.loss_weights=[5,5,1,1]", "model.beta=1"],
}


def _row(name: str, m: dict, oracle: float | None) -> str:
    rel = f"{m['relaimpr_over_lr']:+.2%}" if m.get("relaimpr_over_lr") is not None else "n/a"
    gap = f"{m['lr_to_oracle_gap_closed']:.1%}" if m.get("lr_to_oracle_gap_closed") is not None else "n/a"
    return f"| {name} | {m['auc']:.4f} | {rel} | {gap} | {m['logloss']:.4f} | {m['epochs']} | {m['seconds']:.0f} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workspace", type=Path, default=None, help="default: a temporary folder")
    parser.add_argument("--days", type=int, default=8)
    parser.add_argument("-S", dest="overrides", action="append", default=[])
    parser.add_argument("--skip-ablations", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    root = args.workspace or Path(tempfile.mkdtemp(prefix="hrlrec-quality-"))
    ws = Workspace(root.resolve(), config.load(None, args.overrides))
    cfg = ws.cfg
    t0 = time.perf_counter()
    last = dt.date.fromisoformat(cfg.ds)
    for ds in days_from((last - dt.timedelta(days=args.days - 1)).isoformat(), args.days):
        for step in ("land", "ingest", "validate"):
            pipeline.run(step, ws, ds, backfill=False)
    pipeline.run("dataset", ws, cfg.ds)
    result = train.run(ws, cfg.ds, models=train.MODELS, progress=False)
    oracle = result.oracle_auc
    print(f"# Quality on the simulated world ({cfg.profile} profile, test day {cfg.ds}, workspace {root})\n")
    print(f"Oracle AUC (true click probabilities): {oracle:.4f}\n")
    print("| model | AUC | RelaImpr over LR | LR-to-oracle gap closed | LogLoss | epochs | train s |")
    print("|---|---|---|---|---|---|---|")
    for name, m in sorted(result.models.items(), key=lambda kv: kv[1]["auc"]):
        print(_row(name, m, oracle))
    if not args.skip_ablations:
        base_lr = result.models["lr"]
        print("\n| HRL-Rec ablation | AUC | RelaImpr over LR | LR-to-oracle gap closed | LogLoss | epochs | train s |")
        print("|---|---|---|---|---|---|---|")
        print(_row("HRL-Rec (all components)", result.models["hrlrec"], oracle))
        for label, overrides in ABLATIONS.items():
            ablated = Workspace(ws.root, config.load(None, [*args.overrides, *overrides]))
            r = train.run(ablated, cfg.ds, models=["hrlrec"], progress=False).models["hrlrec"]
            from hrlrec import metrics

            r["relaimpr_over_lr"] = metrics.relaimpr(r["auc"], base_lr["auc"])
            r["lr_to_oracle_gap_closed"] = metrics.gap_closed(r["auc"], base_lr["auc"], oracle) if oracle else None
            print(_row(label, r, oracle), flush=True)
    print(f"\nTotal {time.perf_counter() - t0:.0f}s on {result.device}.")


if __name__ == "__main__":
    main()
