"""The trained HRL-Rec cut into the graphs serving runs: what `hrlrec export` writes as ONNX.

Training encodes a whole list at once; serving builds it one item at a time,
so the encoder is exported as a *chunk* graph: from a state h, run the GRU over
`length` more behaviours and return the state after them. The same graph
encodes a request's history (T = m, length = hist_len) and advances the state
with each placed item (T = 1, length = 1). GRU outputs are causal, so padding
after `length` never changes the state read at `length`; that is why an
unpacked GRU (which every ONNX exporter handles) gives the training encoder's
states, and tests/test_serving.py checks it does.

Graphs (B requests, T behaviours, N candidates, F id columns, D dense features):

    initial_state  context (B, F)                          -> h_low, h_high (B, S)
    lra_encoder    cat (B,T,F), dense (B,T,D), feedback (B,T), length (B), h (B,S) -> h (B,S)
    hra_encoder    same, for the high-level agent
    channel_policy h_low (B, S), context (B, F)            -> logits (B, C) unnormalised log pi(c | s, hour)
    pool_items     pool (N, F)                             -> item_part (N, H)
    item_logits    candidates_part (B, N, H), context (B, F), context_dense (B, D), h_low, h_high (B, S),
                   channel (B)                             -> click_logit (B, N)
    advance        cat, dense, feedback, length as the encoders, h_low, h_high (B, S), context (B, F)
                                                           -> h_low, h_high (B, S), logits (B, C)

`channel_policy` is the served channel policy (models/channel_policy.py) and
`item_logits` the click head f(a_l, a_h(c), d) of every candidate, with the
HRA's action taken under the chosen channel: the ranker decides with what the
AUC gate measures. The item tower's first layer is split: `pool_items` is its
item half, which depends on the pool alone, so the ranker runs it once per
pool instead of once per request and position; `item_logits` adds the
request's context half and runs the rest of the tower and the click head in
one graph (d, B x N x A floats, never leaves it). Its candidates are each
request's own (B, N, H): the ranker passes only the items of the channel the
policy chose (the hard constraint), a quarter of the pool with four channels,
and replay scores one logged item per request.

`advance` is one ranking step's state work in one graph: both encoders'
chunks, then the channel policy at the next position's context. The ranker
calls it for the history and after each placed item, so a 10-item list costs
one initial_state, ten advance and ten item_logits calls instead of 41. A
session call's own overhead measured only a few microseconds, so this saves
little for one request; most of its gain is in batches (docs/results.md,
"Serving, side by side"). The separate graphs stay:
replay and the export proofs read each agent on its own.
"""

from __future__ import annotations

import torch
from torch import nn

from hrlrec.models.channel_policy import HOURS
from hrlrec.models.encoder import StateEncoder
from hrlrec.models.hrlrec import HRLRec

ITEM_OWN_FIELDS = ("item", "tags", "channel")  # what a candidate brings; the rest is the request's


class InitialState(nn.Module):
    """h_0 of both agents from the user profile fields of the request's context row."""

    def __init__(self, model: HRLRec) -> None:
        super().__init__()
        self.low, self.high = model.low_encoder, model.high_encoder
        self.shared = model.encoder_sharing == "all"  # one encoder: one state, given to both agents

    def forward(self, context: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        row = context.unsqueeze(1)  # (B, 1, F): one behaviour
        # On the context's device: a PyTorch backend on CUDA feeds CUDA tensors (the export traces on the CPU).
        dense = torch.zeros(row.shape[0], 1, self.low.fields.dense.in_features, dtype=torch.float32,
                            device=context.device)  # fmt: skip
        feedback = torch.zeros(row.shape[:2], dtype=torch.long, device=context.device)
        out = []
        for enc in (self.high,) if self.shared else (self.low, self.high):
            matrix = enc.fields(row, dense, {"feedback": feedback})  # profile fields ignore dense/feedback
            out.append(enc.initial_state(matrix))
        return out[0], out[-1]


class EncoderChunk(nn.Module):
    """The state after `length` more behaviours, starting from `h`: eq. (1) then eq. (2)."""

    def __init__(self, encoder: StateEncoder) -> None:
        super().__init__()
        if not encoder.use_gru:
            raise ValueError("serving needs the GRU state encoder (the average-pooling ablation is not served)")
        self.encoder = encoder

    def forward(
        self,
        seq_cat: torch.Tensor,
        seq_dense: torch.Tensor,
        feedback: torch.Tensor,
        length: torch.Tensor,
        h: torch.Tensor,
    ) -> torch.Tensor:
        f, _ = self.encoder.behaviours(seq_cat, seq_dense, feedback)
        return self.advance(f, length, h)

    def advance(self, f: torch.Tensor, length: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """`forward` from the behaviour vectors f (B, T, n*d) `behaviours` gave."""
        out, _ = self.encoder.gru(f, h.unsqueeze(0))  # (B, T, S), causal
        outs = torch.cat([h.unsqueeze(1), out], 1)  # index i = after i behaviours
        idx = length.clamp(min=0, max=outs.shape[1] - 1).view(-1, 1, 1).expand(-1, 1, self.encoder.state_dim)
        # [:, 0], not squeeze(1): the TorchScript exporter guards a squeeze of a dimension it cannot prove is 1
        # with an If on the runtime shape, a subgraph per call; indexing exports as one Gather.
        return outs.gather(1, idx)[:, 0]


class ChannelPolicyGraph(nn.Module):
    """Unnormalised log pi(c | s, h) of the served policy, the request's hour's mix offsets included."""

    def __init__(self, model: HRLRec) -> None:
        super().__init__()
        self.policy = model.policy
        self.hour_col = model.hour_col

    def forward(self, h_low: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        hour = (context[:, self.hour_col] - 1).clamp(0, HOURS - 1)  # hour ids are hour + 1 (0 = padding)
        return self.policy.served(h_low, hour)


class PoolItems(nn.Module):
    """The item half of the item tower's first layer for every pool item: (N, F) -> (N, H).

    The tower's first layer is linear in the concatenated fields, so it splits
    into an item half (this graph: once per pool) and a context half (once per
    request and position, in `item_logits`); only their sum, the ReLU and the
    last layer run per (request, item) pair. Same function as `model.items`.
    """

    def __init__(self, model: HRLRec) -> None:
        super().__init__()
        split = _split_first_layer(model)
        self.fields = split["fields"]
        self.register_buffer("item_fields", split["item_fields"], persistent=False)
        self.w_item = nn.Parameter(split["w_item"], requires_grad=False)

    def forward(self, pool: torch.Tensor) -> torch.Tensor:
        pool_dense = torch.zeros(pool.shape[0], self.fields.dense.in_features, device=pool.device)
        items = self.fields(pool, pool_dense).index_select(1, self.item_fields).flatten(1)  # (N, i*d)
        return items @ self.w_item.T


def _split_first_layer(model: HRLRec) -> dict[str, torch.Tensor | nn.Module]:
    """The item tower's field embedding and its first layer's weight cut into item and context blocks."""
    tower = model.items
    fields, first = tower.fields, tower.proj[0]
    dim = first.in_features // fields.n_fields
    item_fields = [i for i, f in enumerate(fields.fields) if f in ITEM_OWN_FIELDS]
    context_fields = [i for i in range(fields.n_fields) if i not in item_fields]
    blocks = first.weight.detach().reshape(first.out_features, fields.n_fields, dim)
    return {
        "fields": fields,
        "item_fields": torch.tensor(item_fields),
        "context_fields": torch.tensor(context_fields),
        "w_item": blocks[:, item_fields].flatten(1).clone(),
        "w_context": blocks[:, context_fields].flatten(1).clone(),
        "bias": first.bias.detach().clone(),
    }


class ItemLogits(nn.Module):
    """Click logits f(a_l, a_h, d) of every candidate, the HRA acting under channel constraint `channel`.

    d comes from the pool's item half (`pool_items`) plus the request's context
    half, then the ReLU and the tower's last layer. f is linear in
    [a_l; a_h; d; a_l * d; a_h * d], so per request it folds into one vector
    dotted with d: the click logit of N candidates costs one (N, A) product
    instead of N concatenations.
    """

    def __init__(self, model: HRLRec) -> None:
        super().__init__()
        split = _split_first_layer(model)
        self.fields, self.last = split["fields"], model.items.proj[2:]
        self.register_buffer("context_fields", split["context_fields"], persistent=False)
        self.w_context = nn.Parameter(split["w_context"], requires_grad=False)
        self.bias = nn.Parameter(split["bias"], requires_grad=False)
        self.lra, self.hra = model.lra.actor, model.hra.actor
        self.channel_state = model.channel_state
        w = model.click.weight.detach().reshape(5, -1)  # blocks for a_l, a_h, d, a_l*d, a_h*d
        self.register_buffer("w", w.clone(), persistent=False)
        self.register_buffer("b", model.click.bias.detach().clone(), persistent=False)

    def forward(
        self,
        candidates_part: torch.Tensor,
        context: torch.Tensor,
        context_dense: torch.Tensor,
        h_low: torch.Tensor,
        h_high: torch.Tensor,
        channel: torch.Tensor,
    ) -> torch.Tensor:
        """candidates_part (B, N, H): `pool_items` rows of each request's candidates; context (B, F) with the
        list position set, context_dense (B, D) -> (B, N)."""
        ctx = self.fields(context, context_dense).index_select(1, self.context_fields).flatten(1)  # (B, c*d)
        hidden = torch.relu((ctx @ self.w_context.T + self.bias).unsqueeze(1) + candidates_part)
        d = self.last(hidden)  # (B, N, A)
        a_low = self.lra(h_low)
        a_high = self.hra(h_high + self.channel_state(channel))
        w = self.w
        per_request = a_low @ w[0] + a_high @ w[1] + self.b  # (B,)
        folded = w[2] + a_low * w[3] + a_high * w[4]  # (B, A)
        return torch.einsum("bna,ba->bn", d, folded) + per_request.unsqueeze(1)


class Advance(nn.Module):
    """Both agents' states after `length` more behaviours, then the channel policy's logits at `context`.

    The same function as lra_encoder, hra_encoder and channel_policy called in
    turn (the ranker's step), in one graph so a step is one session call.
    """

    def __init__(self, model: HRLRec) -> None:
        super().__init__()
        self.low, self.high = EncoderChunk(model.low_encoder), EncoderChunk(model.high_encoder)
        self.policy = ChannelPolicyGraph(model)
        # model.encoder_sharing: with `attention` the behaviour vectors are computed once for both GRUs; with
        # `all` both states are the one encoder's, so its chunk runs once. h_low then equals h_high by
        # construction (initial_state returns one state twice); it enters as 0 * h_low only so the graph keeps
        # the input every advance takes (the TorchScript exporter drops an unused input).
        self.sharing = model.encoder_sharing

    def forward(
        self,
        seq_cat: torch.Tensor,
        seq_dense: torch.Tensor,
        feedback: torch.Tensor,
        length: torch.Tensor,
        h_low: torch.Tensor,
        h_high: torch.Tensor,
        context: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if self.sharing == "none":
            h_low = self.low(seq_cat, seq_dense, feedback, length, h_low)
            h_high = self.high(seq_cat, seq_dense, feedback, length, h_high)
        else:
            f, _ = self.high.encoder.behaviours(seq_cat, seq_dense, feedback)
            h_high = self.high.advance(f, length, h_high)
            h_low = h_high + 0.0 * h_low if self.sharing == "all" else self.low.advance(f, length, h_low)
        return h_low, h_high, self.policy(h_low, context)


def graphs(model: HRLRec) -> dict[str, nn.Module]:
    """Every graph serving needs, by file stem, in eval mode."""
    model = model.eval()
    found: dict[str, nn.Module] = {
        "initial_state": InitialState(model),
        "lra_encoder": EncoderChunk(model.low_encoder),
        "hra_encoder": EncoderChunk(model.high_encoder),
        "channel_policy": ChannelPolicyGraph(model),
        "pool_items": PoolItems(model),
        "item_logits": ItemLogits(model),
        "advance": Advance(model),
    }
    return {name: g.eval() for name, g in found.items()}
