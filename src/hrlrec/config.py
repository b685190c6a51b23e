"""The one typed configuration object, loaded from `params.yaml`.

Every step reads its settings from `Config`. The models are frozen and strict:
an unknown key or a value of the wrong type is rejected with the dotted name of
the key (`simulator.users: Input should be a valid integer`), because a typo in a
daily pipeline's parameters must stop the run, not silently fall back to a
default. Overrides use DVC's `-S key=value` syntax so that `hrlrec -S ...` and
`dvc exp run -S ...` mean the same thing.

The defaults are not written here: they are `hrlrec/params.yaml`, shipped
inside the package, which no run ever edits (the project's own `params.yaml`,
what `dvc repro` and `dvc exp run` change in a checkout, starts as a copy and a
test keeps the two equal). This module holds the types, the ranges and the
checks. A params file given to the CLI may be partial: it is laid over the
defaults (a file DVC reads must be complete: DVC checks the keys it lists).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from hrlrec.errors import ConfigError

log = logging.getLogger(__name__)

_DAY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")


def _day_from_yaml(value: Any) -> Any:
    # YAML reads an unquoted 2026-11-01 as a date; the config stores days as text.
    return value.isoformat() if isinstance(value, dt.date) else value


def _check_day(value: str) -> str:
    if not _DAY_RE.match(value):
        raise ValueError(f"expected a day as YYYY-MM-DD, got {value!r}")
    dt.date.fromisoformat(value)  # raises for 2026-02-30
    return value


Day = Annotated[str, BeforeValidator(_day_from_yaml), AfterValidator(_check_day)]


class _Strict(BaseModel):
    """Frozen, strict, and closed: unknown keys are errors, not ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class ChannelTraits(_Strict):
    """How one channel behaves in the simulated world (ground truth, not model input)."""

    base_ctr: float = Field(gt=0, lt=1)  # click probability of an average item at position 0
    dwell_median_s: float = Field(gt=0)  # median seconds spent on a clicked item
    dwell_sigma: float = Field(gt=0)  # spread of log dwell time
    item_lifetime_days: int = Field(ge=1)  # days an item stays in the catalog
    new_items_per_day: int = Field(ge=1)  # items published per day
    freshness_decay: float = Field(ge=0)  # logit lost per day of item age
    peak_hour: int = Field(ge=0, le=23)  # UTC hour when the channel is most wanted


class ChannelShock(_Strict):
    """A sudden change of one channel's appeal from a given day on (for drills)."""

    channel: str  # which channel is shocked
    from_ds: Day  # first day with the shock
    logit_delta: float  # added to the channel's click logit; negative makes it less wanted


class SimulatorConfig(_Strict):
    """The simulated world: the default log source and the world every test trains in."""

    scale: float = Field(gt=0)  # multiplies the profile's user count
    sessions_per_user_day: float = Field(gt=0)  # mean requests per active user per day
    candidates_per_request: int = Field(ge=1)  # items the logging policy ranks per request
    n_tags: int = Field(ge=2)  # size of the tag vocabulary
    tags_per_item_max: int = Field(ge=1)  # items carry 1..this many tags
    latent_dim: int = Field(ge=2)  # dimension of user and item taste vectors
    devices: list[str]  # device names
    regions: int = Field(ge=1)  # number of known regions (0 = unknown is extra)
    taste_weight: float  # weight of user-item taste match in the click logit
    channel_pref_sd: float = Field(ge=0)  # spread of users' channel preferences
    hour_effect: float  # amplitude of the hour x channel interaction
    device_effect: float  # spread of the device x channel interaction
    age_effect: float  # spread of the age bucket x channel interaction
    history_weight: float  # pull of channels clicked in earlier sessions today
    history_decay: float = Field(ge=0, le=1)  # how much of that pull survives each session
    channel_fatigue: float  # logit lost per earlier item of the same channel in the list
    tag_fatigue: float  # logit lost per tag already shown earlier in the list
    position_bias: float = Field(ge=0)  # examination probability is 1 / (1 + position) ** this
    drift_amplitude: float = Field(ge=0)  # size of slow taste drift
    drift_period_days: list[float]  # drift periods span
    weekend_volume: float = Field(gt=0)  # request volume on Sat/Sun relative to weekdays
    logging_temperature: float = Field(gt=0)  # randomness of the logging policy's ranking
    logging_noise_sd: float = Field(ge=0)  # error of the logging policy's taste estimate
    users_per_file: int = Field(ge=1)  # users simulated together and written as one file
    default_traits: ChannelTraits  # for channels without traits
    traits: dict[str, ChannelTraits]  # per-channel behaviour, keyed by channel name
    shock: ChannelShock | None  # optional sudden channel shock

    @model_validator(mode="before")
    @classmethod
    def _fill_traits(cls, data: Any) -> Any:
        # A channel's traits may name only what differs from default_traits.
        if (
            isinstance(data, dict)
            and isinstance(data.get("traits"), dict)
            and isinstance(data.get("default_traits"), dict)
        ):
            base = data["default_traits"]
            filled = {c: {**base, **t} if isinstance(t, dict) else t for c, t in data["traits"].items()}
            data = {**data, "traits": filled}
        return data

    @model_validator(mode="after")
    def _check(self) -> SimulatorConfig:
        if len(self.drift_period_days) != 2 or not 0 < self.drift_period_days[0] <= self.drift_period_days[1]:
            raise ValueError("drift_period_days must be [shortest, longest] with 0 < shortest <= longest")
        if not self.devices or len(set(self.devices)) != len(self.devices):
            raise ValueError("devices must be a non-empty list of distinct names")
        return self

    def traits_for(self, channel: str) -> ChannelTraits:
        """The traits of `channel`, or the default traits when none are configured."""
        return self.traits.get(channel, self.default_traits)


class ProfileConfig(_Strict):
    """A size profile: `small` keeps a CPU run short, `full` is the paper's section 4.3."""

    simulator_users: int = Field(ge=1)  # simulated user population (before simulator.scale)
    train_days: int = Field(ge=1)  # days before ds that form the training window
    history_len: int = Field(ge=1)  # m: recent impressions in each state sequence
    state_dim: int = Field(ge=1)  # aggregated feature embedding size
    item_dim: int = Field(ge=1)  # item / channel embedding size
    field_dim: int = Field(ge=1)  # per-field embedding size fed to self-attention
    attention_heads: int = Field(ge=1)  # heads of the field self-attention
    gamma: float = Field(ge=0, le=1)  # discount factor
    batch_size: int = Field(ge=1)  # lists per optimisation step
    epochs: int = Field(ge=1)  # passes over the training window


class DatasetConfig(_Strict):
    """How logged days become training lists (paper 4.1: chronological split)."""

    lookback_days: int = Field(ge=0)  # earlier days read only as history for the window's first lists
    val_fraction: float = Field(gt=0, lt=1)  # latest share of training lists kept for early stopping
    user_buckets: int = Field(ge=2)  # hashed user ids (stable across days, no vocabulary to keep)
    item_buckets: int = Field(ge=2)  # hashed item ids
    tag_buckets: int = Field(ge=2)  # hashed tags
    region_buckets: int = Field(ge=2)  # hashed regions
    device_buckets: int = Field(ge=2)  # hashed device names
    max_tags: int = Field(ge=1)  # tags kept per item
    recent_sessions: int = Field(ge=1)  # earlier sessions whose clicks make the cumulative click features
    # A window above this many impressions is built in user-hash shards of about this size, so the
    # build's memory follows it and not the number of days (hrlrec.data.build)
    shard_rows: int = Field(ge=1000)


class ModelConfig(_Strict):
    """HRL-Rec's rewards, losses and ablation switches (paper section 3)."""

    reward_bias: list[float]  # b_i of eq. (7): click, dwell, diversity, novelty
    default_reward_weights: list[float]  # lambda_i of eq. (7) for click, dwell, diversity, novelty
    reward_weights: dict[str, list[float]]  # channel-specific lambda_i; channels not listed use default_reward_weights
    dwell_scale_s: float = Field(gt=0)  # dwell reward is log1p(dwell / this)
    # eq. (18) l:h:c:s. The paper's 5:5:1:1 with beta = 1 costs AUC on the simulated world
    # (docs/results.md): the similarity and actor terms pull the actions the click model
    # reads. Set [5, 5, 1, 1] and beta 1 to train exactly as the paper.
    loss_weights: list[float]
    beta: float = Field(ge=0)  # actor loss weight inside eqs. (11) and (14)
    critic_updates_per_actor: int = Field(ge=1)  # critics are updated this many times per actor update
    action_noise: float = Field(ge=0)  # sd of Gaussian noise on actions while training
    tau: float = Field(gt=0, le=1)  # soft update rate of the target networks
    use_gru: bool  # ablation: False replaces the GRU by mean pooling + a dense layer
    use_attention: bool  # ablation: False replaces field self-attention by a dense layer
    # `none`: the paper's two state encoders (3.2, 3.3). `attention`, the default (a departure, adopted in
    # docs/results.md "Adopting attention"), gives the LRA the HRA's behaviour vectors (one field embedding and
    # self-attention over the HRA's fields, two GRUs); `all` runs one encoder and gives both agents its states
    # (one attention and one GRU per step).
    encoder_sharing: Literal["none", "attention", "all"]
    use_similarity_loss: bool  # ablation: drop L_s
    use_supervised_loss: bool  # ablation: drop L_c
    # The served channel policy (departure from eq. 3's cosine pick, see models/hrlrec.py):
    # pi(c|s) ∝ pi_b(c|s) * exp(Q(s, c) / temperature), a KL-regularised improvement on the logs.
    policy_temperature: float = Field(gt=0)  # alpha: small trusts Q, large stays near the logs
    policy_loss_weight: float = Field(ge=0)  # weight of the channel head's CE + TD losses
    # logged: after training, per-channel offsets pin the policy's mean channel mix to the mix of the
    # window's logs (the logging policy's mix is stable week over week; Q's tilt is not); free: no offsets.
    channel_mix: Literal["logged", "free"]
    # logged mix: the hours of day each set of offsets covers (the request's hour picks its set). 24 pins the
    # day's mix (fitted on the validation lists); 4 pins each 4-hour bucket, the unit the stability gate
    # compares (gates.stability.hour_bucket), fitted on a sample of the window's lists (every hour).
    channel_mix_hours: int = Field(ge=1, le=24)
    # Where the daily anchor (channel_mix_hours 24) is fitted: `validation`, the validation slice (the window's
    # latest lists, i.e. the last day's last hours), or `window`, a sample of the whole window's lists (every
    # hour). Per-bucket offsets always use the window sample.
    channel_mix_fit: Literal["validation", "window"]
    # Context ids (hour, weekday, device, position) that no training row holds, e.g. the test day's weekday
    # in a window shorter than a week: `keep` their random initial rows; `mean`: set them to the mean of the
    # trained rows after training (hrlrec.train.unseen_context).
    unseen_context: Literal["keep", "mean"]

    @model_validator(mode="after")
    def _check(self) -> ModelConfig:
        for name, weights in [("default_reward_weights", self.default_reward_weights), *self.reward_weights.items()]:
            if len(weights) != 4:
                raise ValueError(f"reward weights {name} need 4 values (click, dwell, diversity, novelty)")
        if len(self.reward_bias) != 4 or len(self.loss_weights) != 4:
            raise ValueError("reward_bias and loss_weights need 4 values each")
        if 24 % self.channel_mix_hours:
            raise ValueError(f"channel_mix_hours must divide 24 (1, 2, 3, 4, 6, 8, 12, 24): {self.channel_mix_hours}")
        return self

    def weights_for(self, channel: str) -> list[float]:
        """lambda of eq. (7) for `channel`."""
        return self.reward_weights.get(channel, self.default_reward_weights)


class TrainConfig(_Strict):
    """How models are trained."""

    models: list[str]  # trained by `hrlrec train` by default
    seed: int | None  # seeds training alone (initial weights, batch order); null: the top-level seed
    learning_rate: float = Field(gt=0)  # Adam
    weight_decay: float = Field(ge=0)  # Adam weight decay
    baseline_epochs: int = Field(ge=1)  # epoch budget of the CTR baselines (they stop early); HRL-Rec: the profile's
    lr_c: float | None = Field(gt=0)  # LR's L2 as scikit-learn's C: weight decay 1 / (C x impressions)
    lr_learning_rate: float | None = Field(gt=0)  # LR's own Adam step; null: `learning_rate`
    patience: int = Field(ge=0)  # epochs without validation improvement before stopping
    device: str  # auto (CUDA when present), cpu or cuda
    precision: Literal["auto", "fp32", "bf16"]  # auto: bf16 autocast on CUDA, fp32 on the CPU
    max_steps: int | None = Field(ge=1)  # stop each model after this many optimizer steps (null: the epochs)
    threads: int = Field(ge=0)  # CPU threads for torch; 0 = torch's default
    max_grad_norm: float = Field(gt=0)  # gradient clipping
    warm_start: bool  # start from production's weights when they fit today's features


class AucGateConfig(_Strict):
    """The AUC gate: candidate vs production vs LR on the same held-out day."""

    floor: float = Field(ge=0, le=1)  # candidate AUC must be at least this
    max_drop: float = Field(ge=0)  # ... and at most this far below production's
    min_relaimpr: float  # ... and its RelaImpr over LR at least this (0.05 = +5 %)
    warn_margin: float = Field(ge=0)  # within this of a threshold the verdict is WARN


class StabilityGateConfig(_Strict):
    """Week-over-week channel proportions of the candidate's top-K lists (paper 4.8)."""

    hour_bucket: int = Field(ge=1, le=24)  # hours per bucket (24 must be a multiple)
    pool_per_channel: int = Field(ge=1)  # candidates per channel: the day's most impressed items
    max_requests: int = Field(ge=1)  # requests ranked per day (a seeded sample of the day's lists)
    max_relative_change: float = Field(gt=0)  # a channel's largest |p / p_week_ago - 1| over buckets
    mean_relative_change: float = Field(gt=0)  # a channel's mean |p / p_week_ago - 1| over buckets
    warn_fraction: float = Field(gt=0, le=1)  # above this share of a threshold the verdict is WARN
    min_share: float = Field(ge=0)  # buckets where the channel's share a week ago is below this are skipped
    noise_z: float = Field(ge=0)  # a change within this many standard errors of noise never FAILs (0: no floor)

    @model_validator(mode="after")
    def _check(self) -> StabilityGateConfig:
        if 24 % self.hour_bucket:
            raise ValueError(f"hour_bucket must divide 24, got {self.hour_bucket}")
        return self


class ExportGateConfig(_Strict):
    """The export gate: the ONNX graphs must rank exactly like the PyTorch model."""

    opset: int = Field(ge=17)  # ONNX opset of the exported graphs
    max_requests: int = Field(ge=1)  # requests of the day ranked by both runtimes (same sample as stability)
    min_identical_lists: float = Field(ge=0, le=1)  # share of requests with identical top-K lists
    # (a list that first differs at a float-level tie counts as identical; the strict share is reported too)
    max_near_tie_share: float = Field(ge=0, le=1)  # share of requests splitting such ties, at most
    max_abs_score_diff: float = Field(gt=0)  # largest |click score or graph output| difference allowed
    proof_batch_sizes: list[int]  # batch sizes every graph is run at
    proof_seq_lengths: list[int]  # behaviour-sequence lengths proven
    proof_pool_sizes: list[int]  # candidate-pool sizes proven


class OpeConfig(_Strict):
    """The off-policy check of the AUC gate: the served policy's clicks per list from logged propensities."""

    enabled: bool  # measure and check in `hrlrec evaluate` (off: PASS "not evaluated"; bench/ope.py measures)
    max_drop: float = Field(ge=0)  # FAIL below production's estimate by more than this share (interval excl. 0)
    max_requests: int = Field(ge=1)  # logged lists replayed per model (a seeded sample of the test day)
    epsilon: float = Field(ge=0, le=1)  # exploration of the evaluated policy (a greedy item choice has no overlap)
    clip: float | None = Field(gt=0)  # importance weights above this are clipped (null: never)
    min_ess: float = Field(ge=0)  # below this effective sample size an estimate is inconclusive
    min_overlap: float = Field(ge=0, le=1)  # ... and below this share of logged slots the policy could produce
    bootstrap: int = Field(ge=10)  # bootstrap resamples for the intervals
    judge_tolerance: float = Field(ge=0)  # the candidate's head judges unless its log-loss is worse by more
    # The reward model's own error, measured against the simulator's truth on days not reported
    # (docs/results.md): where the weights cannot correct the model (inconclusive support), the
    # intervals are widened by it, so a drop larger than the model's error can still FAIL.
    difference_margin: float = Field(ge=0)  # clicks per list, on candidate minus production
    value_margin: float = Field(ge=0)  # a share of each policy's own estimated value


class GatesConfig(_Strict):
    """Release gates; a FAIL never touches production."""

    auc: AucGateConfig  # offline AUC gate
    stability: StabilityGateConfig  # week-over-week gate
    export: ExportGateConfig  # ONNX parity gate
    ope: OpeConfig  # off-policy value (measured beside the AUC gate)


class AirflowConfig(_Strict):
    """How the `hrlrec_daily` DAG runs (read when the DAG file is parsed, from HRLREC_WORKSPACE/params.yaml)."""

    schedule: str | None  # cron or preset; null: runs only when triggered
    start_date: Day  # first logical day; catchup backfills from here
    sensor_poke_s: int = Field(ge=1)  # seconds between checks for landing/ds=D/_SUCCESS (reschedule mode)
    sensor_timeout_s: int = Field(ge=1)  # give up waiting for the day's logs after this
    retries: int = Field(ge=0)  # retries of the I/O tasks (land, ingest, dataset, publish, report); gates get none
    retry_delay_s: int = Field(ge=1)  # first retry delay; doubles each retry (exponential backoff)
    max_retry_delay_s: int = Field(ge=1)  # cap of the backoff
    train_timeout_s: int = Field(ge=1)  # a training task running longer than this fails
    approval_timeout_s: int = Field(ge=1)  # a WARN nobody answers within this is rejected
    notifier: Literal["log", "smtp", "webhook"]  # where failure notifications go
    notify_to: list[str]  # smtp recipients
    webhook_url_env: str  # env var holding the webhook (e.g. Slack incoming webhook) URL
    smtp_conn_id: str  # Airflow connection for smtp notifications
    version_with_dvc: bool  # after publish: dvc commit + push, one git commit and tag per day


class ServingConfig(_Strict):
    """How the exported ONNX graphs are served (onnxruntime)."""

    device: Literal["auto", "cpu", "cuda"]  # auto: CUDAExecutionProvider when a GPU is usable
    intra_op_threads: int = Field(ge=0)  # onnxruntime intra-op threads; 0 = its default
    # sample: each position's channel is drawn from the policy with a seeded generator (same seed,
    # same lists, so gates stay reproducible); argmax: the most probable available channel.
    channel_choice: Literal["sample", "argmax"]
    epsilon: float = Field(ge=0, le=1)  # share of positions given a uniform item of the channel


class RegistryConfig(_Strict):
    """The model registry in the workspace."""

    keep: int = Field(ge=2)  # versions kept (production and its predecessor always are)
    publish_requires: list[str]  # gates whose result must say PASS (or an approved WARN) for the day before promotion


def inside_workspace(value: str, key: str) -> str:
    """A workspace-relative path that stays inside the workspace: not absolute, no `..`, not empty.

    Every step writes under these paths; one that escaped would let a typo (or a hostile
    `-S` override) write, prune or roll back another workspace's files.
    """
    path = PurePosixPath(value)
    if not value.strip() or path.is_absolute() or value.startswith("~") or ".." in path.parts or "\\" in value:
        raise ValueError(f"{key}: {value!r} must be a relative path inside the workspace (no absolute path, no '..')")
    if path == PurePosixPath("."):
        raise ValueError(f"{key}: {value!r} would be the workspace itself; name a folder inside it")
    return value


class PathsConfig(_Strict):
    """Where each step reads and writes, relative to the workspace."""

    landing: str  # drop zone: ds=YYYY-MM-DD/ partitions with a _SUCCESS marker
    raw: str  # ingested days that passed the structural contract
    quarantine: str  # days that failed validation, kept for inspection
    validation: str  # per-day validation results and day statistics
    data_docs: str  # Great Expectations Data Docs, one site per day
    metrics: str  # JSON metrics that DVC tracks
    datasets: str  # training lists per day
    models: str  # checkpoints of trained candidates
    stability: str  # channel-proportion records per day (candidate and production)
    reports: str  # the on-call page of each day: reports/ds=D/index.html
    memo: str  # rankings kept between the steps that rank the same requests (serving/memo.py)

    @field_validator("*")
    @classmethod
    def _inside_workspace(cls, value: str, info: ValidationInfo) -> str:
        return inside_workspace(value, f"paths.{info.field_name}")


BOUNDED_COLUMNS = ("user_id", "session_id", "item_id", "dwell_time_s", "user_age_bucket", "user_gender",
                   "user_region", "n_tags")  # fmt: skip  # numeric columns whose range params.yaml sets


class ValidationConfig(_Strict):
    """Thresholds of the Great Expectations suites in data_checks/."""

    event_time_tolerance_s: float = Field(ge=0)  # event_time may lie this far outside the day
    trailing_days: int = Field(ge=1)  # earlier days the day is compared with
    min_history_days: int = Field(ge=1)  # validated days needed in that window to compare at all
    max_volume_ratio: float = Field(gt=1)  # today's rows / trailing mean must lie in [1/x, x]
    max_share_change: float = Field(gt=0)  # |channel share / trailing share - 1| at most this
    max_ctr_change: float = Field(gt=0)  # |channel CTR / trailing CTR - 1| at most this
    chunk_rows: int = Field(ge=1)  # impressions held in pandas at once (lists never split)
    bounds: dict[str, list[int]]  # plausible [min, max] per numeric column, read by the impressions suite
    suites_dir: str | None  # suites folder (workspace-relative); None = WORKSPACE/data_checks or the checkout's

    @field_validator("bounds")
    @classmethod
    def _bounds_cover_the_contract(cls, value: dict[str, list[int]]) -> dict[str, list[int]]:
        missing = sorted(set(BOUNDED_COLUMNS) - set(value))
        unknown = sorted(set(value) - set(BOUNDED_COLUMNS))
        if missing or unknown:
            raise ValueError(f"validation.bounds must name exactly {', '.join(BOUNDED_COLUMNS)}"
                             + (f"; missing {', '.join(missing)}" if missing else "")
                             + (f"; unknown {', '.join(unknown)}" if unknown else ""))  # fmt: skip
        for column, pair in value.items():
            if len(pair) != 2:
                raise ValueError(f"validation.bounds.{column}: expected [min, max], got {pair}")
            lo, hi = pair
            if lo > hi:
                raise ValueError(f"validation.bounds.{column}: min {lo} is above max {hi}")
        return value

    @field_validator("suites_dir")
    @classmethod
    def _suites_inside_workspace(cls, value: str | None) -> str | None:
        return None if value is None else inside_workspace(value, "validation.suites_dir")


class Config(_Strict):
    """Everything a run needs. Loaded once, passed down, never mutated."""

    ds: Day  # the day `dvc repro` runs for (the Airflow DAG passes its own)
    profile: str  # active size profile, a key of `profiles`
    source: Literal["simulator", "parquet"]  # simulator: `hrlrec land` simulates days; parquet: an upstream drop
    seed: int  # seeds the simulated world, the gates' request samples and (unless train.seed) training
    channels: list[str]  # channels in the feed, in a fixed order (the order of the model's channel ids)
    list_len: int = Field(ge=1)  # items per recommended list
    paths: PathsConfig  # workspace layout
    simulator: SimulatorConfig  # the simulated world
    validation: ValidationConfig  # data checks
    dataset: DatasetConfig  # training window and features
    model: ModelConfig  # HRL-Rec rewards, losses, ablations
    train: TrainConfig  # optimisation
    gates: GatesConfig  # release gates
    registry: RegistryConfig  # versions and promotion
    serving: ServingConfig  # onnxruntime serving
    airflow: AirflowConfig  # the daily DAG
    profiles: dict[str, ProfileConfig]  # size profiles

    @property
    def training_seed(self) -> int:
        """The seed of initial weights and batch order: `train.seed`, else `seed`.

        Separate so a setting can be trained under several seeds in the same simulated world (the world,
        and so the landed days, follow `seed`; changing it would need new days).
        """
        return self.seed if self.train.seed is None else self.train.seed

    @model_validator(mode="after")
    def _check(self) -> Config:
        if not self.channels:
            raise ValueError("channels must name at least one channel")
        if len(set(self.channels)) != len(self.channels):
            raise ValueError(f"channels must be distinct, got {self.channels}")
        for name in self.channels:
            if not _NAME_RE.match(name):
                raise ValueError(f"channel name {name!r} must be lowercase letters, digits and _")
        unknown = sorted(set(self.simulator.traits) - set(self.channels))
        if unknown:
            raise ValueError(
                f"simulator.traits names channels not in `channels`: {unknown} (remove them or list the channels)"
            )
        shock = self.simulator.shock
        if shock is not None and shock.channel not in self.channels:
            raise ValueError(f"simulator.shock.channel {shock.channel!r} is not in `channels`")
        unknown = sorted(set(self.model.reward_weights) - set(self.channels))
        if unknown:
            raise ValueError(f"model.reward_weights names channels not in `channels`: {unknown}")
        if self.profile not in self.profiles:
            raise ValueError(f"profile {self.profile!r} is not one of {sorted(self.profiles)}")
        return self

    @property
    def active(self) -> ProfileConfig:
        """The settings of the active size profile."""
        return self.profiles[self.profile]


class Yaml12Loader(yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2's floats: `1e-9` and `5E3` are numbers, as DVC reads them.

    PyYAML follows YAML 1.1, where a float needs a dot (`1.0e-9`), so `-S train.learning_rate=1e-3`
    would arrive as the text "1e-3" and fail with a confusing type error.
    """


Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def load_yaml(text: str) -> Any:
    """YAML text with YAML 1.2 floats (see Yaml12Loader)."""
    return yaml.load(text, Loader=Yaml12Loader)


def parse_override(text: str) -> tuple[list[str], Any]:
    """Split `a.b.c=value` into (["a", "b", "c"], value), the value read as YAML."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"override {text!r} must look like key=value (e.g. simulator.users_per_file=5000)")
    try:
        value = load_yaml(raw) if raw.strip() else ""
    except ValueError:
        value = raw  # e.g. 2026-13-01 looks like a date but is not one: let the field judge it
    except yaml.YAMLError as exc:
        raise ConfigError(f"override {key}: value {raw!r} is not valid YAML: {exc}") from exc
    return key.strip().split("."), value


def apply_overrides(data: Mapping[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Return a copy of `data` with each `key=value` override set (nested keys by dots)."""
    merged: dict[str, Any] = _deep_copy(data)
    for text in overrides:
        path, value = parse_override(text)
        node = merged
        for i, part in enumerate(path[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            elif not isinstance(child, dict):
                raise ConfigError(f"override {text!r}: {'.'.join(path[: i + 1])} is not a section")
            node = child
        node[path[-1]] = value
    return merged


def _deep_copy(data: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _deep_copy(v) if isinstance(v, Mapping) else v for k, v in data.items()}


MOVED = {("airflow", "source"): ("source",)}  # old key -> new key (params written before the move still load)


def _migrate(data: dict[str, Any], source: str) -> dict[str, Any]:
    """Move keys that were renamed, with a warning naming the new place (a value already there wins)."""
    for old, new in MOVED.items():
        node = data
        for part in old[:-1]:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict) and old[-1] in node:
            value = node.pop(old[-1])
            target = data
            for part in new[:-1]:
                target = target.setdefault(part, {})
            if new[-1] not in target or target[new[-1]] == value:
                target[new[-1]] = value
            log.warning("%s: `%s` moved to `%s`; please update the file", source, ".".join(old), ".".join(new))
    return data


def from_dict(data: Mapping[str, Any], source: str = "params") -> Config:
    """Build a Config, turning pydantic's errors into one message that names each bad key."""
    try:
        return Config.model_validate(dict(data))
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"]) or "(top level)"
            if err["type"] == "extra_forbidden":
                lines.append(f"{key}: unknown key")
            else:
                got = f" (got {err['input']!r})" if err["type"] not in ("missing",) and _short(err["input"]) else ""
                lines.append(f"{key}: {err['msg']}{got}")
        raise ConfigError(f"{source}: invalid configuration\n  " + "\n  ".join(lines)) from None


def _short(value: Any) -> bool:
    return not isinstance(value, (dict, list)) or len(repr(value)) < 80


DEFAULTS = Path(__file__).with_name("params.yaml")  # the packaged defaults; the project's params.yaml equals them
# Mappings keyed by names the user chooses (channels): a params file replaces them whole rather than
# adding to the defaults' keys, or a feed with other channels would inherit news, article, ...
REPLACED_WHOLE = {("simulator", "traits"), ("model", "reward_weights")}


def read_yaml(path: Path) -> dict[str, Any]:
    """A params file as a mapping; a clear ConfigError for a missing, unreadable or non-mapping file."""
    try:
        loaded = load_yaml(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such params file") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path}: top level must be a mapping of keys, got {type(loaded).__name__}")
    return loaded


def merge(base: Mapping[str, Any], over: Mapping[str, Any], at: tuple[str, ...] = ()) -> dict[str, Any]:
    """`over` laid on `base`: sections merge key by key, values (and REPLACED_WHOLE mappings) replace."""
    merged = _deep_copy(base)
    for key, value in over.items():
        here = (*at, str(key))
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping) and here not in REPLACED_WHOLE:
            merged[key] = merge(merged[key], value, here)
        else:
            merged[key] = _deep_copy(value) if isinstance(value, Mapping) else value
    return merged


def defaults() -> dict[str, Any]:
    """The packaged defaults (the project's params.yaml) as a mapping."""
    return read_yaml(DEFAULTS)


def load(path: Path | None = None, overrides: Sequence[str] = ()) -> Config:
    """Load the defaults, lay `path` (a full or partial params file) over them, then apply overrides.

    The defaults live in one place, the params.yaml shipped with the package
    (the project root's file); this module holds the types and checks only.
    """
    data = defaults()
    source = "defaults"
    if path is not None:
        source = str(path)
        data = merge(data, _migrate(read_yaml(path), source))
    if overrides:
        data = apply_overrides(data, overrides)
        source += " with overrides " + " ".join(overrides)
    return from_dict(data, source)
