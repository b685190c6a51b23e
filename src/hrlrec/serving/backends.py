"""Two ways to run the serving graphs: PyTorch eager and onnxruntime, behind one `run` call.

The ranker only calls `backend.run(graph, *arrays)` with numpy arrays and
gets numpy arrays back, so the same ranking loop runs on either; export
parity and the serving benchmark compare runtimes, never two algorithms.

onnxruntime uses CUDAExecutionProvider when the device asks for it (or
`auto` and the GPU build finds a device) and logs the provider each session
actually got: a requested GPU that falls back to the CPU is a warning.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Protocol

import numpy as np

from hrlrec.errors import BadInput
from hrlrec.serving.manifest import GRAPH_INPUTS, SERVING_GRAPHS, verify_folder

log = logging.getLogger(__name__)

CUDA, CPU = "CUDAExecutionProvider", "CPUExecutionProvider"


class Backend(Protocol):
    """Runs one named serving graph (see hrlrec.serving.graphs) on numpy inputs."""

    name: str

    def run(self, graph: str, *inputs: np.ndarray) -> tuple[np.ndarray, ...]: ...


class TorchBackend:
    """The serving graphs in PyTorch eager mode, on `device`."""

    def __init__(self, model, device: str = "cpu") -> None:
        import torch

        from hrlrec.serving.graphs import graphs

        self._torch = torch
        self.device = torch.device(device)
        self.graphs = {n: g.to(self.device) for n, g in graphs(model.to(self.device)).items()}
        self.name = f"torch-{self.device.type}"

    def run(self, graph: str, *inputs: np.ndarray) -> tuple[np.ndarray, ...]:
        torch = self._torch
        with torch.inference_mode():
            out = self.graphs[graph](*(torch.from_numpy(np.ascontiguousarray(x)).to(self.device) for x in inputs))
        out = out if isinstance(out, tuple) else (out,)
        return tuple(o.cpu().numpy() for o in out)


def providers_for(device: str) -> list[str]:
    """Execution providers to ask onnxruntime for: CUDA first when wanted and built in."""
    import onnxruntime as ort

    if device not in ("auto", "cpu", "cuda"):
        raise BadInput(f"serving device {device!r}: choose auto, cpu or cuda")
    if device == "cpu":
        return [CPU]
    if CUDA not in ort.get_available_providers():
        if device == "cuda":
            log.warning("CUDA requested but this onnxruntime build has no CUDAExecutionProvider; serving on the CPU")
        return [CPU]
    return [CUDA, CPU]


# TF32 off on the GPU. onnxruntime's CUDA provider allows TF32 in float32 MatMul/Gemm by default (10-bit
# mantissas), which would move click scores by ~1e-3 against the float32 PyTorch reference the export gate
# compares with (max_abs_score_diff 1e-4) and serve lists other than the gated ones; these graphs are tiny
# and latency-bound, so TF32 buys no speed. cuDNN's GRU is not covered by this option: NVIDIA_TF32_OVERRIDE=0
# in the process's environment turns TF32 off there too (scripts/gpu-check.sh sets it).
CUDA_OPTIONS = {"use_tf32": "0"}


def session_providers(providers: list[str]) -> list[str | tuple[str, dict[str, str]]]:
    """`providers` as onnxruntime takes them, the CUDA one with CUDA_OPTIONS."""
    return [(p, dict(CUDA_OPTIONS)) if p == CUDA else p for p in providers]


class OrtBackend:
    """The exported graphs of a folder (written by `hrlrec export`) in onnxruntime sessions."""

    def __init__(self, folder: Path, device: str = "auto", threads: int = 0) -> None:
        import onnxruntime as ort

        manifest = verify_folder(folder)
        missing = [g for g in SERVING_GRAPHS if g not in manifest["graphs"]]
        if missing:
            raise BadInput(
                f"{folder}: the export lacks graph(s) {', '.join(missing)} that this hrlrec serves with (it has "
                f"{', '.join(manifest['graphs'])}): it was written by an older version; re-run `hrlrec export`"
            )
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # ORT's own provider-fallback chatter; the fallback is logged below
        wanted = providers_for(device)
        self.sessions: dict[str, ort.InferenceSession] = {}
        self.inputs: dict[str, list[str]] = {}
        providers = wanted
        for graph in manifest["graphs"]:
            session = ort.InferenceSession(
                str(folder / f"{graph}.onnx"), options, providers=session_providers(providers)
            )
            self.sessions[graph] = session
            self.inputs[graph] = [i.name for i in session.get_inputs()]
            expected = GRAPH_INPUTS.get(graph)
            if expected is not None and tuple(self.inputs[graph]) != expected:
                raise BadInput(
                    f"{folder / graph}.onnx takes inputs ({', '.join(self.inputs[graph])}) where this hrlrec "
                    f"passes ({', '.join(expected)}): it was written by another version; re-run `hrlrec export`"
                )
            if providers[0] == CUDA and session.get_providers()[0] != CUDA:
                log.warning(
                    "CUDA requested (serving.device=%s) but onnxruntime fell back to %s: no usable GPU or CUDA "
                    "libraries (its own message above says which)", device, CPU,
                )  # fmt: skip
                providers = [CPU]  # ask once; the other graphs go straight to the CPU
        self.provider = providers[0] if providers == [CPU] else CUDA
        log.info("onnxruntime %s serving %s on %s", ort.__version__, folder, self.provider)
        self.name = f"onnxruntime-{'cuda' if self.provider == CUDA else 'cpu'}"

    def run(self, graph: str, *inputs: np.ndarray) -> tuple[np.ndarray, ...]:
        feed = dict(zip(self.inputs[graph], inputs, strict=True))
        return tuple(self.sessions[graph].run(None, feed))
