"""Shared fixtures: a tiny simulated world, generated inside the test session (no network)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hrlrec import config, simulator
from hrlrec.config import Config

ROOT = Path(__file__).resolve().parents[1]
DAY = "2026-11-02"  # a Monday


def tiny_config(*overrides: str) -> Config:
    """The project's params with a small user population, so a day takes well under a second."""
    return config.load(ROOT / "params.yaml", ["profiles.small.simulator_users=400", *overrides])


@pytest.fixture
def cfg() -> Config:
    return tiny_config()


@pytest.fixture(scope="session")
def landing_day(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A read-only landing zone holding one simulated day (copy it before changing it)."""
    out = tmp_path_factory.mktemp("landing")
    simulator.run(tiny_config(), DAY, 1, out)
    return out
