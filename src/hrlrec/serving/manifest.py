"""The export manifest: which ONNX graphs an export holds, their SHA-256s, and the weights they came from.

Checked without onnxruntime or torch, so the registry and publish can refuse a
tampered export cheaply.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hrlrec.checkpoints import sha256
from hrlrec.errors import BadInput
from hrlrec.layout import EXPORT_MANIFEST

# The graphs the ranker calls and their inputs, in order (hrlrec.serving.graphs builds them, export
# writes them): an export without one of them, or whose graph takes other inputs, was written by
# another version and cannot be served by this one.
GRAPH_INPUTS: dict[str, tuple[str, ...]] = {
    "initial_state": ("context",),
    "lra_encoder": ("seq_ids", "seq_dense", "feedback", "length", "h"),
    "hra_encoder": ("seq_ids", "seq_dense", "feedback", "length", "h"),
    "channel_policy": ("h_low", "context"),
    "pool_items": ("pool",),
    "item_logits": ("candidates_part", "context", "context_dense", "h_low", "h_high", "channel"),
    "advance": ("seq_ids", "seq_dense", "feedback", "length", "h_low", "h_high", "context"),
}
SERVING_GRAPHS = tuple(GRAPH_INPUTS)


def read(folder: Path) -> dict[str, Any]:
    """The manifest of an export folder; BadInput when it is missing or damaged."""
    path = folder / EXPORT_MANIFEST
    if not path.is_file():
        raise BadInput(f"{path}: no export manifest; run `hrlrec export` for this model")
    try:
        manifest = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadInput(f"{path}: export manifest is not valid JSON ({exc})") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("sha256"), dict):
        raise BadInput(f"{path}: export manifest has no `sha256` table")
    return manifest


def verify_folder(folder: Path) -> dict[str, Any]:
    """The export manifest, after checking every graph file against its recorded SHA-256."""
    manifest = read(folder)
    for graph, digest in manifest["sha256"].items():
        file = folder / f"{graph}.onnx"
        if not file.is_file():
            raise BadInput(f"{file}: ONNX graph missing from the export")
        actual = sha256(file)
        if actual != digest:
            raise BadInput(
                f"{file}: SHA-256 {actual[:12]}... does not match the export manifest ({digest[:12]}...); "
                "the file was changed or damaged after export"
            )
    return manifest
