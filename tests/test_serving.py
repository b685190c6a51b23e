"""Serving graphs and the export gate: real torch, real onnx, real onnxruntime."""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from hrlrec import candidates, checkpoints, config, publish, registry, results, train
from hrlrec.data import batches
from hrlrec.data.batches import UNKNOWN
from hrlrec.errors import BadInput, Rejected
from hrlrec.layout import EXPORT_MANIFEST
from hrlrec.models import factory
from hrlrec.models.spec import ModelSpec
from hrlrec.serving import export
from hrlrec.serving.backends import CPU, CUDA, OrtBackend, TorchBackend
from hrlrec.serving.export import DYNAMIC_AXES, SIGNATURES
from hrlrec.serving.graphs import graphs
from hrlrec.serving.manifest import SERVING_GRAPHS
from hrlrec.verdict import FAIL, PASS, WARN
from tests.conftest import TRAIN_DAYS, model_config, workspace

DS = TRAIN_DAYS[-1]
GATE = config.load().gates.export


@pytest.fixture(scope="module")
def exported(trained_workspace: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the trained workspace with a trained and exported HRL-Rec candidate (read-only)."""
    import shutil

    root = tmp_path_factory.mktemp("exported") / "ws"
    shutil.copytree(trained_workspace, root)
    ws = workspace(root)
    train.run(ws, DS, models=["hrlrec", "lr"], progress=False)
    export.run(ws, DS)
    return root


def _candidate(root: Path) -> Path:
    return workspace(root).layout.candidate_weights(DS)


def _export(root: Path) -> Path:
    return workspace(root).layout.export_day(DS)


def test_step_by_step_states_equal_the_training_encoder(trained_workspace: Path) -> None:
    """History then one placed item at a time gives the states the packed training encoder gives."""
    cfg = model_config()
    stream = batches.load(workspace(trained_workspace).layout.dataset_day(DS))
    torch.manual_seed(3)
    model = factory.build("hrlrec", ModelSpec.of(cfg), train.features_of(stream)).eval()
    lists = stream.lists("test")[:32]
    batch = batches.list_batch(stream, lists, cfg.active.history_len, cfg.list_len)
    g = graphs(model)
    with torch.no_grad():
        expected = model.states(batch)  # (B, K + 1, S) each, packed GRU over history + list
        m, K = cfg.active.history_len, cfg.list_len
        context = batch.seq_cat[torch.arange(len(lists)), batch.hist_len]  # the list's first row
        states = list(g["initial_state"](context))
        for agent, encoder in enumerate(("lra_encoder", "hra_encoder")):
            hist = (batch.seq_cat[:, :m], batch.seq_dense[:, :m], batch.feedback[:, :m])
            h = g[encoder](*hist, batch.hist_len, states[agent])
            for t in range(K):
                real = t <= batch.list_len  # past a short list's end the training states are padding
                torch.testing.assert_close(h[real], expected[agent][real, t], atol=1e-5, rtol=1e-4)
                idx = (batch.hist_len + t).clamp(max=m + K - 1)
                rows = torch.arange(len(lists))
                step = (batch.seq_cat[rows, idx][:, None], batch.seq_dense[rows, idx][:, None],
                        torch.full((len(lists), 1), UNKNOWN))  # fmt: skip
                placed = (t < batch.list_len).long()
                h = g[encoder](*step, placed, h)


@pytest.mark.parametrize("sharing", ["none", "attention", "all"])
def test_the_fused_step_is_the_encoders_then_the_channel_policy(trained_workspace: Path, sharing: str) -> None:
    """`advance` gives bit for bit what lra_encoder, hra_encoder and channel_policy give called in turn."""
    cfg = model_config(f"model.encoder_sharing={sharing}")
    stream = batches.load(workspace(trained_workspace).layout.dataset_day(DS))
    torch.manual_seed(5)
    model = factory.build("hrlrec", ModelSpec.of(cfg), train.features_of(stream)).eval()
    g = graphs(model)
    lists = stream.lists("test")[:16]
    batch = batches.list_batch(stream, lists, cfg.active.history_len, cfg.list_len)
    m = cfg.active.history_len
    context = batch.seq_cat[torch.arange(len(lists)), batch.hist_len]
    context[:, stream.column("position")] = 4
    with torch.no_grad():
        h_low, h_high = g["initial_state"](context)
        history = (batch.seq_cat[:, :m], batch.seq_dense[:, :m], batch.feedback[:, :m], batch.hist_len)
        low, high, logits = g["advance"](*history, h_low, h_high, context)
        want_low = g["lra_encoder"](*history, h_low)
        want_high = g["hra_encoder"](*history, h_high)
        want_logits = g["channel_policy"](want_low, context)
    assert torch.equal(low, want_low) and torch.equal(high, want_high) and torch.equal(logits, want_logits)


@pytest.mark.parametrize(("sharing", "grus", "attentions"), [("none", 2, 2), ("attention", 2, 1), ("all", 1, 1)])
def test_shared_encoders_run_once_per_step_and_keep_the_graph_inputs(
    trained_workspace: Path, tmp_path: Path, sharing: str, grus: int, attentions: int
) -> None:
    """Under model.encoder_sharing `advance` gives what the separate graphs give, runs each shared part once,
    and takes the inputs every advance takes (the exporter would drop an unread h_low)."""
    cfg = model_config(f"model.encoder_sharing={sharing}")
    stream = batches.load(workspace(trained_workspace).layout.dataset_day(DS))
    torch.manual_seed(5)
    model = factory.build("hrlrec", ModelSpec.of(cfg), train.features_of(stream)).eval()
    g = graphs(model)
    lists = stream.lists("test")[:16]
    batch = batches.list_batch(stream, lists, cfg.active.history_len, cfg.list_len)
    m = cfg.active.history_len
    context = batch.seq_cat[torch.arange(len(lists)), batch.hist_len]
    history = (batch.seq_cat[:, :m], batch.seq_dense[:, :m], batch.feedback[:, :m], batch.hist_len)
    with torch.no_grad():
        h_low, h_high = g["initial_state"](context)
        low, high, _ = g["advance"](*history, h_low, h_high, context)
        assert torch.equal(low, g["lra_encoder"](*history, h_low))
        assert torch.equal(high, g["hra_encoder"](*history, h_high))
    assert torch.equal(h_low, h_high) == (sharing == "all") and torch.equal(low, high) == (sharing == "all")
    example = tuple(x.numpy() for x in (*history, h_low, h_high, context))
    export.export_graph("advance", g["advance"], example, tmp_path / "advance.onnx", GATE.opset)
    graph = onnx.load(str(tmp_path / "advance.onnx")).graph
    assert [i.name for i in graph.input] == SIGNATURES["advance"][0]
    assert sum(node.op_type == "GRU" for node in graph.node) == grus
    assert sum(node.op_type == "Softmax" for node in graph.node) == attentions


def test_export_writes_checked_graphs_and_passes_parity(exported: Path) -> None:
    result = json.loads(workspace(exported).layout.result("export").read_text())
    assert result["ds"] == DS and result["verdict"] == PASS, result["reason"]
    numbers = result["numbers"]
    assert numbers["identical_lists_up_to_ties"] >= 0.999 and numbers["requests"] == 200
    assert numbers["max_abs_score_diff"] <= 1e-4
    assert numbers["shapes_proven"] == 27 and max(numbers["graphs_max_abs_diff"].values()) <= 1e-4
    assert numbers["provider"] in (CPU, CUDA)
    folder = _export(exported)
    assert json.loads((folder / "export.json").read_text()) == result  # the folder and its verdict, together
    manifest = json.loads((folder / EXPORT_MANIFEST).read_text())
    graphs = {"initial_state", "lra_encoder", "hra_encoder", "channel_policy", "pool_items", "item_logits", "advance"}
    assert set(manifest["graphs"]) == graphs
    # One list of graph names for the ranker (SERVING_GRAPHS), the builder and the exporter's signatures.
    assert set(SERVING_GRAPHS) == set(SIGNATURES) == set(DYNAMIC_AXES) == graphs
    for name in manifest["graphs"]:
        model = onnx.load(str(folder / f"{name}.onnx"))
        onnx.checker.check_model(model, full_check=True)
        assert model.opset_import[0].version == GATE.opset
        first = model.graph.input[0].type.tensor_type.shape.dim
        assert not first[0].HasField("dim_value"), f"{name}: batch axis is not dynamic"
    assert not [p for p in _export(exported).parent.iterdir() if p.name.startswith(".")], "temporary folder left"


def test_the_field_attention_reads_no_size_at_serving_time(exported: Path) -> None:
    """Field count and size are the model's constants, so the exported attention computes no shape.

    Every size a graph reads from a tensor is a chain of Shape, Gather, Unsqueeze and Concat nodes run at
    every call; in `advance` those chains were a third of its nodes after onnxruntime's optimisation.
    """
    for name in ("lra_encoder", "hra_encoder", "advance"):
        graph = onnx.load(str(_export(exported) / f"{name}.onnx")).graph
        attention = [n for n in graph.node if "/attention/" in n.name]
        assert attention, f"{name}: no node of the field attention found by name"
        shapes = [n.name for n in attention if n.op_type == "Shape"]
        assert not shapes, f"{name}: the field attention reads sizes at run time: {shapes}"


def test_the_gru_graph_runs_at_lengths_it_was_not_exported_with(exported: Path) -> None:
    """Exported at 3 requests x m steps; run at 5 x 1 and 2 x 17 steps against PyTorch."""
    ort_backend = OrtBackend(_export(exported), device="cpu")
    cfg = model_config()
    stream = batches.load(workspace(exported).layout.dataset_day(DS))
    model = candidates.load_for(_candidate(exported), stream).model
    torch_backend = TorchBackend(model)
    for b, t in ((5, 1), (2, 17)):
        rows = np.arange(b * t) % len(stream.cat)
        args = (
            stream.cat[rows].numpy().reshape(b, t, -1),
            stream.dense[rows].numpy().reshape(b, t, -1),
            np.zeros((b, t), dtype=np.int64),
            np.full(b, t, dtype=np.int64),
            np.random.default_rng(0).normal(size=(b, cfg.active.state_dim)).astype(np.float32),
        )
        for name in ("lra_encoder", "hra_encoder"):
            (want,), (got,) = torch_backend.run(name, *args), ort_backend.run(name, *args)
            assert got.shape == (b, cfg.active.state_dim)
            np.testing.assert_allclose(got, want, atol=1e-5)


def test_a_tampered_graph_is_refused(exported: Path, tmp_path: Path) -> None:
    import shutil

    folder = tmp_path / "onnx"
    shutil.copytree(_export(exported), folder)
    graph = folder / "item_logits.onnx"
    graph.write_bytes(graph.read_bytes()[:-4] + b"\0\0\0\0")
    with pytest.raises(BadInput, match=r"item_logits\.onnx: SHA-256 .* does not match the export manifest"):
        OrtBackend(folder, device="cpu")
    (folder / EXPORT_MANIFEST).unlink()
    with pytest.raises(BadInput, match="no export manifest"):
        OrtBackend(folder, device="cpu")


def test_a_gpu_request_that_falls_back_is_logged(exported: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="hrlrec.serving.backends"):
        backend = OrtBackend(_export(exported), device="cuda")
    if backend.provider == CUDA:
        assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    else:
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert warnings and "CUDA requested" in warnings[0] and CPU in " ".join(warnings)
    assert any(backend.provider in r.getMessage() for r in caplog.records if r.levelno == logging.INFO)


def _proofs(diff: float) -> dict:
    return {"max_abs_diff": {"lra_encoder": diff, "item_logits": 1e-7}, "grid": 27}


def _parity(identical: float, gap: float, ties: int = 0) -> dict:
    differ = round(1000 * (1 - identical))
    return {"requests": 1000, "identical_lists": identical, "differing_requests": differ,
            "identical_lists_up_to_ties": identical + ties / 1000, "differing_at_near_tie": ties,
            "near_tie_share": ties / 1000, "max_abs_score_diff": gap}  # fmt: skip


CPU_ONLY = {"requested": "auto", "used": CPU}


def test_export_gate_decisions_on_crafted_numbers() -> None:
    assert export.decide_export(DS, _proofs(1e-6), _parity(1.0, 1e-7), CPU_ONLY, GATE).level == PASS
    v = export.decide_export(DS, _proofs(1e-6), _parity(0.998, 1e-7), CPU_ONLY, GATE)
    assert v.level == FAIL and "99.80% of 1000 requests" in v.reason and "below 99.9%" in v.reason
    # Lists that first differ at a float-level tie count as identical; the strict share stays in the words.
    v = export.decide_export(DS, _proofs(1e-6), _parity(0.998, 1e-7, ties=2), CPU_ONLY, GATE)
    assert v.level == PASS and "99.80% of 1000 requests" in v.reason and "100.00% counting the 2" in v.reason
    v = export.decide_export(DS, _proofs(1e-6), _parity(0.98, 1e-7, ties=20), CPU_ONLY, GATE)
    assert v.level == FAIL and "2.00% of requests split a float-level tie, above 1%" in v.reason
    v = export.decide_export(DS, _proofs(1e-6), _parity(1.0, 3e-4), CPU_ONLY, GATE)
    assert v.level == FAIL and "3.00e-04" in v.reason
    v = export.decide_export(DS, _proofs(2e-3), _parity(1.0, 1e-7), CPU_ONLY, GATE)
    assert v.level == FAIL and "lra_encoder differs by 2.00e-03" in v.reason
    v = export.decide_export(DS, _proofs(1e-6), _parity(1.0, 1e-7), {"requested": "cuda", "used": CPU}, GATE)
    assert v.level == WARN and "CUDA requested" in v.reason


def test_publish_needs_the_export_of_the_weights_it_registers(exported: Path, tmp_path: Path) -> None:
    import shutil

    root = tmp_path / "ws"
    shutil.copytree(exported, root)
    ws = workspace(root, model_config("registry.publish_requires=[export]"))
    version = publish.run(ws, DS)
    assert (registry.get(ws, version.version).onnx / EXPORT_MANIFEST).is_file()
    # Retrain without exporting again: the export gate judged (and exported) other weights.
    train.run(workspace(root, model_config("seed=9")), DS, models=["hrlrec"], progress=False)
    with pytest.raises(Rejected, match=r"export: it judged model .*, but the candidate of .* is now"):
        publish.run(ws, DS)
    # Even with a result that claims the new weights, the export folder's manifest gives it away.
    claim = results.read(ws.layout, "export", DS)
    claim["model_sha256"] = checkpoints.sha256(ws.layout.candidate_weights(DS))
    results.write(ws.layout, "export", DS, claim)
    with pytest.raises(BadInput, match="exported from other weights"):
        publish.run(ws, DS)
    results.write(ws.layout, "export", DS, {"ds": DS, "verdict": FAIL, "reason": "FAIL: crafted"})
    with pytest.raises(Rejected, match="export: FAIL: crafted"):
        publish.run(ws, DS)
    assert registry.production(ws).name == version.version


def test_an_export_from_an_older_version_is_refused_by_name(exported: Path, tmp_path: Path) -> None:
    """An export that lacks a graph this ranker calls says which and what to do, not a KeyError mid-ranking."""
    import shutil

    folder = tmp_path / "old"
    shutil.copytree(_export(exported), folder)
    manifest = json.loads((folder / EXPORT_MANIFEST).read_text())
    (folder / "pool_items.onnx").unlink()
    manifest["graphs"] = [g for g in manifest["graphs"] if g != "pool_items"]
    del manifest["sha256"]["pool_items"]
    (folder / EXPORT_MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(BadInput, match=r"lacks graph\(s\) pool_items .* re-run `hrlrec export`"):
        OrtBackend(folder, device="cpu")


def test_a_graph_exported_with_other_inputs_is_refused(exported: Path, tmp_path: Path) -> None:
    """channel_policy from before hourly mix offsets took h_low alone: refused on load, named, with the fix."""
    import shutil

    folder = tmp_path / "old"
    shutil.copytree(_export(exported), folder)
    old_graph = folder / "channel_policy.onnx"
    h_low = torch.zeros(1, 16)
    with warnings.catch_warnings():  # the TorchScript exporter's deprecation notice, as in export.py
        warnings.simplefilter("ignore", category=DeprecationWarning)
        torch.onnx.export(torch.nn.Linear(16, 4), (h_low,), str(old_graph), input_names=["h_low"],
                          output_names=["logits"], dynamo=False)  # fmt: skip
    manifest = json.loads((folder / EXPORT_MANIFEST).read_text())
    manifest["sha256"]["channel_policy"] = checkpoints.sha256(old_graph)
    (folder / EXPORT_MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(BadInput, match=r"channel_policy.onnx takes inputs \(h_low\) .* re-run `hrlrec export`"):
        OrtBackend(folder, device="cpu")


def test_every_serving_graph_runs_where_its_inputs_are(trained_workspace: Path) -> None:
    """A PyTorch backend on a GPU feeds the graphs GPU tensors: none may make a tensor on the CPU.

    Checked on PyTorch's `meta` device (shapes without data), which a CPU-only machine has: like CUDA it
    refuses a CPU tensor in a linear layer, a concatenation or an addition (not as embedding indices,
    which it takes from the CPU; a CPU zero row of dense features was the bug this catches).
    """
    cfg = model_config()
    stream = batches.load(workspace(trained_workspace).layout.dataset_day(DS))
    torch.manual_seed(7)
    model = factory.build("hrlrec", ModelSpec.of(cfg), train.features_of(stream)).eval()
    meta = {name: graph.to("meta") for name, graph in graphs(model).items()}
    lists = stream.lists("test")[:4]
    batch = batches.list_batch(stream, lists, cfg.active.history_len, cfg.list_len)
    m, B = cfg.active.history_len, len(lists)
    context = batch.seq_cat[torch.arange(B), batch.hist_len].to("meta")
    history = [x.to("meta") for x in (batch.seq_cat[:, :m], batch.seq_dense[:, :m], batch.feedback[:, :m],
                                      batch.hist_len)]  # fmt: skip
    with torch.no_grad():
        pool = meta["pool_items"](stream.cat[:20].to("meta"))
        h_low, h_high = meta["initial_state"](context)
        low = meta["lra_encoder"](*history, h_low)
        high = meta["hra_encoder"](*history, h_high)
        logits = meta["channel_policy"](low, context)
        h_low, h_high, logits = meta["advance"](*history, h_low, h_high, context)
        channel = torch.ones(B, dtype=torch.long, device="meta")
        scores = meta["item_logits"](pool.expand(B, -1, -1), context, batch.seq_dense[:, 0].to("meta"), h_low,
                                     h_high, channel)  # fmt: skip
        ran = {"pool_items", "initial_state", "lra_encoder", "hra_encoder", "channel_policy", "advance", "item_logits"}
    assert ran == set(meta)
    assert all(t.device.type == "meta" for t in (low, high, logits, scores))
    assert scores.shape == (B, 20) and logits.shape[0] == B


def test_onnxruntime_on_cuda_is_asked_for_float32_without_tf32() -> None:
    """TF32 would move GPU scores ~1e-3 from the float32 reference the export gate holds to 1e-4."""
    from hrlrec.serving.backends import session_providers

    assert session_providers([CUDA, CPU]) == [(CUDA, {"use_tf32": "0"}), CPU]
    assert session_providers([CPU]) == [CPU]
