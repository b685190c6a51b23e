"""The workspace layout: the one module that knows where every file of a run lives.

Every step reads and writes through a `Layout`, never by joining
`root / cfg.paths.x / ...` itself, so a file has one name and its readers
cannot drift from its writer. The folders come from `paths:` in params.yaml
(relative to the workspace); the names inside them are fixed here:

    landing/ds=D/*.parquet + _SUCCESS          a day as it arrives (simulator or upstream drop)
    landing/_truth/ds=D/                       the simulator's ground truth beside it (never model input)
    data/raw/ds=D/ (+ _manifest.json)          ingested days
    data/quarantine/ds=D/ (+ _validation.json) days that failed validation
    data/validation/ds=D/{result,summary}.json validation records; releases.jsonl
    reports/data_docs/ds=D/                    Great Expectations Data Docs
    data/datasets/ds=D/                        the training window of D, D held out
    models/candidates/ds=D/<model>.{pt,json}   trained candidates and their cards
    models/exports/ds=D/                       ONNX graphs + manifest.json
    models/registry/versions/<v>/ (version.json), production.json, history.jsonl
    data/stability/{candidate,production}/ds=D.json   channel-proportion records
    metrics/<step>.json, metrics/days/ds=D/<step>.json, metrics/plots/
    reports/ds=D/index.html, reports/notifications.jsonl

This module imports nothing heavy and nothing from the steps: the simulator,
the steps and the report all import it, never the other way round.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from hrlrec.config import Config, PathsConfig

SUCCESS = "_SUCCESS"  # written last into a complete day folder
TRUTH = "_truth"  # the simulator's ground-truth sidecar inside the landing zone
RAW_MANIFEST = "_manifest.json"  # ingestion's record inside data/raw/ds=D
QUARANTINE_RESULT = "_validation.json"  # the failed validation, beside quarantined data
VALIDATION_RESULT = "result.json"
VALIDATION_SUMMARY = "summary.json"
RELEASES = "releases.jsonl"
ARCHIVE = "days"  # metrics/days/ds=D/<step>.json
PLOTS = "plots"
REPORT_PAGE = "index.html"
NOTIFICATIONS = "notifications.jsonl"
VERSION_FILE = "version.json"
POINTER = "production.json"
HISTORY = "history.jsonl"
VERSION_ONNX = "onnx"  # the export's folder inside a registered version
EXPORT_MANIFEST = "manifest.json"
PARAMS = "params.yaml"  # a workspace's configuration
DATA_CHECKS = "data_checks"  # a workspace's own expectation suites (a clone of the project has them)
DATASET_STREAM = "stream.parquet"  # inside data/datasets/ds=D: one row per impression
DATASET_LISTS = "lists.parquet"  # one row per list
DATASET_META = "meta.json"  # sizes, days used and skipped, fingerprints


def day_dir(base: Path, ds: str) -> Path:
    """The folder of day `ds` under a day-partitioned folder: BASE/ds=D."""
    return base / f"ds={ds}"


def truth_dir(landing: Path, ds: str) -> Path:
    """The simulator's ground truth of day `ds` beside a landing zone: LANDING/_truth/ds=D."""
    return day_dir(landing / TRUTH, ds)


def days_before(ds: str, n: int) -> list[str]:
    """The `n` days before `ds`, oldest first."""
    day = dt.date.fromisoformat(ds)
    return [(day - dt.timedelta(days=k)).isoformat() for k in range(n, 0, -1)]


def days_from(start: str, n: int) -> list[str]:
    """`n` consecutive days starting at `start`."""
    first = dt.date.fromisoformat(start)
    return [(first + dt.timedelta(days=i)).isoformat() for i in range(n)]


def week_before(ds: str) -> str:
    """The same weekday one week earlier (what the stability gate compares with)."""
    return (dt.date.fromisoformat(ds) - dt.timedelta(days=7)).isoformat()


@dataclass(frozen=True)
class Window:
    """The days the dataset of a test day reads: lookback (history only) then training days."""

    lookback: list[str]
    train: list[str]

    @property
    def days(self) -> list[str]:
        """Every day before the test day that the dataset reads, oldest first."""
        return [*self.lookback, *self.train]


def training_window(cfg: Config, ds: str) -> Window:
    """The profile's `train_days` before `ds`, and `dataset.lookback_days` before those."""
    n, back = cfg.active.train_days, cfg.dataset.lookback_days
    before = days_before(ds, n + back)
    return Window(lookback=before[:back], train=before[back:])


@dataclass(frozen=True)
class Layout:
    """Every path of one workspace, by what it holds."""

    root: Path
    paths: PathsConfig

    def _at(self, relative: str) -> Path:
        return self.root / relative

    # -- landing and the stores of days -------------------------------------------------

    @property
    def landing(self) -> Path:
        return self._at(self.paths.landing)

    def landing_day(self, ds: str, landing: Path | None = None) -> Path:
        """A day in the landing zone (or in another drop zone `landing`)."""
        return day_dir(landing or self.landing, ds)

    def truth_day(self, ds: str, landing: Path | None = None) -> Path:
        """The simulator's ground truth of day `ds` (absent for real logs)."""
        return truth_dir(landing or self.landing, ds)

    @property
    def raw(self) -> Path:
        return self._at(self.paths.raw)

    def raw_day(self, ds: str) -> Path:
        return day_dir(self.raw, ds)

    def raw_manifest(self, ds: str) -> Path:
        return self.raw_day(ds) / RAW_MANIFEST

    @property
    def quarantine(self) -> Path:
        return self._at(self.paths.quarantine)

    def quarantine_day(self, ds: str) -> Path:
        return day_dir(self.quarantine, ds)

    def quarantine_manifest(self, ds: str) -> Path:
        return self.quarantine_day(ds) / RAW_MANIFEST

    def quarantine_result(self, ds: str) -> Path:
        return self.quarantine_day(ds) / QUARANTINE_RESULT

    @property
    def validation(self) -> Path:
        return self._at(self.paths.validation)

    def validation_day(self, ds: str) -> Path:
        return day_dir(self.validation, ds)

    def validation_result(self, ds: str) -> Path:
        return self.validation_day(ds) / VALIDATION_RESULT

    def validation_summary(self, ds: str) -> Path:
        return self.validation_day(ds) / VALIDATION_SUMMARY

    @property
    def releases(self) -> Path:
        return self.validation / RELEASES

    @property
    def data_docs(self) -> Path:
        return self._at(self.paths.data_docs)

    def data_docs_day(self, ds: str) -> Path:
        return day_dir(self.data_docs, ds)

    def data_docs_page(self, ds: str) -> Path:
        """The entry page Great Expectations renders for the day's site."""
        return self.data_docs_day(ds) / REPORT_PAGE

    # -- datasets, models, exports --------------------------------------------------------

    def dataset_day(self, ds: str) -> Path:
        return day_dir(self._at(self.paths.datasets), ds)

    def dataset_meta(self, ds: str) -> Path:
        return self.dataset_day(ds) / DATASET_META

    @property
    def models(self) -> Path:
        return self._at(self.paths.models)

    def candidates_day(self, ds: str) -> Path:
        return day_dir(self.models / "candidates", ds)

    def candidate_weights(self, ds: str, model: str = "hrlrec") -> Path:
        return self.candidates_day(ds) / f"{model}.pt"

    def export_day(self, ds: str) -> Path:
        return day_dir(self.models / "exports", ds)

    # -- the registry ---------------------------------------------------------------------

    @property
    def registry(self) -> Path:
        return self.models / "registry"

    @property
    def registry_versions(self) -> Path:
        return self.registry / "versions"

    def version_dir(self, name: str) -> Path:
        return self.registry_versions / name

    def version_file(self, name: str) -> Path:
        """version.json of a registered version: what it is, where it came from, what the gates said."""
        return self.version_dir(name) / VERSION_FILE

    @property
    def production_pointer(self) -> Path:
        return self.registry / POINTER

    @property
    def registry_history(self) -> Path:
        return self.registry / HISTORY

    # -- stability records ----------------------------------------------------------------

    @property
    def stability(self) -> Path:
        return self._at(self.paths.stability)

    def stability_record(self, kind: str, ds: str) -> Path:
        """`kind` is candidate (written by the gate) or production (written at publish)."""
        return self.stability / kind / f"ds={ds}.json"

    @property
    def memo(self) -> Path:
        """Rankings one step keeps for the next (hrlrec.serving.memo); deleting it costs only time."""
        return self._at(self.paths.memo)

    def memo_day(self, ds: str) -> Path:
        return day_dir(self.memo, ds)

    # -- results and reports --------------------------------------------------------------

    @property
    def metrics(self) -> Path:
        return self._at(self.paths.metrics)

    def result(self, step: str) -> Path:
        """metrics/<step>.json: the latest run of a step (what DVC tracks)."""
        return self.metrics / f"{step}.json"

    def result_day(self, step: str, ds: str) -> Path:
        """metrics/days/ds=D/<step>.json: the step's result for day `ds`, kept per day."""
        return day_dir(self.metrics / ARCHIVE, ds) / f"{step}.json"

    @property
    def results_archive(self) -> Path:
        return self.metrics / ARCHIVE

    @property
    def plots(self) -> Path:
        return self.metrics / PLOTS

    @property
    def reports(self) -> Path:
        return self._at(self.paths.reports)

    def report_page(self, ds: str) -> Path:
        return day_dir(self.reports, ds) / REPORT_PAGE

    @property
    def notifications(self) -> Path:
        return self.reports / NOTIFICATIONS

    @property
    def dvc_lock(self) -> Path:
        return self.root / "dvc.lock"

    @property
    def params_file(self) -> Path:
        return self.root / PARAMS

    @property
    def data_checks(self) -> Path:
        return self.root / DATA_CHECKS

    def resolve(self, relative: str) -> Path:
        """A workspace-relative path a setting names (e.g. `validation.suites_dir`)."""
        return self._at(relative)
