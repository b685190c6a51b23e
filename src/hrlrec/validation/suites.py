"""Load the expectation suites kept as YAML under data_checks/ and fill in parameters.

A suite file names its `frame` (what one row is), whether it is a `trailing`
comparison (skipped without enough history), and its expectations in GX 1.x's
configuration form (`type`, `kwargs`, `meta`). Values written
`{$PARAMETER: name}` are replaced from params.yaml before the suite reaches Great
Expectations, so Data Docs show the real thresholds an on-call engineer judges
against.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hrlrec.config import Config
from hrlrec.errors import BadInput
from hrlrec.layout import DATA_CHECKS, Layout

FRAMES = ("impressions", "sessions", "day", "channels", "propensities")
OPTIONAL_FRAMES = {"propensities": "propensity"}  # frame -> the optional contract column it needs
PARAMETER = "$PARAMETER"
TYPE_EXPECTATIONS = ("expect_column_values_to_be_of_type", "expect_column_values_to_be_in_type_list")


@dataclass(frozen=True)
class Suite:
    """One expectation suite: its name, the frame it checks, and its expectations."""

    name: str
    frame: str
    trailing: bool
    expectations: list[dict[str, Any]] = field(default_factory=list)

    @property
    def judges_types(self) -> bool:
        """Whether an expectation judges a column's type (it must see the frame's own dtypes)."""
        return any(e.get("type") in TYPE_EXPECTATIONS for e in self.expectations)


def suites_dir(cfg: Config, layout: Layout) -> Path:
    """The folder holding the suites.

    `validation.suites_dir` (relative to the workspace) when set; else the
    workspace's own data_checks/ (a clone of the project run with `dvc repro`,
    whose stage tracks that folder); else the data_checks/ of the hrlrec checkout
    the package runs from.
    """
    if cfg.validation.suites_dir is not None:
        return layout.resolve(cfg.validation.suites_dir)
    if layout.data_checks.is_dir():
        return layout.data_checks
    return Path(__file__).resolve().parents[3] / DATA_CHECKS  # the hrlrec checkout's own suites


def parameters(cfg: Config, ds: str) -> dict[str, Any]:
    """The values `{$PARAMETER: name}` stands for, derived from the config and the day."""
    v = cfg.validation
    return {
        "ds": ds,
        "channels": list(cfg.channels),
        "list_len": cfg.list_len,
        "max_position": cfg.list_len - 1,
        "event_time_min_s": -v.event_time_tolerance_s,
        "event_time_max_s": 86_400 + v.event_time_tolerance_s,
        "min_volume_ratio": 1.0 / v.max_volume_ratio,
        "max_volume_ratio": v.max_volume_ratio,
        "min_share_change": -v.max_share_change,
        "max_share_change": v.max_share_change,
        "min_ctr_change": -v.max_ctr_change,
        "max_ctr_change": v.max_ctr_change,
        **{f"{column}_min": lo for column, (lo, _) in v.bounds.items()},
        **{f"{column}_max": hi for column, (_, hi) in v.bounds.items()},
    }


def load(folder: Path, params: dict[str, Any]) -> list[Suite]:
    """Read every `*.yaml` suite in `folder`, parameters filled in, in name order."""
    files = sorted(folder.glob("*.yaml"))
    if not files:
        raise BadInput(f"{folder}: no expectation suites (*.yaml) found; set validation.suites_dir")
    return [_load_one(f, params) for f in files]


def _load_one(path: Path, params: dict[str, Any]) -> Suite:
    try:
        spec = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise BadInput(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(spec, dict) or spec.get("frame") not in FRAMES or not spec.get("expectations"):
        raise BadInput(f"{path}: a suite needs `name`, `frame` (one of {', '.join(FRAMES)}) and `expectations`")
    checks = set()
    for i, exp in enumerate(spec["expectations"]):
        check = (exp.get("meta") or {}).get("check")
        if not check or check in checks:
            raise BadInput(f"{path}: expectation {i} needs a unique meta.check name, got {check!r}")
        checks.add(check)
    expectations = [_fill(exp, params, path) for exp in spec["expectations"]]
    return Suite(
        name=str(spec.get("name", path.stem)),
        frame=spec["frame"],
        trailing=bool(spec.get("trailing", False)),
        expectations=expectations,
    )


def _fill(node: Any, params: dict[str, Any], path: Path) -> Any:
    if isinstance(node, dict):
        if set(node) == {PARAMETER}:
            name = node[PARAMETER]
            if name not in params:
                raise BadInput(f"{path}: unknown parameter {name!r}; known: {', '.join(sorted(params))}")
            return params[name]
        return {k: _fill(v, params, path) for k, v in node.items()}
    if isinstance(node, list):
        return [_fill(v, params, path) for v in node]
    return node
