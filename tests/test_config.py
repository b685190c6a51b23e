from __future__ import annotations

from pathlib import Path

import pytest

from hrlrec import config
from hrlrec.errors import ConfigError
from tests.conftest import ROOT


def test_the_projects_params_yaml_is_the_packaged_defaults() -> None:
    # The checkout's params.yaml (what `dvc repro` reads) starts as the packaged defaults, comments and all;
    # if they drift apart, one of them lies. The packaged file is a real file, never a link into the checkout.
    packaged = ROOT / "src" / "hrlrec" / "params.yaml"
    assert not packaged.is_symlink() and config.DEFAULTS.resolve() == packaged.resolve()
    assert (ROOT / "params.yaml").read_text() == packaged.read_text()
    assert config.load(ROOT / "params.yaml") == config.load()


def test_config_py_holds_no_default_values() -> None:
    """Every value comes from the packaged params.yaml: no field of any section has a default in code."""
    import pydantic

    def sections(model: type[pydantic.BaseModel]):
        yield model
        for field in model.model_fields.values():
            for arg in [field.annotation, *getattr(field.annotation, "__args__", ())]:
                if isinstance(arg, type) and issubclass(arg, pydantic.BaseModel):
                    yield from sections(arg)

    for model in sections(config.Config):
        defaulted = [n for n, f in model.model_fields.items() if not f.is_required()]
        assert not defaulted, f"{model.__name__} has code defaults: {defaulted}"


def test_a_partial_params_file_is_laid_over_the_defaults(tmp_path: Path) -> None:
    params = tmp_path / "params.yaml"
    params.write_text("seed: 11\ngates:\n  auc:\n    floor: 0.6\nsimulator:\n  traits:\n    news: {base_ctr: 0.2}\n")
    cfg = config.load(params)
    defaults = config.load()
    assert cfg.seed == 11 and cfg.gates.auc.floor == 0.6
    assert cfg.gates.auc.max_drop == defaults.gates.auc.max_drop  # the rest of the section is the default
    assert cfg.channels == defaults.channels
    # Channel-keyed mappings are replaced whole (a feed's own channels never inherit the defaults'),
    # and a channel's traits left out come from default_traits.
    assert set(cfg.simulator.traits) == {"news"}
    assert cfg.simulator.traits["news"].base_ctr == 0.2
    assert cfg.simulator.traits["news"].dwell_median_s == defaults.simulator.default_traits.dwell_median_s


def test_a_key_that_moved_still_loads_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    params = tmp_path / "params.yaml"
    params.write_text("airflow:\n  source: parquet\n")
    with caplog.at_level("WARNING", logger="hrlrec.config"):
        cfg = config.load(params)
    assert cfg.source == "parquet"
    assert "`airflow.source` moved to `source`" in caplog.text


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
        ("paths.raw=/abs", "paths.raw: '/abs' must be a relative path inside the workspace"),
        ("paths.models=../../other", "paths.models: '../../other' must be a relative path inside the workspace"),
        ("paths.data_docs=reports/../../x", "paths.data_docs:"),
        ("paths.metrics=~/m", "paths.metrics:"),
        ("paths.raw=.", "paths.raw: '.' would be the workspace itself"),
        ("validation.suites_dir=/etc/checks", "validation.suites_dir: '/etc/checks' must be a relative path"),
        ("serving.epsilon=1.5", "serving.epsilon"),
        ("serving.channel_choice=random", "serving.channel_choice"),
        ("model.policy_temperature=0", "model.policy_temperature"),
        ("model.channel_mix=fixed", "model.channel_mix"),
        ("validation.bounds.n_tags=[64,1]", "validation.bounds.n_tags: min 64 is above max 1"),
        ("validation.bounds.n_tags=[1]", "validation.bounds.n_tags: expected [min, max]"),
        ("validation.bounds.clicks=[0,1]", "unknown clicks"),
        ("gates.stability.noise_z=-1", "gates.stability.noise_z"),
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


@pytest.mark.parametrize(("text", "value"), [("1e-9", 1e-9), ("5E3", 5000.0), ("-2.5e+2", -250.0), ("7", 7),
                                             ("1.5", 1.5), ("1e", "1e"), ("[1e-3, 2]", [0.001, 2])])  # fmt: skip
def test_overrides_read_numbers_as_yaml_1_2_does(text: str, value: object) -> None:
    assert config.parse_override(f"a={text}")[1] == value


def test_a_learning_rate_in_e_notation_is_a_number() -> None:
    assert config.load(ROOT / "params.yaml", ["train.learning_rate=1e-3"]).train.learning_rate == 0.001
