"""Build models by name and load trained ones from their checkpoints, with nothing but their cards.

    build("hrlrec", spec, features)   a fresh model
    load(weights)                     (model, card): the model a checkpoint holds, weights loaded

The card is the whole recipe: its `spec` and `features`. A card that cannot be
read, weights that do not match it, or an architecture that has changed since
it was trained are BadInput naming the file (exit 2), never a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from hrlrec import checkpoints
from hrlrec.errors import BadInput
from hrlrec.models.baselines import REGISTRY, FeatureSpec
from hrlrec.models.hrlrec import HRLRec
from hrlrec.models.spec import Features, ModelSpec

MODELS = ["hrlrec", *REGISTRY]


def build(name: str, spec: ModelSpec, features: Features) -> nn.Module:
    """A fresh model by registry name, sized by `spec` and the dataset's `features`."""
    if name == "hrlrec":
        return HRLRec(spec, features)
    if name not in REGISTRY:
        raise BadInput(f"unknown model {name!r}; choose from {', '.join(MODELS)}")
    return REGISTRY[name](
        FeatureSpec(features.vocab, features.cat_columns, features.dense_dim, spec.field_dim, spec.history_len,
                    spec.list_len)
    )  # fmt: skip


@dataclass(frozen=True)
class Loaded:
    """A trained model with what its card says about it."""

    model: nn.Module
    name: str
    spec: ModelSpec
    features: Features
    card: dict[str, Any]

    @property
    def sha256(self) -> str:
        return str(self.card["sha256"])


def load(weights: Path) -> Loaded:
    """The model in `weights`, rebuilt from its card alone (in eval mode, on the CPU)."""
    state, card = checkpoints.load(weights)
    spec = ModelSpec.from_card(card, checkpoints.card_path(weights))
    features = Features.from_card(card, checkpoints.card_path(weights))
    name = str(card.get("model"))
    try:
        model = build(name, spec, features)
    except (ValueError, KeyError, TypeError, RuntimeError) as exc:  # sizes a card allows but a layer refuses
        raise BadInput(f"{weights}: the {name} model its card describes cannot be built ({exc})") from None
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        why = _mismatch(model, state, exc)
        raise BadInput(f"{weights}: weights do not fit the {name} model its card describes ({why}); they were "
                       f"probably trained by another version of hrlrec: retrain with `hrlrec train --model {name}`"
                       ) from None  # fmt: skip
    return Loaded(model.eval(), name, spec, features, card)


def _mismatch(model: nn.Module, state: dict[str, Any], exc: RuntimeError) -> str:
    """Which weights are missing, unexpected or of another shape, a few of each."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    shapes = [f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}" for k, v in expected.items()
              if k in state and hasattr(state[k], "shape") and tuple(state[k].shape) != tuple(v.shape)]  # fmt: skip
    found = {"missing": missing, "unexpected": unexpected, "other shape": shapes}
    parts = [f"{label}: {', '.join(k[:4])}{' ...' if len(k) > 4 else ''}" for label, k in found.items() if k]
    return "; ".join(parts) or str(exc).splitlines()[0]
