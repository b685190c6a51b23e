"""Training: the train step, the loop every model shares, and HRL-Rec's objective.

step        `run(workspace, ds)`: fit the configured models, write candidates and metrics/train.json
loop        the shared loop (epochs, early stopping, NaN guard, DDP) and `predict`
objective   HRL-Rec's four losses (eq. 18) and the baselines' BCE
summary     the metrics table and the oracle AUC
device      CPU / CUDA choice
warm_start  optional start from production's weights
"""

from hrlrec.models.factory import MODELS
from hrlrec.train.step import TrainResult, features_of, run

__all__ = ["MODELS", "TrainResult", "features_of", "run"]
