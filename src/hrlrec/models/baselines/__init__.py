"""CTR baselines of paper 4.2 and DIN, on the same features as HRL-Rec (common.py), trained with BCE.

Every model has the same contract: `Model(spec)`, `model.features` (the spec), and
`forward(batch: ImpressionBatch) -> logits (B,)`.
"""

from __future__ import annotations

from torch import nn

from hrlrec.models.baselines.afm import AFM
from hrlrec.models.baselines.autoint import AutoInt
from hrlrec.models.baselines.common import BASELINE_FIELDS, FeatureSpec
from hrlrec.models.baselines.deepfm import DeepFM
from hrlrec.models.baselines.din import DIN
from hrlrec.models.baselines.fm import FM
from hrlrec.models.baselines.lr import LR
from hrlrec.models.baselines.nfm import NFM
from hrlrec.models.baselines.widedeep import WideDeep

REGISTRY: dict[str, type[nn.Module]] = {
    "lr": LR,
    "fm": FM,
    "nfm": NFM,
    "afm": AFM,
    "widedeep": WideDeep,
    "deepfm": DeepFM,
    "autoint": AutoInt,
    "din": DIN,
}

__all__ = ["BASELINE_FIELDS", "REGISTRY", "FeatureSpec"]
