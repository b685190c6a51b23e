"""Models stand alone: a card holds the model's own spec, so later changes to params never strand a version."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from hrlrec import checkpoints, train
from hrlrec.data import batches
from hrlrec.errors import BadInput
from hrlrec.models import factory
from hrlrec.models.spec import Features, ModelSpec
from hrlrec.train.loop import predict
from hrlrec.workspace import Workspace
from tests.conftest import TRAIN_DAYS, model_config

DS = TRAIN_DAYS[-1]


@pytest.fixture(scope="module")
def trained(trained_workspace: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny workspace with an HRL-Rec and an LR candidate trained for the test day."""
    import shutil

    root = tmp_path_factory.mktemp("spec") / "ws"
    shutil.copytree(trained_workspace, root)
    train.run(Workspace(root, model_config()), DS, progress=False)
    return root


def _weights(root: Path) -> Path:
    return Workspace(root, model_config()).layout.candidate_weights(DS)


def _rewrite_card(weights: Path, change) -> None:
    card = json.loads(checkpoints.card_path(weights).read_text())
    change(card)
    checkpoints.card_path(weights).write_text(json.dumps(card))


def test_a_card_stores_the_models_spec_and_features_not_the_pipeline_config(trained: Path) -> None:
    card = checkpoints.read_card(_weights(trained))
    assert "config" not in card and "airflow" not in json.dumps(card) and "gates" not in json.dumps(card)
    assert ModelSpec.model_validate(card["spec"]) == ModelSpec.of(model_config())
    loaded = factory.load(_weights(trained))
    assert loaded.spec.history_len == 5 and loaded.features.cat_columns == card["cat_columns"]


def test_a_model_is_built_from_spec_and_features_alone(trained: Path) -> None:
    loaded = factory.load(_weights(trained))
    again = factory.build("hrlrec", loaded.spec, loaded.features)
    again.load_state_dict(loaded.model.state_dict())
    assert isinstance(loaded.spec, ModelSpec) and isinstance(loaded.features, Features)


def test_an_old_card_holding_the_whole_config_loads_after_an_airflow_key_was_renamed(
    trained: Path, tmp_path: Path
) -> None:
    """A version registered before specs existed: its card carries the whole config, with keys since renamed."""
    import shutil

    folder = tmp_path / "old"
    shutil.copytree(_weights(trained).parent, folder)
    weights = folder / "hrlrec.pt"
    today = factory.load(weights)

    def legacy(card: dict) -> None:
        full = model_config().model_dump(mode="json")
        full["airflow"]["cron"] = full["airflow"].pop("schedule")  # a key that no longer exists today
        full["reports_theme"] = "dark"  # and a section that never did
        card.pop("spec")
        card["config"] = full

    _rewrite_card(weights, legacy)
    old = factory.load(weights)
    assert old.spec == today.spec
    stream = batches.load(Workspace(trained, model_config()).layout.dataset_day(DS))
    lists = stream.lists("test")[:50]
    assert torch.equal(torch.as_tensor(predict(old.model, stream, lists).probs),
                       torch.as_tensor(predict(today.model, stream, lists).probs))  # fmt: skip


def test_a_model_key_added_after_training_takes_its_default(trained: Path, tmp_path: Path) -> None:
    import shutil

    folder = tmp_path / "old"
    shutil.copytree(_weights(trained).parent, folder)
    _rewrite_card(folder / "hrlrec.pt", lambda card: card["spec"]["model"].pop("use_gru"))
    assert factory.load(folder / "hrlrec.pt").spec.model.use_gru is True


def test_a_spec_that_does_not_fit_the_weights_is_bad_input_naming_the_file(trained: Path, tmp_path: Path) -> None:
    import shutil

    folder = tmp_path / "old"
    shutil.copytree(_weights(trained).parent, folder)
    _rewrite_card(folder / "hrlrec.pt", lambda card: card["spec"].update(state_dim=17))
    with pytest.raises(BadInput, match=r"hrlrec\.pt: weights do not fit the hrlrec model .*other shape: .* "
                                       r"retrain with `hrlrec train --model hrlrec`"):  # fmt: skip
        factory.load(folder / "hrlrec.pt")


def test_a_baseline_trained_before_the_list_fields_names_what_is_missing(trained: Path, tmp_path: Path) -> None:
    """An LR saved before baselines read the list above an impression: its weights lack those tables."""
    lr = _weights(trained).parent / "lr.pt"
    state, card = checkpoints.load(lr)
    old = {k.replace("weights.own.", "weights."): v for k, v in state.items() if "earlier_" not in k}
    checkpoints.save(tmp_path / "lr.pt", old, card)
    expected = (
        r"lr\.pt: weights do not fit the lr model .*missing: weights\.own\..*unexpected: weights\.tables\..* "
        r"retrain with `hrlrec train --model lr`"
    )
    with pytest.raises(BadInput, match=expected):
        factory.load(tmp_path / "lr.pt")


@pytest.mark.parametrize("spec", ["wide", None, [1, 2]])
def test_a_spec_that_is_not_a_mapping_is_bad_input(trained: Path, tmp_path: Path, spec) -> None:
    import shutil

    folder = tmp_path / "old"
    shutil.copytree(_weights(trained).parent, folder)
    _rewrite_card(folder / "hrlrec.pt", lambda card: card.update(spec=spec))
    with pytest.raises(BadInput, match=r"hrlrec\.json: model card's spec is not a mapping"):
        factory.load(folder / "hrlrec.pt")


def test_an_unreadable_card_exits_2_with_the_file_and_the_reason(trained: Path, tmp_path: Path) -> None:
    """Through the CLI: the AUC gate's candidate card is broken, and the gate says so in one line."""
    import shutil

    root = tmp_path / "ws"
    shutil.copytree(trained, root)
    weights = _weights(root)
    _rewrite_card(weights, lambda card: card["spec"].update(state_dim="wide"))
    params = root / "params.yaml"
    params.write_text(json.dumps(model_config().model_dump(mode="json")))  # JSON is YAML
    out = subprocess.run(
        [sys.executable, "-m", "hrlrec.cli", "--workspace", str(root), "evaluate", "--ds", DS],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr
    assert f"{checkpoints.card_path(weights)}: model card's spec cannot be read (state_dim" in out.stderr


def test_a_card_from_before_encoder_sharing_loads_the_two_encoders_it_was_trained_with(
    trained_workspace: Path, tmp_path: Path
) -> None:
    """A model trained before `model.encoder_sharing` existed had the paper's two encoders, whatever today's
    default: its card (no such key) must load as `none`, not as today's `attention`."""
    import shutil

    root = tmp_path / "ws"
    shutil.copytree(trained_workspace, root)
    ws = Workspace(root, model_config("model.encoder_sharing=none"))
    train.run(ws, DS, models=["hrlrec"], progress=False)
    weights = ws.layout.candidate_weights(DS)
    trained_as = factory.load(weights)
    _rewrite_card(weights, lambda card: card["spec"]["model"].pop("encoder_sharing"))
    old = factory.load(weights)
    assert model_config().model.encoder_sharing == "attention"
    assert (
        old.spec.model.encoder_sharing == "none"
        and old.model.low_encoder.attention is not old.model.high_encoder.attention
    )
    stream = batches.load(ws.layout.dataset_day(DS))
    lists = stream.lists("test")[:50]
    assert torch.equal(torch.as_tensor(predict(old.model, stream, lists).probs),
                       torch.as_tensor(predict(trained_as.model, stream, lists).probs))  # fmt: skip
