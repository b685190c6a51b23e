"""The on-call page: one self-contained HTML file per day saying what failed, by how much, and what to run next.

step      `run(workspace, ds)`: render and write reports/ds=D/index.html
inputs    everything the page reads, tolerant of missing and damaged files
summary, gates, auc, channels, data, lineage, commands, decision   one section each
page, charts   HTML building blocks and the embedded figures
"""

from hrlrec.report.step import render, run

__all__ = ["render", "run"]
