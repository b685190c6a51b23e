"""`hrlrec export --ds D`: the candidate's serving graphs as ONNX, proven against PyTorch.

Writes models/exports/ds=D/ (one .onnx per graph of hrlrec.serving.graphs
plus manifest.json with SHA-256s and the weights' hash) in one atomic step,
beside the candidate rather than inside it, so the DVC stages' outputs never
overlap,
and metrics/export.json with the export gate's verdict:

- `onnx.checker` (full check, with shape inference) passes on every graph;
- every graph gives the same outputs in onnxruntime as in PyTorch at several
  batch sizes, sequence lengths (GRU and attention) and pool sizes;
- ranking the day's requests (the stability gate's sample) through
  onnxruntime and through PyTorch gives identical top-K lists for at least
  `min_identical_lists` of them, with click scores at most
  `max_abs_score_diff` apart.

Exporter: PyTorch's TorchScript-based exporter (`dynamo=False`). The dynamo
exporter of torch 2.13 (with onnxscript 0.7.2) was tried on 2026-11-29: its
GRU encoder graph failed `onnx.checker` (a node output reused an input's name,
breaking SSA) and, once renamed, the HRA encoder came out with its sequence
axis fixed to the example's length, so onnxruntime refused any other length.
The shape proofs here are what would catch either bug in a future version.
"""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch

from hrlrec import atomic, checkpoints, results
from hrlrec.candidates import load_candidate
from hrlrec.config import ExportGateConfig
from hrlrec.errors import BadInput
from hrlrec.layout import EXPORT_MANIFEST
from hrlrec.progress import track
from hrlrec.serving.backends import CPU, CUDA, Backend, OrtBackend, TorchBackend
from hrlrec.serving.graphs import graphs
from hrlrec.serving.manifest import GRAPH_INPUTS
from hrlrec.serving.ranker import (
    TIE,
    Ranker,
    Ranking,
    Requests,
    ServingPolicy,
    candidates_of,
    day_requests,
    rank_lists,
    requests_from_lists,
)
from hrlrec.verdict import FAIL, PASS, WARN, Check, Verdict, decide
from hrlrec.workspace import Workspace

log = logging.getLogger(__name__)

# A decision whose margin (best minus runner-up similarity) is under this is a float-level tie: the
# ranker's own tie band (TIE) plus the same again for the runtimes' rounding at its edge.
NEAR_TIE = 2 * TIE


# Input and output names, and which axes are dynamic, per graph.
SIGNATURES: dict[str, tuple[list[str], list[str]]] = {
    name: (list(GRAPH_INPUTS[name]), outputs)
    for name, outputs in {
        "initial_state": ["h_low", "h_high"],
        "lra_encoder": ["h_next"],
        "hra_encoder": ["h_next"],
        "channel_policy": ["logits"],
        "pool_items": ["item_part"],
        "item_logits": ["click_logit"],
        "advance": ["h_low_next", "h_high_next", "logits"],
    }.items()
}
DYNAMIC_AXES: dict[str, dict[str, dict[int, str]]] = {
    "initial_state": {"context": {0: "batch"}, "h_low": {0: "batch"}, "h_high": {0: "batch"}},
    "lra_encoder": {
        "seq_ids": {0: "batch", 1: "steps"}, "seq_dense": {0: "batch", 1: "steps"},
        "feedback": {0: "batch", 1: "steps"}, "length": {0: "batch"}, "h": {0: "batch"}, "h_next": {0: "batch"},
    },
    "channel_policy": {"h_low": {0: "batch"}, "context": {0: "batch"}, "logits": {0: "batch"}},
    "pool_items": {"pool": {0: "candidates"}, "item_part": {0: "candidates"}},
    "item_logits": {"candidates_part": {0: "batch", 1: "candidates"}, "context": {0: "batch"},
                    "context_dense": {0: "batch"}, "h_low": {0: "batch"}, "h_high": {0: "batch"},
                    "channel": {0: "batch"}, "click_logit": {0: "batch", 1: "candidates"}},
}  # fmt: skip
DYNAMIC_AXES["hra_encoder"] = DYNAMIC_AXES["lra_encoder"]
DYNAMIC_AXES["advance"] = {
    **{k: v for k, v in DYNAMIC_AXES["lra_encoder"].items() if k not in ("h", "h_next")},
    **{name: {0: "batch"} for name in ("h_low", "h_high", "context", "h_low_next", "h_high_next", "logits")},
}


def graph_inputs(
    backend: Backend, requests: Requests, pool: np.ndarray, channel_col: int, steps: int | None = None
) -> dict[str, tuple[np.ndarray, ...]]:
    """Real inputs for every graph from `requests` and `pool` (channel ids in column `channel_col`).

    History cut to `steps` behaviours; requests take the pool's channels in turn as their constraint.
    """
    seq = slice(None, steps)
    hist = np.minimum(requests.hist_len, requests.seq_cat[:, seq].shape[1])
    h_low, h_high = backend.run("initial_state", requests.context)
    (item_part,) = backend.run("pool_items", pool)
    # Each request's channel constraint: one of the pool's channels, varied across the batch.
    pool_channels = np.unique(pool[:, channel_col])
    channel = pool_channels[np.arange(requests.size) % len(pool_channels)].astype(np.int64)
    history = (requests.seq_cat[:, seq], requests.seq_dense[:, seq], requests.feedback[:, seq], hist)
    return {
        "initial_state": (requests.context,),
        "lra_encoder": (*history, h_low),
        "hra_encoder": (*history, h_high),
        "channel_policy": (h_low, requests.context),
        "pool_items": (pool,),
        "advance": (*history, h_low, h_high, requests.context),
        "item_logits": (
            candidates_of(item_part, pool[:, channel_col], channel),
            requests.context,
            requests.context_dense,
            h_low,
            h_high,
            channel,
        ),
    }


def export_graph(name: str, graph: torch.nn.Module, example: tuple[np.ndarray, ...], path: Path, opset: int) -> None:
    """One graph to ONNX (dynamic batch, step and candidate axes), then the full checker."""
    inputs, outputs = SIGNATURES[name]
    args = tuple(torch.from_numpy(np.ascontiguousarray(x)) for x in example)
    with warnings.catch_warnings():
        # The TorchScript exporter is deprecated in favour of dynamo; see the module doc for why it is used.
        warnings.simplefilter("ignore", category=DeprecationWarning)
        warnings.simplefilter("ignore", category=torch.jit.TracerWarning)
        # About h0 not being an input: here it is one (`h`), which is the fix that warning asks for.
        warnings.filterwarnings("ignore", message="Exporting a model to ONNX with a batch_size other than 1")
        torch.onnx.export(
            graph, args, str(path), input_names=inputs, output_names=outputs,
            dynamic_axes=DYNAMIC_AXES[name], opset_version=opset, dynamo=False, do_constant_folding=True,
        )  # fmt: skip
    try:
        onnx.checker.check_model(str(path), full_check=True)
    except onnx.checker.ValidationError as exc:
        raise BadInput(f"{path.name}: exported graph fails onnx.checker: {exc}") from None


def prove_shapes(
    torch_backend: TorchBackend,
    ort_backend: OrtBackend,
    requests: Requests,
    pool: np.ndarray,
    channel_col: int,
    g: ExportGateConfig,
) -> dict[str, Any]:
    """Largest |onnxruntime - PyTorch| output difference per graph over the batch/step/pool grid."""
    worst: dict[str, float] = {}
    shapes = 0
    for b in g.proof_batch_sizes:
        if b > requests.size:
            raise BadInput(f"gates.export.proof_batch_sizes: {b} exceeds the day's {requests.size} requests")
    grid = [(b, steps, n) for b in g.proof_batch_sizes for steps in g.proof_seq_lengths for n in g.proof_pool_sizes]
    for b, steps, n in track(grid, "export proofs", unit="shapes"):
        sub = requests.take(slice(0, b))
        inputs = graph_inputs(torch_backend, sub, pool[: min(n, len(pool))], channel_col, steps)
        for name, args in inputs.items():
            expected, got = torch_backend.run(name, *args), ort_backend.run(name, *args)
            for e, o in zip(expected, got, strict=True):
                if e.shape != o.shape:
                    raise BadInput(f"{name}: onnxruntime output shape {o.shape} != PyTorch {e.shape}")
                worst[name] = max(worst.get(name, 0.0), float(np.abs(e - o).max(initial=0.0)))
        shapes += 1
    return {"max_abs_diff": worst, "grid": shapes}


def compare_rankings(reference: Ranking, other: Ranking) -> dict[str, Any]:
    """Share of requests with identical lists, the largest score gap on those, and why the others differ.

    A differing list is put down to a *near tie* when, at its first differing
    position, either runtime's decision margin was under NEAR_TIE: the two
    runtimes split candidates whose similarities agree to float32 rounding
    (~1e-7 apart), which no exporter can promise to order alike. Such lists
    count as identical in `identical_lists_up_to_ties`; `identical_lists` is
    the strict share.
    """
    same = (reference.items == other.items).all(1)
    gaps = np.abs(reference.scores - other.scores)[same]
    differ = np.flatnonzero(~same)
    first = (reference.items[differ] != other.items[differ]).argmax(1)
    margins = np.minimum(reference.margins[differ, first], other.margins[differ, first])
    near = int((margins <= NEAR_TIE).sum())
    n = len(same)
    return {
        "requests": n,
        "identical_lists": float(same.mean()) if n else 1.0,
        "identical_lists_up_to_ties": float((same.sum() + near) / n) if n else 1.0,
        "differing_requests": len(differ),
        "differing_at_near_tie": near,
        "near_tie_share": near / n if n else 0.0,
        "smallest_margin_at_difference": float(margins.min()) if len(differ) else None,
        "max_abs_score_diff": float(gaps.max(initial=0.0)),
    }


def decide_export(ds: str, proofs: dict[str, Any], parity: dict[str, Any], provider: dict[str, Any],
                  g: ExportGateConfig) -> Verdict:  # fmt: skip
    """The export gate's decision from its measurements (pure: what the tests craft numbers for)."""
    worst_graph = max(proofs["max_abs_diff"].items(), key=lambda kv: kv[1], default=("none", 0.0))
    ok = worst_graph[1] <= g.max_abs_score_diff
    checks = [
        Check("graphs", PASS if ok else FAIL, worst_graph[1], g.max_abs_score_diff,
              f"graph outputs agree within {worst_graph[1]:.2e} over {proofs['grid']} shapes"
              if ok else f"{worst_graph[0]} differs by {worst_graph[1]:.2e} between onnxruntime and PyTorch"),
    ]  # fmt: skip
    strict, same, gap = parity["identical_lists"], parity["identical_lists_up_to_ties"], parity["max_abs_score_diff"]
    ties, n = parity["differing_at_near_tie"], parity["requests"]
    words = f"{strict:.2%} of {n} requests get identical top-K lists"
    if ties:
        words += f", {same:.2%} counting the {ties} that first differ at a float-level tie (margin <= {NEAR_TIE:.0e})"
    words += f" ({'>=' if same >= g.min_identical_lists else 'below'} {g.min_identical_lists:.1%})"
    checks.append(Check("identical_lists", PASS if same >= g.min_identical_lists else FAIL, same,
                        g.min_identical_lists, words))  # fmt: skip
    share = parity["near_tie_share"]
    checks.append(
        Check("near_ties", PASS if share <= g.max_near_tie_share else FAIL, share, g.max_near_tie_share,
              f"{share:.2%} of requests split a float-level tie (<= {g.max_near_tie_share:.0%})"
              if share <= g.max_near_tie_share else
              f"{share:.2%} of requests split a float-level tie, above {g.max_near_tie_share:.0%}: the model's "
              "similarities are degenerate (saturated embeddings?), so its lists are not reproducible")
    )  # fmt: skip
    checks.append(
        Check("score_diff", PASS if gap <= g.max_abs_score_diff else FAIL, gap, g.max_abs_score_diff,
              f"click scores differ by at most {gap:.2e} ({'<=' if gap <= g.max_abs_score_diff else 'above'} "
              f"{g.max_abs_score_diff:.0e})")
    )  # fmt: skip
    if provider["requested"] == "cuda" and provider["used"] != CUDA:
        checks.append(Check("provider", WARN, None, None, f"CUDA requested but onnxruntime ran on {provider['used']}"))
    numbers = {**parity, "graphs_max_abs_diff": proofs["max_abs_diff"], "shapes_proven": proofs["grid"],
               "provider": provider["used"], "device_requested": provider["requested"]}  # fmt: skip
    return decide("export", ds, checks, numbers)


EXPORT_VERDICT = "export.json"  # the gate's result, inside the export folder it judged


def run(ws: Workspace, ds: str) -> Verdict:
    """Export the candidate of `ds`, prove it, and write the verdict to metrics/export.json."""
    cfg, layout = ws.cfg, ws.layout
    g = cfg.gates.export
    candidate = load_candidate(ws, ds)
    stream, spec = candidate.stream, candidate.spec
    model = candidate.model.cpu().eval()
    m, K = spec.history_len, spec.list_len
    sample, pool = day_requests(stream, cfg.seed, g.max_requests, cfg.gates.stability.pool_per_channel)
    torch_backend = TorchBackend(model)
    proof_requests = requests_from_lists(stream, sample[: max(g.proof_batch_sizes)], m)
    with atomic.atomic_dir(layout.export_day(ds)) as tmp:
        channel_col = stream.column("channel")
        example = graph_inputs(torch_backend, proof_requests.take(slice(0, 3)), pool[:7], channel_col)
        for name, graph in graphs(model).items():
            export_graph(name, graph, example[name], tmp / f"{name}.onnx", g.opset)
        manifest = {
            "ds": ds,
            "graphs": list(SIGNATURES),
            "sha256": {name: checkpoints.sha256(tmp / f"{name}.onnx") for name in SIGNATURES},
            "signatures": {n: {"inputs": i, "outputs": o} for n, (i, o) in SIGNATURES.items()},
            "opset": g.opset,
            "exporter": f"torch.onnx (TorchScript) {torch.__version__}",
            "weights_sha256": candidate.sha256,
            "cat_columns": stream.cat_columns,
            "list_len": K,
            "history_len": m,
        }
        (tmp / EXPORT_MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        ort_backend = OrtBackend(tmp, device=cfg.serving.device, threads=cfg.serving.intra_op_threads)
        proofs = prove_shapes(torch_backend, ort_backend, proof_requests, pool, channel_col, g)
        policy = ServingPolicy.of(cfg.serving)  # the same draws for both runtimes
        ranked_torch, ranked_ort = (
            rank_lists(Ranker(backend, stream.cat_columns, K), stream, sample, pool, m, policy, cfg.seed)
            for backend in (torch_backend, ort_backend)
        )
        parity = compare_rankings(ranked_torch, ranked_ort)
        provider = {"requested": cfg.serving.device, "used": ort_backend.provider}
        verdict = decide_export(ds, proofs, parity, provider, g)
        verdict.model_sha256 = candidate.sha256
        body = {**verdict.to_json(), "thresholds": g.model_dump(), "opset": g.opset,
                "files": {f"{n}.onnx": manifest["sha256"][n] for n in SIGNATURES}}  # fmt: skip
        # The folder carries its own verdict: it and the graphs it judged appear together.
        (tmp / EXPORT_VERDICT).write_text(json.dumps(body, indent=2) + "\n")
    results.write(layout, "export", ds, body)
    log.info("export gate %s: %s (onnxruntime on %s)", ds, verdict.reason, ort_backend.provider)
    if ort_backend.provider == CPU and cfg.serving.device == "auto":
        log.info("no CUDA device for onnxruntime here; the gate ran on %s", CPU)
    return verdict
