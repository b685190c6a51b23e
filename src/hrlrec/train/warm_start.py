"""Optional warm start: begin training from production's weights when they fit today's model."""

from __future__ import annotations

import logging

from torch import nn

from hrlrec import checkpoints
from hrlrec.errors import BadInput
from hrlrec.models.spec import Features

log = logging.getLogger(__name__)


def warm_start(model: nn.Module, weights_file, version: str, features: Features) -> str | None:
    """Load production's `weights_file` into `model` when it fits; returns the version used, or None.

    Retraining from scratch every day lands the actors in an arbitrary place
    of the embedding space, so the channel mix of the lists can jump from day
    to day; continuing from what serves keeps consecutive models close.
    """
    if weights_file is None or not weights_file.is_file():
        return None
    try:
        state, card = checkpoints.load(weights_file)
    except BadInput as exc:
        log.warning("no warm start: %s", exc)
        return None
    if card.get("cat_columns") != features.cat_columns or card.get("vocab") != features.vocab:
        log.info("no warm start: %s was trained on other features", version)
        return None
    own = model.state_dict()
    if any(k not in own or own[k].shape != v.shape for k, v in state.items()) or len(state) != len(own):
        log.info("no warm start: %s has another architecture", version)
        return None
    model.load_state_dict(state)
    log.info("warm start from production %s", version)
    return version
