"""The impression-log simulator: the embedded default source of the pipeline.

`run` writes days in the landing layout every real source must follow:

    OUT/ds=YYYY-MM-DD/part-00000.parquet ... _SUCCESS
    OUT/_truth/ds=YYYY-MM-DD/part-00000.parquet   (true p_click, propensity)

The ground truth sits beside the logs, never inside the contract, so that
evaluation can report the oracle AUC of a day without leaking it to models.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from hrlrec import atomic
from hrlrec.config import Config
from hrlrec.layout import SUCCESS, day_dir, days_from, truth_dir
from hrlrec.simulator.day import simulate_day
from hrlrec.simulator.world import World

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SimulatedDay:
    """What was written for one day."""

    ds: str
    rows: int
    clicks: int
    path: Path


@dataclass(frozen=True)
class SimulateResult:
    days: list[SimulatedDay]
    seconds: float

    @property
    def rows(self) -> int:
        return sum(d.rows for d in self.days)


def run(cfg: Config, start: str, days: int, out: Path) -> SimulateResult:
    """Simulate `days` days from `start` into `out`; each day is written atomically.

    The truth sidecar is written first and the day's partition last, with its
    `_SUCCESS` marker as the last file, so a sensor that sees `_SUCCESS` sees a
    complete day with its truth already in place.
    """
    t0 = time.perf_counter()
    world = World(cfg)
    written = []
    for ds in days_from(start, days):
        rows = clicks = 0
        with atomic.atomic_dir(day_dir(out, ds)) as day_tmp, atomic.atomic_dir(truth_dir(out, ds)) as truth_tmp:
            for i, chunk in enumerate(simulate_day(world, ds)):
                name = f"part-{i:05d}.parquet"
                pq.write_table(chunk.truth, truth_tmp / name)
                pq.write_table(chunk.impressions, day_tmp / name, row_group_size=131_072)
                rows += chunk.impressions.num_rows
                clicks += int(chunk.impressions.column("clicked").to_numpy().sum())
            (day_tmp / SUCCESS).touch()
        log.info("simulated %s: %d impressions, CTR %.3f", ds, rows, clicks / max(rows, 1))
        written.append(SimulatedDay(ds=ds, rows=rows, clicks=clicks, path=day_dir(out, ds)))
    return SimulateResult(days=written, seconds=time.perf_counter() - t0)
