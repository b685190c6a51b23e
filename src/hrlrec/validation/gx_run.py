"""Run suites through Great Expectations 1.x and turn its results into plain outcomes.

One ephemeral data context per validation run: a pandas data source with one
dataframe asset per frame, a validation definition per suite, and a checkpoint
per suite; `build_docs` renders the day's Data Docs (every validation result of
the run, its suites and the index) into a folder we choose, once at the end.
Nothing is kept in a GX project folder: the suites live in data_checks/, the
results in metrics/validate.json and the Data Docs.
"""

from __future__ import annotations

import html
import logging
import os
import re
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hrlrec import contract
from hrlrec.validation.suites import Suite

log = logging.getLogger(__name__)

SITE = "day"
# Which columns identify a failing row in each frame (shown as examples).
ROW_IDS = {
    "impressions": ["session_id", "position"], "sessions": ["session_id"], "channels": ["channel"], "day": [],
    "propensities": ["session_id", "position"],
}  # fmt: skip
THRESHOLD_KEYS = (
    "min_value",
    "max_value",
    "value_set",
    "column_set",
    "column_list",
    "type_",
    "mostly",
    "row_condition",
)


@dataclass
class Outcome:
    """One expectation's verdict on one frame (chunks of a frame merged)."""

    suite: str
    check: str
    expectation: str
    column: str | None
    why: str
    success: bool
    threshold: dict[str, Any]
    observed: Any = None
    element_count: int | None = None
    unexpected_count: int | None = None
    unexpected_percent: float | None = None
    examples: list[Any] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def merge(self, other: Outcome) -> None:
        """Fold the same expectation's outcome on another chunk into this one."""
        self.success = self.success and other.success
        if other.element_count is not None:
            self.element_count = (self.element_count or 0) + other.element_count
        if other.unexpected_count is not None:
            self.unexpected_count = (self.unexpected_count or 0) + other.unexpected_count
        if self.element_count and self.unexpected_count is not None:
            self.unexpected_percent = 100.0 * self.unexpected_count / self.element_count
        self.examples = (self.examples + other.examples)[:5]
        if self.observed is None:
            self.observed = other.observed


class GxRunner:
    """A GX data context set up for one day: register suites, validate frames, build Data Docs."""

    def __init__(self, suites: list[Suite], docs_dir: Path) -> None:
        os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
        logging.getLogger("great_expectations").setLevel(logging.WARNING)
        import great_expectations as gx
        from great_expectations.core import ExpectationSuite
        from great_expectations.data_context.types.base import DataContextConfig, InMemoryStoreBackendDefaults

        site = {
            "class_name": "SiteBuilder",
            "show_how_to_buttons": False,
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir)},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        }
        project = DataContextConfig(
            store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
            data_docs_sites={SITE: site},
            analytics_enabled=False,
        )
        self.context = gx.get_context(mode="ephemeral", project_config=project)
        self.context.variables.progress_bars = {"globally": False, "metric_calculations": False}
        source = self.context.data_sources.add_pandas("hrlrec")
        self._checkpoints = {}
        self._results: list[Any] = []  # identifiers of this run's validation results, for build_docs
        for suite in suites:
            asset = source.add_dataframe_asset(suite.name)
            batch = asset.add_batch_definition_whole_dataframe(f"{suite.name}-day")
            gx_suite = self.context.suites.add(ExpectationSuite(name=suite.name, expectations=suite.expectations))
            definition = self.context.validation_definitions.add(
                gx.ValidationDefinition(name=suite.name, data=batch, suite=gx_suite)
            )
            result_format: dict[str, Any] = {"result_format": "SUMMARY", "partial_unexpected_count": 5}
            if ROW_IDS[suite.frame]:
                result_format["unexpected_index_column_names"] = ROW_IDS[suite.frame]
            self._checkpoints[suite.name] = self.context.checkpoints.add(
                gx.Checkpoint(
                    name=f"{suite.name}-checkpoint",
                    validation_definitions=[definition],
                    actions=[],  # the Data Docs are built once, by build_docs
                    result_format=result_format,
                )
            )

    def validate(self, suite: Suite, frame: pd.DataFrame) -> list[Outcome]:
        """Run `suite` on `frame` through its checkpoint; Data Docs are updated as a side effect.

        Text is HTML-escaped on its way into GX: the Data Docs renderer writes unexpected
        values into the page raw, so a value like `<script>` in the logs would run in the
        browser of whoever opens the on-call page's link (stored XSS). Valid values (channel
        and device names, days) contain no markup characters, so no check's outcome changes;
        the examples we record are unescaped again. Narrow numbers are widened for a suite
        that judges no type (widen_numbers: GX's range checks are vectorised only then).
        """
        frame = escape_text(frame)
        if not suite.judges_types:
            frame = widen_numbers(frame)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = self._checkpoints[suite.name].run(batch_parameters={"dataframe": frame})
        outcomes = []
        for identifier, run in result.run_results.items():
            self._results.append(identifier)
            for r in run.results:
                outcomes.append(_outcome(suite, r))
        return outcomes

    def build_docs(self) -> None:
        """Render the Data Docs of every validation run so far, their suites and the index, in one build.

        A checkpoint's UpdateDataDocsAction builds the site at every run, and each
        build compiles GX's Jinja templates anew (a fresh template environment per
        page renderer): with a suite per frame and a run per chunk of a large day
        that fixed cost was repeated 4-6 times a day, ~1/3 of validating a
        1M-row day (docs/results.md). The pages are the same.
        """
        suites = {identifier.expectation_suite_identifier for identifier in self._results}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.context.build_data_docs(
                site_names=[SITE], resource_identifiers=[*self._results, *suites], build_index=True
            )


_MARKUP = r"[<>&\"']"
MAX_VALUE_CHARS = 200  # a text value longer than this is cut before GX, our results or a page see it


def cut(text: str, limit: int = MAX_VALUE_CHARS) -> str:
    """contract.cut at validation's bound."""
    return contract.cut(text, limit)


def widen_numbers(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with narrow integer and float columns widened to int64 and float64 (a shallow copy).

    GX 1.x's pandas `expect_column_values_to_be_between` is vectorised only when
    `column.dtype in [int, float]`, i.e. int64 and float64; on the contract's int8,
    int16, int32 and float32 columns it calls a Python function per row (on a
    300k-row day, 2.3M calls and ~60 % of the checking time). Widening is exact
    (every int8-int32 and float32 value is representable), so no check's outcome
    changes; it costs at most 8 bytes per widened value of the chunk.
    """
    narrow = [
        c for c in frame.columns
        if pd.api.types.is_numeric_dtype(frame[c].dtype)
        and not pd.api.types.is_bool_dtype(frame[c].dtype)
        and isinstance(frame[c].dtype, np.dtype)
        and frame[c].dtype not in (np.dtype(np.int64), np.dtype(np.float64))
    ]  # fmt: skip
    if not narrow:
        return frame
    out = frame.copy(deep=False)
    for c in narrow:
        out[c] = frame[c].astype(np.float64 if frame[c].dtype.kind == "f" else np.int64)
    return out


def escape_text(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with long text values cut and markup characters HTML-escaped (a copy only when needed).

    Cutting keeps every check's outcome: valid values (channel and device names, days) are
    short, and a cut value still differs from all of them. It keeps GX's examples, the Data
    Docs and our results small whatever a broken source wrote (one 50 MB value once made
    validate write 4 x 52 MB of JSON).
    """
    out = frame
    for column in frame.columns:
        values = frame[column]
        if isinstance(values.dtype, pd.CategoricalDtype):
            escaped_categories = _escaped_categories(values)
            if escaped_categories is not None:  # each distinct value tested once, the codes untouched
                if escaped_categories != list(values.cat.categories):
                    if out is frame:
                        out = frame.copy()
                    out[column] = values.cat.rename_categories(escaped_categories)
                continue
            values = values.astype(object)  # two categories escape alike: judged value by value below
        elif values.dtype != object and not pd.api.types.is_string_dtype(values.dtype):
            continue
        risky = _risky_text(values)
        if risky.any():
            if out is frame:
                out = frame.copy()
            escaped = values.to_numpy(dtype=object, copy=True)
            mask = risky
            escaped[mask] = [html.escape(cut(v)) for v in escaped[mask]]
            out[column] = pd.Series(escaped, index=values.index, dtype=values.dtype)
    return out


def _escaped_categories(values: pd.Series) -> list[Any] | None:
    """A categorical's categories, escaped like text values; None if two of them would become one."""
    categories = pd.Series(values.cat.categories, dtype=object)
    risky = _risky_text(categories)
    escaped = [html.escape(cut(v)) if r else v for v, r in zip(categories, risky, strict=True)]
    return escaped if len(set(escaped)) == len(escaped) else None


def _risky_text(values: pd.Series) -> np.ndarray:
    """Which values are text with markup characters or over MAX_VALUE_CHARS.

    Text columns of the logs hold few distinct values (days, channels, devices), so
    each distinct value is tested once and the answer spread back by its code: a
    Python test per row cost ~0.8 s per 300k-row chunk. A column whose values cannot
    be hashed (a list that bypassed ingest) is tested row by row.
    """
    try:
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
    except TypeError:
        return np.fromiter((_is_risky(v) for v in values), dtype=bool, count=len(values))
    per_unique = np.fromiter((_is_risky(v) for v in uniques), dtype=bool, count=len(uniques))
    return np.append(per_unique, False)[codes]  # code -1 (a missing value) reads the appended False


def _is_risky(value: Any) -> bool:
    return isinstance(value, str) and (len(value) > MAX_VALUE_CHARS or re.search(_MARKUP, value) is not None)


def _unescape(value: Any) -> Any:
    """Undo escape_text in a recorded value (strings inside dicts and lists too)."""
    if isinstance(value, str):
        return html.unescape(value)
    if isinstance(value, dict):
        return {k: _unescape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unescape(v) for v in value]
    return value


def _outcome(suite: Suite, r: Any) -> Outcome:
    config = r.expectation_config
    kwargs = dict(config.kwargs)
    meta = config.meta or {}
    res = r.result or {}
    if r.exception_info and r.exception_info.get("raised_exception"):
        # An expectation that could not run is a failure, with GX's message as what was observed.
        observed: Any = cut(f"error: {r.exception_info.get('exception_message')}", 2000)
        success = False
    else:
        observed = _plain(res.get("observed_value"))
        success = bool(r.success)
    examples = res.get("partial_unexpected_index_list") or res.get("partial_unexpected_list") or []
    return Outcome(
        suite=suite.name,
        check=str(meta.get("check", config.type)),
        expectation=config.type,
        column=kwargs.get("column") or (", ".join(kwargs["column_list"]) if "column_list" in kwargs else None),
        why=str(meta.get("why", "")),
        success=success,
        # A map expectation without explicit bounds asks every row to comply: mostly = 1.0.
        threshold={k: _plain(kwargs[k]) for k in THRESHOLD_KEYS if kwargs.get(k) is not None} or {"mostly": 1.0},
        observed=observed,
        element_count=res.get("element_count"),
        unexpected_count=res.get("unexpected_count"),
        unexpected_percent=res.get("unexpected_percent"),
        examples=[_unescape(_plain(e)) for e in examples[:5]] if not success else [],
    )


def _plain(value: Any) -> Any:
    """JSON-friendly copy of a GX/numpy value."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and callable(value.item):
        try:
            return value.item()
        except (TypeError, ValueError):
            return str(value)
    if isinstance(value, str):
        return cut(value)
    if isinstance(value, float | int | bool) or value is None:
        return value
    return cut(str(value))
