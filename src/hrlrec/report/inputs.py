"""Everything the on-call page shows, read from the workspace without failing on a missing file.

The page is most needed when a run broke half-way, so every reader returns
None (or an empty collection) for a file that is not there, and a damaged file
is named in `Inputs.problems` instead of raising.

Gate results come from the per-day archive `metrics/days/ds=D/<gate>.json`; the
top-level `metrics/<gate>.json` holds only the latest run and is used for day D
only when its `ds` says D. The validation record of the day
(`data/validation/ds=D/result.json`) comes first for validation, because a
release from quarantine rewrites it.
"""

from __future__ import annotations

import json
import shlex
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hrlrec import checkpoints
from hrlrec.config import Config
from hrlrec.layout import SUCCESS, Layout, days_before, week_before
from hrlrec.pipeline import GATES as RELEASE_GATES
from hrlrec.workspace import Workspace

GATES = ("validate", *RELEASE_GATES)
HISTORY_DAYS = 30  # days of AUC history on the page
VOLUME_DAYS = 7  # trailing days the day's volumes are compared with (validation's window by default)

JsonDict = dict[str, Any]


@dataclass
class Inputs:
    """What one day's run left in the workspace; None where a file is missing."""

    ds: str
    root: Path
    cfg: Config
    layout: Layout
    gates: dict[str, JsonDict | None]  # validate, evaluate, stability, export
    train: JsonDict | None
    publish: JsonDict | None
    record: JsonDict | None  # the candidate's stability record of the day
    baseline: JsonDict | None  # production's stability record a week back
    auc_history: dict[str, JsonDict]  # ds -> that day's evaluate result, the last HISTORY_DAYS days
    volumes: dict[str, int] | None  # rows per channel on the day
    trailing_volumes: dict[str, dict[str, int]]  # ds -> rows per channel, validated days before
    production: JsonDict | None  # models/registry/production.json
    production_meta: JsonDict | None  # version.json of the version in production
    previous_version: str | None  # the version production replaced: the default rollback target
    candidate_sha256: str | None
    git_revision: str | None
    dvc_outs: list[tuple[str, str, str]] | None  # (stage, path, md5) from dvc.lock
    problems: list[str] = field(default_factory=list)  # damaged files, named for the page

    def rel(self, path: Path) -> str:
        """`path` relative to the workspace, as a person would type it there."""
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)

    def cli(self, step: str, *args: str, day: bool = True) -> str:
        """The exact `hrlrec` command for this workspace (and day, unless `day` is False), ready to paste."""
        ds = ["--ds", self.ds] if day else []
        return " ".join(["hrlrec", step, "--workspace", shlex.quote(str(self.root)), *ds, *args])

    def ingested(self) -> bool:
        """Whether ingestion completed the day (it may since have moved to quarantine)."""
        days = (self.layout.raw_day(self.ds), self.layout.quarantine_day(self.ds))
        return any((d / SUCCESS).is_file() for d in days)

    def gate_path(self, gate: str, ds: str | None = None) -> Path:
        return self.layout.result_day(gate, ds or self.ds)


class _Reader:
    """JSON and YAML reads that collect problems instead of raising."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.problems: list[str] = []

    def json(self, path: Path) -> JsonDict | None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            self.problems.append(f"{path}: unreadable ({exc}); shown as missing")
            return None
        if not isinstance(data, dict):
            self.problems.append(f"{path}: expected a JSON object; shown as missing")
            return None
        return data

    def gate(self, gate: str, ds: str) -> JsonDict | None:
        """Day `ds`'s result of `gate`: the archive, else the latest result when it is for `ds`."""
        archived = self.json(self.layout.result_day(gate, ds))
        if archived is not None:
            return archived
        latest = self.json(self.layout.result(gate))
        return latest if latest is not None and latest.get("ds") == ds else None

    def dvc_outs(self, path: Path) -> list[tuple[str, str, str]] | None:
        try:
            lock = yaml.safe_load(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, yaml.YAMLError) as exc:
            self.problems.append(f"{path}: unreadable ({exc}); shown as missing")
            return None
        stages = lock.get("stages", {}) if isinstance(lock, dict) else {}
        return [
            (str(stage), str(out.get("path")), str(out.get("md5") or out.get("hash") or "?"))
            for stage, body in stages.items()
            for out in (body or {}).get("outs", [])
            if isinstance(out, dict)
        ]


def _volumes(layout: Layout, reader: _Reader, ds: str) -> dict[str, int] | None:
    """Rows per channel of day `ds` as ingestion counted them (raw or quarantined), else validation's."""
    for path in (layout.raw_manifest(ds), layout.quarantine_manifest(ds)):
        manifest = reader.json(path)
        if manifest is not None and isinstance(manifest.get("rows_per_channel"), dict):
            return {str(k): int(v) for k, v in manifest["rows_per_channel"].items()}
    summary = reader.json(layout.validation_summary(ds))
    return {str(k): int(v) for k, v in summary["channel_rows"].items()} if summary else None


def _trailing_volumes(layout: Layout, reader: _Reader, ds: str) -> dict[str, dict[str, int]]:
    """Rows per channel of the validated (passed or released) days before `ds`: validation's own history."""
    out = {}
    for day in days_before(ds, VOLUME_DAYS):
        summary = reader.json(layout.validation_summary(day))
        if summary is not None:
            out[day] = {str(k): int(v) for k, v in summary.get("channel_rows", {}).items()}
    return out


def _git_revision(root: Path) -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=False, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None


def _previous_version(history_file: Path, current: str | None) -> str | None:
    """What the latest promotion of `current` replaced: where `hrlrec rollback` goes by default."""
    if current is None or not history_file.is_file():
        return None
    for line in reversed(history_file.read_text(encoding="utf-8").splitlines()):
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(event, dict) and event.get("version") == current:
            return event.get("previous")
    return None


def read(ws: Workspace, ds: str) -> Inputs:
    """Read every input of the page for day `ds`."""
    layout = ws.layout
    reader = _Reader(layout)
    validation = reader.json(layout.validation_result(ds))
    gates = {g: reader.gate(g, ds) for g in GATES}
    gates["validate"] = validation or gates["validate"]

    production = reader.json(layout.production_pointer)
    current = production.get("version") if production else None
    production_meta = reader.json(layout.version_file(str(current))) if current else None

    card = reader.json(checkpoints.card_path(layout.candidate_weights(ds)))
    record = reader.json(layout.stability_record("candidate", ds))
    candidate_sha = (card or {}).get("sha256") or (record or {}).get("model_sha256")

    history = {}
    for day in [*days_before(ds, HISTORY_DAYS - 1), ds]:
        result = reader.gate("evaluate", day)
        if result is not None:
            history[day] = result

    return Inputs(
        ds=ds,
        root=ws.root,
        cfg=ws.cfg,
        layout=layout,
        gates=gates,
        train=reader.gate("train", ds),
        publish=reader.gate("publish", ds),
        record=record,
        baseline=reader.json(layout.stability_record("production", week_before(ds))),
        auc_history=history,
        volumes=_volumes(layout, reader, ds),
        trailing_volumes=_trailing_volumes(layout, reader, ds),
        production=production,
        production_meta=production_meta,
        previous_version=_previous_version(layout.registry_history, current),
        candidate_sha256=candidate_sha,
        git_revision=_git_revision(ws.root),
        dvc_outs=reader.dvc_outs(layout.dvc_lock),
        problems=reader.problems,  # every read above is done by now
    )
