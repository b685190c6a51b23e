"""A day's trained candidate (or any registered model) ready to score or rank that day's data.

The gates (evaluate, stability, export) and the benchmarks load models here:
the model is rebuilt from its card alone, then checked against the day's
dataset, because weights trained on other features (another vocabulary or
other id columns) cannot score today's data meaningfully.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from torch import nn

from hrlrec.data import batches
from hrlrec.errors import BadInput
from hrlrec.models import factory
from hrlrec.models.spec import ModelSpec
from hrlrec.workspace import Workspace


def load_for(weights: Path, stream: batches.Stream) -> factory.Loaded:
    """The model in `weights`, refused (BadInput) when it was trained on other features than `stream`'s."""
    loaded = factory.load(weights)
    if loaded.features.cat_columns != stream.cat_columns or loaded.features.vocab != stream.meta["vocab"]:
        raise BadInput(f"{weights}: trained on other features (vocabulary or columns differ from today's)")
    return loaded


@dataclass(frozen=True)
class Candidate:
    """The day's trained HRL-Rec candidate with the day's dataset."""

    weights: Path
    stream: batches.Stream
    loaded: factory.Loaded

    @property
    def model(self) -> nn.Module:
        return self.loaded.model

    @property
    def spec(self) -> ModelSpec:
        return self.loaded.spec

    @property
    def sha256(self) -> str:
        return self.loaded.sha256


def dataset(ws: Workspace, ds: str) -> batches.Stream:
    """The dataset of day `ds`; a clear error when it was never built."""
    folder = ws.layout.dataset_day(ds)
    if not folder.is_dir():
        raise BadInput(f"{folder}: no dataset for {ds}; run `hrlrec dataset --ds {ds}` first")
    return batches.load(folder)


def load_candidate(ws: Workspace, ds: str, model: str = "hrlrec") -> Candidate:
    """The `model` candidate of `ds` with the day's dataset; a clear error when it was never trained."""
    weights = ws.layout.candidate_weights(ds, model)
    if not weights.is_file():
        raise BadInput(f"{weights}: no {model} candidate for {ds}; run `hrlrec train --ds {ds}` first")
    stream = dataset(ws, ds)
    return Candidate(weights, stream, load_for(weights, stream))
