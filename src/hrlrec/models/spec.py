"""What a model is, apart from the pipeline that trains it: its spec and its input features.

A model takes a `ModelSpec` (channels, list length, the profile's dimensions,
the `model:` section of params.yaml) and the `Features` of the dataset it reads
(vocabulary sizes, id columns, dense width). Both are what a model card stores,
so a registered version loads whatever happens later to the rest of
params.yaml (an Airflow key renamed, a gate threshold moved): the pipeline's
configuration is never needed to rebuild a model.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hrlrec import config
from hrlrec.config import Config, ModelConfig
from hrlrec.errors import BadInput

# model.* keys whose default is not what every model had before the key existed: the value such a model had.
# (`encoder_sharing` came in with `none`, the paper's two encoders; its default became `attention` later.)
BEFORE_THE_KEY: dict[str, Any] = {"encoder_sharing": "none"}


class ModelSpec(BaseModel):
    """Everything that shapes a model's architecture and its losses."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    channels: list[str]  # channel names, in the order of the channel ids 1..C (0: unknown)
    list_len: int = Field(ge=1)  # K, positions per list
    history_len: int = Field(ge=1)  # m, recent impressions in each state sequence
    state_dim: int = Field(ge=1)  # aggregated state embedding size
    item_dim: int = Field(ge=1)  # item / action embedding size
    field_dim: int = Field(ge=1)  # per-field embedding size
    attention_heads: int = Field(ge=1)  # heads of the field self-attention
    gamma: float = Field(ge=0, le=1)  # discount factor
    model: ModelConfig  # the `model:` section: rewards, losses, policy, ablations

    @classmethod
    def of(cls, cfg: Config) -> ModelSpec:
        """The spec of the model the configuration trains (its active profile)."""
        p = cfg.active
        return cls(
            channels=list(cfg.channels), list_len=cfg.list_len, history_len=p.history_len, state_dim=p.state_dim,
            item_dim=p.item_dim, field_dim=p.field_dim, attention_heads=p.attention_heads, gamma=p.gamma,
            model=cfg.model,
        )  # fmt: skip

    @classmethod
    def from_card(cls, card: dict[str, Any], source: Path) -> ModelSpec:
        """The spec a card recorded; BadInput naming `source` and the reason when it cannot be read.

        Cards written before specs existed stored the whole pipeline config
        (`config`); their spec is read from it without validating anything
        else. A key of `model:` added after a model was trained takes today's
        default (a change of architecture then shows as a weights mismatch),
        except the keys of BEFORE_THE_KEY, whose default changed after they
        were added: a card without one was written while only the old value
        existed, so it gets that value.
        """
        if "spec" in card:
            if not isinstance(card["spec"], dict):
                raise BadInput(f"{source}: model card's spec is not a mapping ({type(card['spec']).__name__})")
            raw = dict(card["spec"])
        elif "config" in card and isinstance(card["config"], dict):
            old = card["config"]
            try:
                profile = old["profiles"][old["profile"]]
                raw = {"channels": old["channels"], "list_len": old["list_len"], "model": old["model"]} | {
                    k: profile[k] for k in ("history_len", "state_dim", "item_dim", "field_dim",
                                            "attention_heads", "gamma")
                }  # fmt: skip
            except (KeyError, TypeError) as exc:
                raise BadInput(f"{source}: model card has no readable spec (missing {exc})") from None
        else:
            raise BadInput(f"{source}: model card has no `spec`; it was not written by `hrlrec train`")
        if isinstance(raw.get("model"), dict):
            raw["model"] = config.merge(config.defaults()["model"], BEFORE_THE_KEY | raw["model"], ("model",))
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5])
            raise BadInput(f"{source}: model card's spec cannot be read ({problems})") from None

    def reward_weights(self, channel: str) -> list[float]:
        """lambda of eq. (7) for `channel`."""
        return self.model.weights_for(channel)


@dataclass(frozen=True)
class Features:
    """The input side of a model: id vocabulary sizes, id column names and the dense width."""

    vocab: dict[str, int]
    cat_columns: list[str]
    dense_dim: int

    def to_card(self) -> dict[str, Any]:
        return {"vocab": self.vocab, "cat_columns": self.cat_columns, "dense_dim": self.dense_dim}

    @classmethod
    def from_card(cls, card: dict[str, Any], source: Path) -> Features:
        try:
            return cls(dict(card["vocab"]), list(card["cat_columns"]), int(card["dense_dim"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise BadInput(f"{source}: model card has no readable features ({exc})") from None
