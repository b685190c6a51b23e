"""Checkpoints hold weights only: a state dict of tensors plus a JSON card beside it.

    <name>.pt     torch.save of a state dict of tensors (nothing pickled but tensors)
    <name>.json   the card: model name, its ModelSpec, features, metrics, and the SHA-256 of <name>.pt

Hashing and reading cards import no torch, so the registry, publish and the
serving backends can check files without loading a deep-learning framework.
Loading weights uses `torch.load(weights_only=True)`, which refuses pickled
objects, after checking the file's SHA-256 against its card: a truncated,
swapped or tampered file is refused with a message instead of being run.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hrlrec import atomic
from hrlrec.errors import BadInput

if TYPE_CHECKING:
    import torch


def sha256(path: Path) -> str:
    """SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def card_path(weights_path: Path) -> Path:
    """The card beside a weights file: `<name>.json` for `<name>.pt`."""
    return weights_path.with_suffix(".json")


def read_card(weights_path: Path) -> dict[str, Any]:
    """The card of a checkpoint; BadInput naming the file when it is missing or not JSON."""
    try:
        card = json.loads(card_path(weights_path).read_text())
    except FileNotFoundError:
        raise BadInput(f"{card_path(weights_path)}: model card missing; the checkpoint cannot be trusted") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadInput(f"{card_path(weights_path)}: model card is not valid JSON ({exc})") from None
    if not isinstance(card, dict):
        raise BadInput(f"{card_path(weights_path)}: model card is not a JSON object")
    return card


def verify(weights_path: Path) -> dict[str, Any]:
    """The card, after checking the weights file is the one it describes (no torch needed)."""
    card = read_card(weights_path)
    if not weights_path.is_file():
        raise BadInput(f"{weights_path}: checkpoint missing")
    actual = sha256(weights_path)
    if actual != card.get("sha256"):
        raise BadInput(
            f"{weights_path}: SHA-256 {actual[:12]}... does not match its card ({str(card.get('sha256'))[:12]}...); "
            "the file was changed or damaged after it was written"
        )
    return card


def save(weights_path: Path, state: dict[str, torch.Tensor], card: dict[str, Any]) -> str:
    """Write `state` and its card (`<name>.json`) atomically; return the weights' SHA-256."""
    import torch

    buffer = io.BytesIO()
    torch.save({k: v.detach().cpu().contiguous() for k, v in state.items()}, buffer)
    data = buffer.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    atomic.write_bytes(weights_path, data)
    atomic.write_text(card_path(weights_path), json.dumps({**card, "sha256": digest}, indent=2) + "\n")
    return digest


def load(weights_path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """State dict and card of a checkpoint, after checking the file is the one the card describes."""
    import torch

    card = verify(weights_path)
    try:
        state = torch.load(weights_path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise BadInput(f"{weights_path}: not a weights-only checkpoint ({exc})") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise BadInput(f"{weights_path}: expected a state dict of tensors")
    return state, card
