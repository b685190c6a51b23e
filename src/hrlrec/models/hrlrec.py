"""HRL-Rec (paper section 3): two state encoders, two agents, an item tower and a click head.

(The default `model.encoder_sharing: attention` departs from the two encoders: they share the field
embedding and self-attention; see HRLRec.__init__ and docs/results.md, "Adopting attention".)

Shapes: B lists, K positions, T = m + K behaviours, S state size, A = item_dim, C channels.

What is served (hrlrec.serving.ranker) and why it departs from eqs. (3) and (6):

- the channel of each position comes from `policy` (models/channel_policy.py):
  pi(c|s) ∝ pi_b(c|s) exp(Q(s, c) / alpha), a prior fitted to the logged
  channels and a channel value trained by TD on clicks. The paper's pick, the
  channel of the candidate most cosine-similar to the LRA's actor output, is
  trained by no label and served a collapsed mix (64-95 % articles, the
  second-worst channel for clicks) that moved 56-77 % between weekly
  retrainings (docs/results.md);
- the HRA sees the channel constraint c_t in its state, as the paper's state
  definition has it (3.3): s_h + e(c_t), with c_t the logged channel in
  training and the policy's channel in serving. Without it one action had to
  point at good items of every channel at once;
- the item inside the channel is the one with the highest click logit
  f(a_l, a_h(c_t), d): the supervised head the AUC gate measures, so the
  offline number describes what is served.

The continuous actors, critics, the four losses of eq. (18) and the ablation
switches are all still trained; the actors feed the click head.

Two departures from eq. (16), on purpose:

- the click model is f(a, d) = sigmoid(w . [a; d; a_l * d; a_h * d] + b): the
  element-wise products of actions and item are added to the concatenation.
  With the bare concatenation the logit is a user term plus an item term, which
  cannot express "this user likes this item"; the products give it the kind of
  interaction FM-style models have;
- d, "the real item displayed", describes the impression: the item (id, tags,
  channel), where it was shown (position, hour, weekday, device) and the
  cumulative channel features at that point (paper 3.2 (d)). Without them the
  state before position 0 knows nothing of the current request. When ranking,
  every candidate of a request shares the context, so the choice among items
  is unchanged by it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from hrlrec.data.batches import FEEDBACK_CODES, ListBatch
from hrlrec.models.channel_policy import ChannelPolicy
from hrlrec.models.channel_selector import ChannelSelector
from hrlrec.models.encoder import StateEncoder
from hrlrec.models.item_recommender import ItemRecommender
from hrlrec.models.layers import CONTEXT_FIELDS, PROFILE_FIELDS, FieldEmbedding
from hrlrec.models.spec import Features, ModelSpec

# Fields of one behaviour (paper 3.2): profile, context, current channel (LRA) or item (HRA),
# feedback (clicked / not / unknown inside the list being built), cumulative channel features.
LRA_FIELDS = [*PROFILE_FIELDS, *CONTEXT_FIELDS, "channel", "feedback", "dense"]
HRA_FIELDS = [*PROFILE_FIELDS, *CONTEXT_FIELDS, "channel", "item", "tags", "feedback", "dense"]


@dataclass
class Forward:
    """Everything one pass over a batch of logged lists produces."""

    s_low: torch.Tensor  # (B, K + 1, S) LRA states before each position (and after the last)
    s_high: torch.Tensor  # (B, K + 1, S) HRA states
    item_emb: torch.Tensor  # (B, K, A) embeddings d of the logged items
    a_low: torch.Tensor  # (B, K, A) LRA actions
    a_high: torch.Tensor  # (B, K, A) HRA actions, given the logged channel
    logits: torch.Tensor  # (B, K) click logits of f(a, d)
    channel: torch.Tensor  # (B, K) logged channel ids (1..C, 0 unknown)


ITEM_FIELDS = ["item", "tags", "channel", *CONTEXT_FIELDS]


class ItemTower(nn.Module):
    """d: a displayed item's embedding from its id, tags, channel and context, in the actions' space."""

    def __init__(
        self, vocab: dict[str, int], cat_columns: list[str], dense_dim: int, field_dim: int, item_dim: int
    ) -> None:
        super().__init__()
        self.fields = FieldEmbedding(vocab, cat_columns, [*ITEM_FIELDS, "dense"], dense_dim, field_dim)
        width = self.fields.n_fields * field_dim
        self.proj = nn.Sequential(nn.Linear(width, width), nn.ReLU(), nn.Linear(width, item_dim), nn.Tanh())
        self.dim = item_dim

    def forward(self, cat: torch.Tensor, dense: torch.Tensor) -> torch.Tensor:
        """(..., F) ids and (..., D) cumulative features -> (..., A)."""
        return self.proj(self.fields(cat, dense).flatten(-2))


class HRLRec(nn.Module):
    """The integrated recommender: LRA picks channels, HRA picks items inside them."""

    def __init__(self, spec: ModelSpec, features: Features) -> None:
        super().__init__()
        m = spec.model
        self.spec, self.features = spec, features
        self.list_len = spec.list_len
        self.noise = m.action_noise
        extra = {"feedback": FEEDBACK_CODES}
        vocab, cat_columns, dense_dim = features.vocab, features.cat_columns, features.dense_dim

        def encoder(fields: list[str], behaviours: StateEncoder | None = None) -> StateEncoder:
            emb = behaviours.fields if behaviours else FieldEmbedding(vocab, cat_columns, fields, dense_dim,
                                                                      spec.field_dim, extra=extra)  # fmt: skip
            return StateEncoder(emb, spec.attention_heads, spec.field_dim, spec.state_dim, m.use_attention, m.use_gru,
                                attention=behaviours.attention if behaviours else None)  # fmt: skip

        # `model.encoder_sharing` (`none`: the paper's two encoders): `attention`, the default (a departure,
        # adopted for 1.6x the training speed at equal test AUC), gives the LRA's encoder the HRA's field
        # embedding and attention (one pass per step, two GRUs); `all` makes the two names one module (one
        # attention, one GRU). For `none` the LRA's is built first: the order draws the initial weights.
        self.encoder_sharing = m.encoder_sharing
        if m.encoder_sharing == "none":
            self.low_encoder = encoder(LRA_FIELDS)
            self.high_encoder = encoder(HRA_FIELDS)
        elif m.encoder_sharing == "attention":
            self.high_encoder = encoder(HRA_FIELDS)
            self.low_encoder = encoder(HRA_FIELDS, behaviours=self.high_encoder)
        else:
            self.low_encoder = self.high_encoder = encoder(HRA_FIELDS)
        self.items = ItemTower(vocab, cat_columns, dense_dim, spec.field_dim, spec.item_dim)
        self.lra = ChannelSelector(spec.state_dim, spec.item_dim)
        self.hra = ItemRecommender(spec.state_dim, spec.item_dim)
        self.policy = ChannelPolicy(spec.state_dim, len(spec.channels), m.policy_temperature)
        # c_t in the HRA's state (paper 3.3): added to s_h; id 0 (unknown channel) adds nothing learnt.
        self.channel_state = nn.Embedding(len(spec.channels) + 1, spec.state_dim, padding_idx=0)
        nn.init.normal_(self.channel_state.weight, std=0.1)
        with torch.no_grad():
            self.channel_state.weight[0].zero_()
        self.click = nn.Linear(5 * spec.item_dim, 1)  # eq. (16), with products (see module doc)
        self.channel_col = cat_columns.index("channel")
        self.hour_col = cat_columns.index("hour")

    def states(self, batch: ListBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """LRA and HRA states before each list position: 2 x (B, K + 1, S)."""
        args = (batch.seq_cat, batch.seq_dense, batch.feedback, batch.hist_len, batch.list_len, self.list_len)
        if self.encoder_sharing == "all":
            states = self.high_encoder(*args)
            return states, states
        if self.encoder_sharing == "attention":
            f, matrix = self.high_encoder.behaviours(batch.seq_cat, batch.seq_dense, batch.feedback)
            rest = (batch.hist_len, batch.list_len, self.list_len)
            return self.low_encoder.sequence(f, matrix, *rest), self.high_encoder.sequence(f, matrix, *rest)
        return self.low_encoder(*args), self.high_encoder(*args)

    def click_logit(self, a_low: torch.Tensor, a_high: torch.Tensor, item: torch.Tensor) -> torch.Tensor:
        """f(a, d) before the sigmoid: (..., A) x3 -> (...)."""
        return self.click(torch.cat([a_low, a_high, item, a_low * item, a_high * item], -1)).squeeze(-1)

    def high_state(self, s_high: torch.Tensor, channel: torch.Tensor) -> torch.Tensor:
        """The HRA's state under channel constraint `channel` (ids): (..., S), (...) -> (..., S)."""
        return s_high + self.channel_state(channel)

    def forward(self, batch: ListBatch, noise: bool | None = None) -> Forward:
        noisy = self.training if noise is None else noise
        sigma = self.noise if noisy else 0.0
        s_low, s_high = self.states(batch)
        item_emb = self.items(batch.list_cat, batch.list_dense)  # (B, K, A)
        channel = batch.list_cat[..., self.channel_col]  # (B, K) the logged channel constraint
        a_low = self.lra.act(s_low[:, :-1], sigma)  # eq. (3)
        a_high = self.hra.act(self.high_state(s_high[:, :-1], channel), sigma)  # eq. (6), c_t in the state
        logits = self.click_logit(a_low, a_high, item_emb)
        return Forward(s_low, s_high, item_emb, a_low, a_high, logits, channel)

    @torch.no_grad()
    def score(self, batch: ListBatch) -> torch.Tensor:
        """Click probabilities of the logged items (B, K): how offline AUC is measured (Table 2)."""
        return torch.sigmoid(self.forward(batch, noise=False).logits)

    def candidates(self, batch: ListBatch, pool: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Up to `pool` logged items of the batch as one candidate pool: embeddings (N, A) and channels (N,).

        The paper's candidates are the top 200 items per channel; a pool of that
        order drawn from the batch keeps the similarity loss linear in the batch.
        """
        cat = batch.list_cat.reshape(-1, batch.list_cat.shape[-1])
        dense = batch.list_dense.reshape(-1, batch.list_dense.shape[-1])
        mask = batch.list_mask.reshape(-1)
        idx = torch.nonzero(mask).squeeze(-1)
        if len(idx) > pool:
            idx = idx[torch.randperm(len(idx), device=idx.device)[:pool]]
        cat, dense = cat[idx], dense[idx]
        return self.items(cat, dense), cat[:, self.channel_col]

    def update_targets(self, tau: float) -> None:
        self.lra.update_targets(tau)
        self.hra.update_targets(tau)
        self.policy.update_targets(tau)
