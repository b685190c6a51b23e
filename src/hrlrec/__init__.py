"""hrlrec: a daily MLOps pipeline around HRL-Rec, the hierarchical RL recommender."""

__version__ = "0.1.0"
