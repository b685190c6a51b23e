"""The step table: every step of the daily pipeline, in order, and what it is.

One row per step: its name, the module whose `run(workspace, ds, **options)`
does the work, the result file it writes (`metrics/<result>.json`), whether it
is a release gate, the params sections it reads and the code it runs. The CLI
builds its step commands from this table, the Airflow tasks call `run` with a
step's name, publish asks for the gates, and a test derives the stages of
`dvc.yaml` (name, command, params, code) from it and fails when the file
disagrees. A newcomer finds any step here in one hop.

    land -> ingest -> validate -> dataset -> train -> evaluate, stability, export -> publish -> report

Backfill means one thing everywhere: land, ingest and validate also bring the
days of D's training window up to date (the days its dataset reads), and it
is on by default in the CLI, in dvc.yaml and in Airflow alike.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from hrlrec.workspace import Workspace
from hrlrec.workspace_lock import workspace_lock

CODE = ("src/hrlrec",)  # coarse on purpose: a stage re-runs when any of the package's code changes
ALL_PARAMS = "params.yaml"  # a step that records the whole configuration depends on all of it


@dataclass(frozen=True)
class Step:
    """One step of the pipeline."""

    name: str  # the CLI subcommand, the DVC stage and the Airflow task
    summary: str  # one line: what it does (CLI help, dvc.yaml desc)
    module: str  # the module whose `run(workspace, ds, **options)` is the step
    result: str | None  # metrics/<result>.json it writes for the day (None: no result file)
    gate: bool  # a release gate: a FAIL exits 1 and publish needs its PASS
    params: tuple[str, ...]  # params.yaml keys (sections) it reads; ALL_PARAMS for all of them
    retried: bool  # Airflow retries it with backoff (I/O); a check is never retried (a FAIL is an answer)
    dvc_args: str = ""  # fixed options of its dvc.yaml command
    code: tuple[str, ...] = CODE  # code it runs

    def function(self):
        """The step's `run(workspace, ds, **options)` (imported on first use: no heavy import at startup)."""
        return importlib.import_module(self.module).run

    @property
    def dvc_command(self) -> str:
        return f"hrlrec {self.name} --ds ${{ds}}" + (f" {self.dvc_args}" if self.dvc_args else "")


WINDOW = ("profile", "profiles", "dataset.lookback_days")  # what the training window of D is made of

STEPS: tuple[Step, ...] = (
    Step("land", "make sure day D (and its window) has landed: the simulator writes it, or an upstream drop",
         "hrlrec.simulator.land", None, False,
         ("seed", "source", "channels", "list_len", "simulator", *WINDOW), retried=True),
    Step("ingest", "day D (and missing window days) from the landing zone into data/raw, structure checked",
         "hrlrec.ingest", None, False, WINDOW, retried=True),
    Step("validate", "Great Expectations suites on day D (and unvalidated window days); a failing day is quarantined",
         "hrlrec.validation", "validate", False, ("channels", "list_len", "validation", *WINDOW), retried=False),
    Step("dataset", "training lists of the window before D, D held out (validated days only)",
         "hrlrec.dataset", None, False, ("profile", "profiles", "dataset", "channels", "list_len"), retried=True),
    Step("train", "HRL-Rec and the baselines of train.models on the dataset of D",
         "hrlrec.train", "train", False, ("seed", "profile", "profiles", "model", "train", "channels", "list_len"),
         retried=True, dvc_args="--no-progress"),
    Step("evaluate", "AUC gate: candidate vs production vs LR on day D, the off-policy check, the lists' true value",
         "hrlrec.evaluate", "evaluate", True,
         ("seed", "gates.auc", "gates.stability", "gates.ope", "serving", "model", "source", "simulator", "channels",
          "list_len"), retried=False),
    Step("stability", "stability gate: the candidate's channel proportions vs production's a week back",
         "hrlrec.stability", "stability", True, ("seed", "gates.stability", "serving"), retried=False),
    Step("export", "export gate: ONNX graphs of the candidate, proven against PyTorch",
         "hrlrec.serving.export", "export", True,
         ("seed", "gates.export", "gates.stability.pool_per_channel", "serving"), retried=False),
    Step("publish", "register and promote the candidate when every required gate passed",
         "hrlrec.publish", "publish", False, (ALL_PARAMS,), retried=True, dvc_args='--reason "dvc repro"'),
    Step("report", "the on-call page of day D: reports/ds=D/index.html",
         "hrlrec.report", None, False, (ALL_PARAMS,), retried=True),
)  # fmt: skip

BY_NAME = {s.name: s for s in STEPS}
GATES = tuple(s.name for s in STEPS if s.gate)
DATA_STEPS = ("land", "ingest", "validate", "dataset")  # the first steps: a day's training data (`build_data`)


def step(name: str) -> Step:
    """The step called `name`; ValueError listing the steps otherwise."""
    if name not in BY_NAME:
        raise ValueError(f"unknown step {name!r}; expected one of {', '.join(BY_NAME)}")
    return BY_NAME[name]


def run(name: str, ws: Workspace, ds: str, **options: Any) -> Any:
    """Run step `name` for day `ds` in workspace `ws` (what the CLI, DVC and Airflow all call).

    Holds the workspace's lock (hrlrec.workspace_lock): one writer per workspace at a time.
    """
    function = step(name).function()
    with workspace_lock(ws.root, name, ds):
        return function(ws, ds, **options)


def build_data(ws: Workspace, ds: str) -> None:
    """Day `ds`'s dataset, its window landed, ingested and validated first: what every training starts from."""
    for name in DATA_STEPS:
        run(name, ws, ds)
