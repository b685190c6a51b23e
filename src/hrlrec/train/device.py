"""Where training runs: CUDA when asked for or present, else the CPU, said in the log."""

from __future__ import annotations

import logging

import torch

from hrlrec.errors import BadInput

log = logging.getLogger(__name__)


def resolve_device(requested: str) -> torch.device:
    """auto: CUDA when present, else CPU (said in the log); cuda without a GPU is an error."""
    if requested not in ("auto", "cpu", "cuda"):
        raise BadInput(f"--device must be auto, cpu or cuda, got {requested!r}")
    if requested == "cuda" and not torch.cuda.is_available():
        raise BadInput("--device cuda was requested but torch sees no CUDA device")
    if requested == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
        if device == "cpu":
            log.warning("no CUDA device found; training on the CPU")
        return torch.device(device)
    return torch.device(requested)
