"""The workspace: the folder every output of a run goes under.

A workspace holds `params.yaml`, data, metrics and (later) models and reports.
The project checkout can be one (`dvc repro` there); `make run` and the tests
use separate folders so that a demo or a test never writes into the checkout.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from hrlrec import config
from hrlrec.config import Config

log = logging.getLogger(__name__)

PARAMS = "params.yaml"


@dataclass(frozen=True)
class Workspace:
    """A workspace folder and the configuration it runs with."""

    root: Path
    cfg: Config

    @classmethod
    def open(cls, root: Path, params: Path | None = None, overrides: Sequence[str] = ()) -> Workspace:
        """Load `params` (default: ROOT/params.yaml, else the built-in defaults)."""
        root = root.resolve()
        if params is None and (root / PARAMS).is_file():
            params = root / PARAMS
        if params is None:
            log.info("no %s in %s; using the built-in defaults", PARAMS, root)
        return cls(root=root, cfg=config.load(params, overrides))

    def path(self, relative: str) -> Path:
        """Resolve a configured path against the workspace root."""
        return self.root / relative

    @property
    def landing(self) -> Path:
        return self.path(self.cfg.paths.landing)

    @property
    def raw(self) -> Path:
        return self.path(self.cfg.paths.raw)
