"""The workspace: the folder every output of a run goes under, with the configuration it runs with.

A workspace holds `params.yaml`, data, metrics, models and reports. The project
checkout can be one (`dvc repro` there); `make run` and the tests use separate
folders so that a demo or a test never writes into the checkout. Every step is
a function of `(workspace, ds, **options)`; `workspace.layout` says where each
of its files lives.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from hrlrec import config
from hrlrec.config import Config
from hrlrec.layout import PARAMS, Layout, Window, training_window

log = logging.getLogger(__name__)

__all__ = ["PARAMS", "Workspace"]


@dataclass(frozen=True)
class Workspace:
    """A workspace folder, the configuration it runs with, and its layout."""

    root: Path
    cfg: Config
    layout: Layout = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "layout", Layout(self.root, self.cfg.paths))

    @classmethod
    def open(cls, root: Path, params: Path | None = None, overrides: Sequence[str] = ()) -> Workspace:
        """Load `params` (default: ROOT/params.yaml, else the built-in defaults)."""
        root = Path(root).resolve()
        if params is None and (root / PARAMS).is_file():
            params = root / PARAMS
        if params is None:
            log.info("no %s in %s; using the built-in defaults", PARAMS, root)
        return cls(root=root, cfg=config.load(params, overrides))

    def window(self, ds: str) -> Window:
        """The days before `ds` that its dataset reads (lookback, then training days)."""
        return training_window(self.cfg, ds)
