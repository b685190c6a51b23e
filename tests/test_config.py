from __future__ import annotations

from pathlib import Path

import pytest

from hrlrec import config
from hrlrec.errors import ConfigError
from tests.conftest import ROOT


def test_params_yaml_spells_out_the_defaults() -> None:
    # params.yaml documents the defaults; if they drift apart, one of them lies.
    assert config.load(ROOT / "params.yaml") == config.load()


def test_override_sets_nested_keys_with_yaml_types() -> None:
    overrides = ["simulator.scale=0.5", "list_len=5", "channels=[a, b]", "simulator.traits={}"]
    cfg = config.load(ROOT / "params.yaml", [*overrides, "model.reward_weights={}"])
    assert cfg.simulator.scale == 0.5
    assert cfg.list_len == 5
    assert cfg.channels == ["a", "b"]


def test_unquoted_yaml_day_is_read_as_text(tmp_path: Path) -> None:
    params = tmp_path / "params.yaml"
    params.write_text("ds: 2026-11-03\n")
    assert config.load(params).ds == "2026-11-03"


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ("simulator.userz=3", "simulator.userz: unknown key"),
        ("list_len=abc", "list_len: Input should be a valid integer"),
        ("seed=1.5", "seed: Input should be a valid integer"),
        ("simulator.scale=big", "simulator.scale: Input should be a valid number"),
        ("ds=2026-13-01", "ds: Value error, month must be in 1..12"),
        ("ds=20261101", "ds:"),
        ("simulator.devices=web", "simulator.devices: Input should be a valid list"),
        ("paths.landing.x=1", "paths.landing"),
        ("profile=huge", "profile 'huge' is not one of"),
        ("channels=[news, news]", "channels must be distinct"),
        ("channels=[News]", "channel name 'News'"),
        ("simulator.traits.podcast.base_ctr=0.1", "simulator.traits names channels not in `channels`"),
        ("simulator.traits.news.base_ctr=1.5", "simulator.traits.news.base_ctr"),
    ],
)
def test_bad_values_are_rejected_by_key(override: str, named: str) -> None:
    with pytest.raises(ConfigError) as err:
        config.load(ROOT / "params.yaml", [override])
    assert named in str(err.value)


def test_unknown_key_in_file_is_named(tmp_path: Path) -> None:
    params = tmp_path / "params.yaml"
    params.write_text("seed: 3\nsimulator:\n  userss: 10\n")
    with pytest.raises(ConfigError, match=r"simulator\.userss: unknown key"):
        config.load(params)


def test_file_must_be_a_mapping(tmp_path: Path) -> None:
    params = tmp_path / "params.yaml"
    params.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        config.load(params)


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such params file"):
        config.load(tmp_path / "nope.yaml")


def test_malformed_override_is_rejected() -> None:
    with pytest.raises(ConfigError, match="must look like key=value"):
        config.load(None, ["seed"])


def test_config_is_frozen() -> None:
    cfg = config.load()
    with pytest.raises(ValueError):
        cfg.seed = 3  # type: ignore[misc]


def test_channels_are_configurable_without_traits() -> None:
    cfg = config.load(None, ["channels=[podcast, live]", "simulator.traits={}", "model.reward_weights={}"])
    assert cfg.simulator.traits_for("podcast") == cfg.simulator.default_traits


def test_active_profile_follows_profile_key() -> None:
    assert config.load(None, ["profile=full"]).active.history_len == 50
    assert config.load(None, ["profile=small"]).active.history_len == 10
