"""Training end to end with real torch: metrics, checkpoints, the NaN guard, 2-process DDP."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from hrlrec import checkpoints, train
from hrlrec.data import batches
from hrlrec.errors import BadInput
from hrlrec.layout import DATASET_STREAM
from hrlrec.models import factory
from hrlrec.models.spec import Features, ModelSpec
from hrlrec.train.loop import TrainingDiverged, predict
from tests.conftest import SMALL_MODEL, TRAIN_DAYS, model_config, workspace

DS = TRAIN_DAYS[-1]


def test_train_writes_metrics_for_every_model_and_weights_that_reload_exactly(ws: Path) -> None:
    cfg = model_config()
    w = workspace(ws, cfg)
    result = train.run(w, DS, models=["hrlrec", "lr", "deepfm"], progress=False)
    report = json.loads(w.layout.result("train").read_text())
    assert set(report["models"]) == {"hrlrec", "lr", "deepfm"}
    assert 0.5 < report["oracle_auc"] <= 1.0
    for name, m in report["models"].items():
        assert 0.0 <= m["auc"] <= 1.0 and m["logloss"] > 0, name
        assert set(m["per_channel_auc"]) == set(cfg.channels)
        assert m["relaimpr_over_lr"] is not None
    assert report["models"]["lr"]["relaimpr_over_lr"] == 0.0
    # issue 14 item 5: the summary is part of the candidates' atomic set, beside the models it describes
    assert json.loads((result.out_dir / "train.json").read_text()) == report

    # Checkpoint round trip: rebuild from the card, load weights-only, identical scores.
    stream = batches.load(w.layout.dataset_day(DS))
    for name in ("hrlrec", "deepfm"):
        state, card = checkpoints.load(result.out_dir / f"{name}.pt")
        assert card["model"] == name and card["metrics"]["auc"] == pytest.approx(result.models[name]["auc"])
        features = Features(stream.meta["vocab"], card["cat_columns"], card["dense_dim"])
        model = factory.build(name, ModelSpec.of(cfg), features)
        model.load_state_dict(state)
        scores = predict(model, stream, stream.lists("test")).probs
        from hrlrec import metrics

        labels = predict(model, stream, stream.lists("test")).labels
        assert metrics.auc(labels, scores) == pytest.approx(result.models[name]["auc"], abs=1e-12)


def test_a_tampered_or_pickled_checkpoint_is_refused(ws: Path, tmp_path: Path) -> None:
    result = train.run(workspace(ws), DS, models=["lr"], progress=False)
    weights = result.out_dir / "lr.pt"
    data = bytearray(weights.read_bytes())
    data[-20] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(BadInput, match="does not match its card"):
        checkpoints.load(weights)

    # A pickle that would run code is refused even with a matching card.
    evil = tmp_path / "evil.pt"
    torch.save({"w": torch.zeros(1), "x": _Exploit()}, evil)
    card = json.loads(checkpoints.card_path(weights).read_text())
    card["sha256"] = checkpoints.sha256(evil)
    checkpoints.card_path(evil).write_text(json.dumps(card))
    with pytest.raises(BadInput, match="not a weights-only checkpoint"):
        checkpoints.load(evil)


class _Exploit:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_a_nan_in_a_batch_stops_training_and_writes_nothing(ws: Path) -> None:
    w = workspace(ws)
    stream_file = w.layout.dataset_day(DS) / DATASET_STREAM
    table = pq.read_table(stream_file)
    col = table.column("recent_ch0").to_numpy().copy()
    col[: len(col) // 2] = np.nan  # poison half the rows, so the first training batch has some
    table = table.set_column(table.schema.get_field_index("recent_ch0"), "recent_ch0", pa.array(col))
    pq.write_table(table, stream_file)
    with pytest.raises(TrainingDiverged, match=r"hrlrec: training diverged at epoch 1, step 1: .*nan"):
        train.run(w, DS, models=["hrlrec"], progress=False)
    assert not w.layout.models.exists()
    assert not w.layout.result("train").exists()


def test_cuda_requested_without_a_gpu_is_a_clear_error(ws: Path) -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU; the error path needs one without")
    with pytest.raises(BadInput, match="no CUDA device"):
        train.run(workspace(ws), DS, models=["lr"], device="cuda", progress=False)


def test_an_unknown_model_is_named(ws: Path) -> None:
    with pytest.raises(BadInput, match="unknown model 'xgboost'"):
        train.run(workspace(ws), DS, models=["xgboost"], progress=False)


@pytest.mark.slow
def test_two_process_ddp_training_with_torchrun_on_cpu(ws: Path) -> None:
    torchrun = Path(sys.executable).with_name("torchrun")
    overrides = [a for o in SMALL_MODEL for a in ("-S", o)]
    cmd = [
        str(torchrun), "--standalone", "--nproc_per_node", "2", "-m", "hrlrec.cli", "--workspace", str(ws),
        *overrides, "train", "--ds", DS, "--model", "hrlrec,lr", "--device", "cpu", "--no-progress",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "trained on cpu" in out.stdout  # rank 0 reports
    layout = workspace(ws).layout
    report = json.loads(layout.result("train").read_text())
    assert set(report["models"]) == {"hrlrec", "lr"}
    state, _ = checkpoints.load(layout.candidate_weights(DS))
    assert all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point())


def test_training_is_seeded_and_repeatable(trained_workspace: Path, tmp_path: Path) -> None:
    """Same seed, same model; `train.seed` alone gives another model trained on the same landed days."""
    aucs = []
    for k, overrides in enumerate([(), (), ("train.seed=8",)]):
        root = tmp_path / f"ws{k}"
        shutil.copytree(trained_workspace, root)
        w = workspace(root, model_config(*overrides))
        aucs.append(train.run(w, DS, models=["hrlrec"], progress=False).models["hrlrec"]["auc"])
    assert aucs[0] == aucs[1]
    assert aucs[2] != aucs[0]
    assert model_config("train.seed=8").training_seed == 8 and model_config().training_seed == model_config().seed


def test_a_crash_while_saving_candidates_leaves_the_previous_set_whole(
    ws: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 14 item 5: models were saved one file at a time, so a crash left one new and one old model."""
    import hashlib

    w = workspace(ws)
    train.run(w, DS, models=["lr", "deepfm"], progress=False)
    folder = w.layout.candidates_day(DS)

    def digests() -> dict[str, str]:
        files = [*folder.iterdir(), w.layout.result("train")]
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in files if p.is_file()}

    before = digests()
    assert {"lr.pt", "deepfm.pt", "train.json"} <= set(before)
    real_save, saved = checkpoints.save, []

    def crash_on_the_second_model(path: Path, state: dict, card: dict) -> None:
        if saved:
            raise OSError("disk full (simulated crash between two models)")
        saved.append(path.name)
        real_save(path, state, card)

    monkeypatch.setattr(checkpoints, "save", crash_on_the_second_model)
    with pytest.raises(OSError, match="disk full"):  # another seed: other weights, other metrics
        train.run(workspace(ws, model_config("seed=9")), DS, models=["lr", "deepfm"], progress=False)
    assert saved == ["lr.pt"]  # the first new model was written, to the temporary folder
    assert digests() == before  # ... and none of it reached the candidates or train.json
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")], "temporary folder left"


def test_max_steps_stops_training_after_that_many_optimizer_steps(trained_workspace: Path) -> None:
    from hrlrec.train import features_of
    from hrlrec.train.loop import Dist, fit

    cfg = model_config("train.max_steps=3", "train.baseline_epochs=5")
    stream = batches.load(workspace(trained_workspace).layout.dataset_day(TRAIN_DAYS[-1]))
    torch.manual_seed(0)
    model = factory.build("lr", ModelSpec.of(cfg), features_of(stream))
    result = fit("lr", model, cfg, stream, torch.device("cpu"), Dist(0, 1), progress=False)
    batch_rows = cfg.active.batch_size * cfg.list_len
    assert result.epochs == 1 and len(result.history) == 1  # validated once, then stopped
    assert result.impressions == 3 * batch_rows


def test_precision_chooses_bf16_autocast_only_when_asked_or_on_cuda() -> None:
    from contextlib import nullcontext

    from hrlrec.train.loop import _autocast

    cpu = torch.device("cpu")
    assert isinstance(_autocast("auto", cpu), nullcontext) and isinstance(_autocast("fp32", cpu), nullcontext)
    bf16 = _autocast("bf16", cpu)
    assert isinstance(bf16, torch.autocast) and bf16.fast_dtype == torch.bfloat16
    with warnings.catch_warnings():  # constructing a CUDA autocast without a GPU warns; it is never entered here
        warnings.simplefilter("ignore", UserWarning)
        assert isinstance(_autocast("auto", torch.device("cuda")), torch.autocast)
    assert isinstance(_autocast("fp32", torch.device("cuda")), nullcontext)


def test_a_torchrun_job_is_recognised_whatever_its_size(monkeypatch: pytest.MonkeyPatch) -> None:
    from hrlrec.train.loop import Dist

    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(key, raising=False)
    assert Dist.from_env() == Dist(0, 1, 0, False)
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "1")
    monkeypatch.setenv("LOCAL_RANK", "0")
    assert Dist.from_env() == Dist(0, 1, 0, True)
    monkeypatch.delenv("LOCAL_RANK")
    monkeypatch.setenv("WORLD_SIZE", "2")  # another launcher: RANK and WORLD_SIZE only
    assert Dist.from_env() == Dist(0, 2, 0, True)


@pytest.mark.slow
def test_a_one_process_torchrun_job_starts_the_process_group_and_trains_the_plain_runs_model(
    ws: Path, tmp_path: Path
) -> None:
    """`torchrun --nproc_per_node 1` (a one-GPU machine's DDP check) runs the process group and DDP, and
    DDP over one process averages nothing away: the same AUC as training without torchrun."""
    plain = tmp_path / "plain"
    shutil.copytree(ws, plain)
    want = train.run(workspace(plain), DS, models=["hrlrec"], device="cpu", progress=False).models["hrlrec"]["auc"]
    overrides = [a for o in SMALL_MODEL for a in ("-S", o)]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "1", "-m", "hrlrec.cli",
           "--workspace", str(ws), *overrides, "train", "--ds", DS, "--model", "hrlrec", "--device", "cpu",
           "--no-progress"]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "torchrun: process group gloo, rank 0 of 1, device cpu" in out.stderr
    report = json.loads(workspace(ws).layout.result("train").read_text())
    assert report["models"]["hrlrec"]["auc"] == pytest.approx(want, abs=1e-6)
