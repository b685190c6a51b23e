"""The release gates by name: one place that knows which step function each gate runs.

The CLI, the Airflow tasks and publish all name gates (evaluate, stability,
export); each gate writes metrics/<name>.json and returns a Verdict.
"""

from __future__ import annotations

from pathlib import Path

from hrlrec.config import Config
from hrlrec.verdict import Verdict

GATES = ("evaluate", "stability", "export")


def run(name: str, cfg: Config, ds: str, root: Path) -> Verdict:
    """Run gate `name` for day `ds` (heavy imports happen here, not at import time)."""
    if name == "evaluate":
        from hrlrec import evaluate as step
    elif name == "stability":
        from hrlrec import stability as step
    elif name == "export":
        from hrlrec.serving import export as step
    else:
        raise ValueError(f"unknown gate {name!r}; expected one of {', '.join(GATES)}")
    return step.run(cfg, ds, root)
