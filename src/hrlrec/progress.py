"""Progress of long work: a bar with an ETA on a terminal, plain periodic log lines everywhere else.

Simulating days, building a dataset, training epochs, ranking a day's sample and
the export proofs each take from seconds to many minutes. On a terminal the ML
engineer gets a tqdm bar with its rate and ETA; under Airflow, DVC or CI
(stderr is not a terminal) a bar would be a wall of carriage returns in the task
log, so the same loop writes one ordinary log line every `every_s` seconds
instead:

    ranking 8000 requests: 3072/8000 (38 %), 512.3 requests/s, ETA 0:09

`HRLREC_PROGRESS` forces the choice: `bar`, `log` or `off`.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

from tqdm import tqdm

log = logging.getLogger("hrlrec.progress")

T = TypeVar("T")
MODES = ("bar", "log", "off")


def mode() -> str:
    """bar on a terminal, log elsewhere, unless HRLREC_PROGRESS says otherwise."""
    forced = os.environ.get("HRLREC_PROGRESS", "").strip().lower()
    if forced:
        if forced not in MODES:
            raise ValueError(f"HRLREC_PROGRESS={forced!r}: choose one of {', '.join(MODES)}")
        return forced
    return "bar" if sys.stderr.isatty() else "log"


def _clock(seconds: float) -> str:
    seconds = round(seconds)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class Progress:
    """Counts steps of one piece of work and shows them (see the module doc).

    Use as an iterator wrapper (`track`) or directly: `update(n)`, `note(**numbers)`, `close()`.
    """

    def __init__(self, desc: str, total: int | None, unit: str = "it", every_s: float = 30.0,
                 enabled: bool = True, clock: Any = time.monotonic) -> None:  # fmt: skip
        self.desc, self.total, self.unit, self.every_s = desc, total, unit, every_s
        self.clock = clock
        self.done = 0
        self.numbers: dict[str, str] = {}
        self.kind = mode() if enabled else "off"
        self.start = self.last = clock()
        self.bar = (
            tqdm(total=total, desc=desc, unit=unit, mininterval=1.0, leave=False, dynamic_ncols=True)
            if self.kind == "bar"
            else None
        )

    def update(self, n: int = 1) -> None:
        self.done += n
        if self.bar is not None:
            self.bar.update(n)
        elif self.kind == "log" and self.clock() - self.last >= self.every_s:
            self.last = self.clock()
            log.info("%s", self.line())

    def note(self, **numbers: Any) -> None:
        """Numbers shown beside the count (e.g. the running loss)."""
        self.numbers = {k: str(v) for k, v in numbers.items()}
        if self.bar is not None:
            self.bar.set_postfix(self.numbers, refresh=False)

    def line(self) -> str:
        """The log line: done/total, share, rate and ETA."""
        elapsed = max(self.clock() - self.start, 1e-9)
        rate = self.done / elapsed
        parts = [f"{self.desc}: {self.done}" + (f"/{self.total} ({self.done / self.total:.0%})" if self.total else "")]
        parts.append(f"{rate:,.1f} {self.unit}/s")
        if self.total and rate > 0:
            parts.append(f"ETA {_clock((self.total - self.done) / rate)}")
        else:
            parts.append(f"elapsed {_clock(elapsed)}")
        parts.extend(f"{k} {v}" for k, v in self.numbers.items())
        return ", ".join(parts)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def track(
    items: Iterable[T], desc: str, total: int | None = None, unit: str = "it", every_s: float = 30.0,
    enabled: bool = True, weight: Any = None,
) -> Iterator[T]:  # fmt: skip
    """Yield `items`, counting each (or `weight(item)` units of it) in a `Progress`."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    progress = Progress(desc, total, unit, every_s, enabled)
    try:
        for item in items:
            yield item
            progress.update(weight(item) if weight is not None else 1)
    finally:
        progress.close()


def batch_starts(n: int, batch: int, desc: str, unit: str) -> Iterator[int]:
    """The start of each `batch`-sized slice of `n` things, counted in things (not batches)."""
    return track(range(0, n, batch), desc, total=n, unit=unit, weight=lambda i: min(batch, n - i))
