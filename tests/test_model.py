"""HRL-Rec's tensors: shapes, masks, the channel constraint, target networks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from hrlrec.data import batches
from hrlrec.data.batches import PAD, UNKNOWN
from hrlrec.models import factory
from hrlrec.models.channel_selector import ChannelSelector
from hrlrec.models.item_recommender import ItemRecommender
from hrlrec.models.spec import ModelSpec
from hrlrec.train import features_of
from hrlrec.train.objective import HRLRecObjective
from tests.conftest import TRAIN_DAYS, model_config, workspace

M, K = 5, 10


@pytest.fixture(scope="module")
def stream(trained_workspace: Path) -> batches.Stream:
    return batches.load(workspace(trained_workspace).layout.dataset_day(TRAIN_DAYS[-1]))


def _model(stream: batches.Stream, *overrides: str):
    cfg = model_config(*overrides)
    torch.manual_seed(0)
    return cfg, factory.build("hrlrec", ModelSpec.of(cfg), features_of(stream))


def test_batch_layout_history_then_list_with_feedback_codes(stream: batches.Stream) -> None:
    lists = stream.lists("train")[:64]
    b = batches.list_batch(stream, lists, M, K)
    assert b.seq_cat.shape == (64, M + K, len(stream.cat_columns))
    assert b.seq_dense.shape == (64, M + K, stream.dense.shape[1])
    for i in range(64):
        h = int(b.hist_len[i])
        assert h == min(M, stream.offset[lists[i]] - stream.user_start[lists[i]])
        assert (b.feedback[i, :h] <= 1).all()  # known clicks in the history
        assert (b.feedback[i, h : h + K] == UNKNOWN).all()  # the list being built: feedback unknown
        assert (b.feedback[i, h + K :] == PAD).all()
        assert b.hist_mask[i].sum() == h


def test_states_actions_and_click_logits_have_the_documented_shapes(stream: batches.Stream) -> None:
    cfg, model = _model(stream)
    b = batches.list_batch(stream, stream.lists("train")[:32], M, K)
    out = model(b)
    S, A = cfg.active.state_dim, cfg.active.item_dim
    assert out.s_low.shape == (32, K + 1, S) and out.s_high.shape == (32, K + 1, S)
    assert out.a_low.shape == (32, K, A) and out.a_high.shape == (32, K, A)
    assert out.item_emb.shape == (32, K, A) and out.logits.shape == (32, K)
    assert out.a_low.abs().max() <= 1.0 + 5 * cfg.model.action_noise  # tanh plus noise


def test_padding_never_leaks_into_states(stream: batches.Stream) -> None:
    _, model = _model(stream)
    model.eval()
    b = batches.list_batch(stream, stream.lists("train")[:32], M, K)
    before = model(b).logits
    # Scribble over every padded step: the outputs must not change.
    valid = torch.arange(M + K)[None, :] < (b.hist_len + b.list_len)[:, None]
    b.seq_cat = torch.where(valid[..., None], b.seq_cat, torch.ones_like(b.seq_cat) * 3)
    b.seq_dense = torch.where(valid[..., None], b.seq_dense, torch.full_like(b.seq_dense, 9.0))
    assert torch.allclose(model(b).logits, before, atol=1e-6)


def test_state_before_a_position_does_not_see_that_position(stream: batches.Stream) -> None:
    _, model = _model(stream)
    model.eval()
    b = batches.list_batch(stream, stream.lists("train")[:16], M, K)
    # Change list position 4 of every list: states before positions 0..4 stay, the one before 5 moves.
    idx = (b.hist_len + 4)[:, None]
    cat = b.seq_cat.clone()
    item_col = stream.column("item")
    cat[torch.arange(16)[:, None], idx, item_col] = cat[torch.arange(16)[:, None], idx, item_col] + 1
    b.seq_cat = cat
    _, s_high2 = model.states(b)
    _, s_high = model.states(batches.list_batch(stream, stream.lists("train")[:16], M, K))
    assert torch.allclose(s_high2[:, :5], s_high[:, :5], atol=1e-6)
    assert not torch.allclose(s_high2[:, 5], s_high[:, 5])


def test_the_item_recommender_never_leaves_the_channel_the_selector_chose() -> None:
    gen = torch.Generator().manual_seed(3)
    for _ in range(50):
        actions_low = torch.randn(8, 16, generator=gen)
        actions_high = torch.randn(8, 16, generator=gen)
        cand = torch.randn(8, 40, 16, generator=gen)
        cand_channel = torch.randint(1, 5, (8, 40), generator=gen)
        cand_mask = torch.rand(8, 40, generator=gen) > 0.3
        channel = ChannelSelector.select(actions_low, cand, cand_channel, cand_mask)
        item = ItemRecommender.select(actions_high, cand, cand_channel, cand_mask, channel)
        picked = cand_channel.gather(1, item[:, None]).squeeze(1)
        assert (picked == channel).all()
        assert cand_mask.gather(1, item[:, None]).all()


def test_target_networks_lag_the_online_ones(stream: batches.Stream) -> None:
    cfg, model = _model(stream)
    objective = HRLRecObjective(model)
    opt = torch.optim.Adam([p for p in objective.parameters() if p.requires_grad], lr=0.01)
    start = [p.clone() for p in model.lra.target_critic.parameters()]
    b = batches.list_batch(stream, stream.lists("train")[:64], M, K)
    for _step in range(3):
        loss, _ = objective(b, actor_step=True)
        opt.zero_grad()
        loss.backward()
        opt.step()
        model.update_targets(cfg.model.tau)
    online = list(model.lra.critic.parameters())
    target = list(model.lra.target_critic.parameters())
    moved = [not torch.equal(t, s) for t, s in zip(target, start, strict=True)]
    assert any(moved), "soft updates move the targets"
    for t, o, s in zip(target, online, start, strict=True):
        # the target sits between where it started and where the online network is now
        assert (t - o).abs().sum() > 0
        assert (t - s).abs().sum() < (o - s).abs().sum() + 1e-9
    assert not any(p.requires_grad for p in model.lra.target_actor.parameters())


@pytest.mark.parametrize(
    "ablation",
    ["model.use_gru=false", "model.use_attention=false", "profiles.small.gamma=0", "model.use_similarity_loss=false",
     "model.use_supervised_loss=false", "model.encoder_sharing=none", "model.encoder_sharing=attention",
     "model.encoder_sharing=all"],
)  # fmt: skip
def test_every_ablation_builds_and_trains_a_step(stream: batches.Stream, ablation: str) -> None:
    _, model = _model(stream, ablation)
    objective = HRLRecObjective(model)
    loss, logs = objective(batches.list_batch(stream, stream.lists("train")[:32], M, K), actor_step=True)
    loss.backward()
    assert torch.isfinite(loss)
    if ablation.startswith("model.use_similarity"):
        assert float(logs["similarity"]) == 0.0
    if ablation.startswith("model.use_supervised"):
        assert float(logs["supervised"]) == 0.0


def test_one_shared_encoder_is_one_module_whose_states_both_agents_read_and_train(stream: batches.Stream) -> None:
    _, separate = _model(stream, "model.encoder_sharing=none")
    _, shared = _model(stream, "model.encoder_sharing=all")
    assert shared.low_encoder is shared.high_encoder
    encoder = {id(p) for p in shared.high_encoder.parameters()}
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(shared) == count(separate) - count(separate.low_encoder)
    b = batches.list_batch(stream, stream.lists("train")[:32], M, K)
    out = shared(b, noise=False)
    assert torch.equal(out.s_low, out.s_high)
    # the LRA's actor alone reaches the shared encoder: both agents train it
    shared.lra.act(out.s_low[:, :-1]).sum().backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in shared.parameters() if id(p) in encoder)
    # its state dict names the one module twice and loads back into a fresh shared model
    _, again = _model(stream, "model.encoder_sharing=all")
    again.load_state_dict(shared.state_dict())
    assert again.low_encoder is again.high_encoder
    torch.testing.assert_close(again(b, noise=False).logits, shared(b, noise=False).logits, rtol=0, atol=0)


def test_a_shared_attention_feeds_both_grus_the_hra_behaviour_vectors(stream: batches.Stream) -> None:
    _, model = _model(stream, "model.encoder_sharing=attention")
    low, high = model.low_encoder, model.high_encoder
    assert low is not high and low.attention is high.attention and low.fields is high.fields
    assert low.gru is not high.gru and low.profile is not high.profile
    b = batches.list_batch(stream, stream.lists("train")[:32], M, K)
    s_low, s_high = model.states(b)
    args = (b.seq_cat, b.seq_dense, b.feedback, b.hist_len, b.list_len, K)
    torch.testing.assert_close(s_low, low(*args), rtol=0, atol=0)
    torch.testing.assert_close(s_high, high(*args), rtol=0, atol=0)
    assert not torch.equal(s_low, s_high)
    _, again = _model(stream, "model.encoder_sharing=attention")
    again.load_state_dict(model.state_dict())
    torch.testing.assert_close(again.states(b)[0], s_low, rtol=0, atol=0)


def test_the_default_shares_the_field_attention(stream: batches.Stream) -> None:
    """params.yaml serves `attention` (adopted on validation units, chains and Tables 2/4: docs/results.md)."""
    cfg, model = _model(stream)
    assert cfg.model.encoder_sharing == "attention"
    assert model.low_encoder.attention is model.high_encoder.attention


def test_the_papers_model_keeps_two_encoders_built_in_the_papers_order(stream: batches.Stream) -> None:
    """The LRA's encoder is built first: the option must not redraw the paper's model's initial weights."""
    _, model = _model(stream, "model.encoder_sharing=none")
    assert model.low_encoder is not model.high_encoder
    names = [name.split(".")[0] for name, _ in model.named_parameters()]
    assert names.index("low_encoder") < names.index("high_encoder")


def test_all_losses_decrease_on_a_tiny_dataset(stream: batches.Stream) -> None:
    cfg, model = _model(stream)
    objective = HRLRecObjective(model)
    opt = torch.optim.Adam([p for p in objective.parameters() if p.requires_grad], lr=0.01)
    b = batches.list_batch(stream, stream.lists("train")[:128], M, K)
    first: dict[str, float] = {}
    last: dict[str, float] = {}
    for step in range(60):
        loss, logs = objective(b, actor_step=False)
        opt.zero_grad()
        loss.backward()
        opt.step()
        model.update_targets(cfg.model.tau)
        (first if step == 0 else last).update({k: float(v.detach()) for k, v in logs.items()})
    for term in ("loss", "critic_low", "critic_high", "supervised", "similarity"):
        assert last[term] < first[term], (term, first[term], last[term])
    assert np.isfinite(list(last.values())).all()


def test_the_hra_acts_under_the_logged_channel_constraint(stream: batches.Stream) -> None:
    _, model = _model(stream)
    model.eval()
    b = batches.list_batch(stream, stream.lists("train")[:16], M, K)
    out = model(b)
    channel = b.list_cat[..., model.channel_col]
    assert torch.equal(out.channel, channel)
    s_high = out.s_high[:, :-1]
    torch.testing.assert_close(out.a_high, model.hra.act(model.high_state(s_high, channel)))
    other = channel % len(model.spec.channels) + 1  # every position under another channel
    assert not torch.allclose(model.hra.act(model.high_state(s_high, other)), out.a_high)


def test_the_channel_policy_losses_train_the_prior_towards_the_logged_channels(stream: batches.Stream) -> None:
    _, model = _model(stream)
    objective = HRLRecObjective(model)
    b = batches.list_batch(stream, stream.lists("train")[:128], M, K)
    opt = torch.optim.Adam(model.policy.parameters(), lr=0.05)
    _, first = objective(b, actor_step=False)
    for _ in range(30):
        loss, logs = objective(b, actor_step=False)
        opt.zero_grad()
        (logs["channel_prior_ce"] + logs["channel_td"]).backward()
        opt.step()
        model.update_targets(0.1)
    assert logs["channel_prior_ce"] < 0.9 * first["channel_prior_ce"]
    assert logs["channel_td"] < first["channel_td"]
    assert torch.isfinite(loss)


def test_self_attention_is_multihead_attention_in_values_and_gradients() -> None:
    """layers.self_attention replaces nn.MultiheadAttention's forward for speed, with its own weights."""
    from hrlrec.models.layers import self_attention

    torch.manual_seed(3)
    attn = torch.nn.MultiheadAttention(16, 2, batch_first=True)
    x = torch.randn(64, 13, 16, requires_grad=True)
    ours = self_attention(attn, x)
    (ours * ours).sum().backward()
    ours_grads = [x.grad.clone(), attn.in_proj_weight.grad.clone(), attn.out_proj.weight.grad.clone()]
    x.grad = None
    attn.zero_grad()
    reference, _ = attn(x, x, x, need_weights=False)
    (reference * reference).sum().backward()
    torch.testing.assert_close(ours, reference, atol=1e-6, rtol=1e-5)
    for mine, theirs in zip(ours_grads, [x.grad, attn.in_proj_weight.grad, attn.out_proj.weight.grad], strict=True):
        torch.testing.assert_close(mine, theirs, atol=1e-5, rtol=1e-4)


def test_best_cosine_is_the_max_in_values_and_action_gradients() -> None:
    """Without groups every candidate is searched: the plain max of the cosines, the same gradients."""
    from hrlrec.models.agents import cosine_scores
    from hrlrec.train.objective import best_cosine

    torch.manual_seed(5)
    cand = torch.randn(40, 8)
    actions = torch.randn(6, 3, 8, requires_grad=True)
    ours = best_cosine(actions, cand)
    ours.sum().backward()
    grad = actions.grad.clone()
    actions.grad = None
    reference = cosine_scores(actions, cand).max(-1).values
    reference.sum().backward()
    torch.testing.assert_close(ours, reference)
    torch.testing.assert_close(grad, actions.grad)


@pytest.mark.parametrize("bf16", [False, True], ids=["fp32", "bf16-autocast"])
@pytest.mark.parametrize("seed", range(20))
def test_best_cosine_by_group_is_the_masked_search_bit_for_bit(seed: int, bf16: bool) -> None:
    """The HRA's search per channel slice gives the masked search's values and gradients, exactly.

    Unsorted groups, a group with no candidate (-1, no gradient), a group absent from the actions and
    duplicated candidates are drawn. Under bf16 autocast (CUDA's default precision) the cosines are
    rounded to 8 bits of mantissa, so exact ties between different candidates are common: a search
    that broke them otherwise than the masked argmax (the first in the pool) would differ here.
    """
    from hrlrec.train.objective import best_cosine, masked_best_cosine

    torch.manual_seed(seed)
    n = int(torch.randint(1, 300, ()))
    cand = torch.randn(n, 8)
    cand[n // 2] = cand[0]
    cand_group = torch.randint(0, 5, (n,))
    group = torch.randint(0, 6, (16, 3))
    group[0, 0] = 5  # no candidate has group 5
    actions = torch.randn(16, 3, 8, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        ours = best_cosine(actions, cand, cand_group, group)
    ours.float().sum().backward()  # outside autocast, as training runs its backward
    grad = actions.grad.clone()
    actions.grad = None
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        reference = masked_best_cosine(actions, cand, cand_group[None, None, :] == group[..., None])
    reference.float().sum().backward()
    assert torch.equal(ours, reference) and torch.equal(grad, actions.grad)
    assert ours[0, 0] == -1.0 and grad[0, 0].abs().sum() == 0


def test_best_cosine_takes_both_groupings_or_neither() -> None:
    from hrlrec.train.objective import best_cosine

    with pytest.raises(ValueError, match="cand_group and group"):
        best_cosine(torch.randn(2, 4), torch.randn(5, 4), cand_group=torch.zeros(5, dtype=torch.long))


def test_best_cosine_by_group_breaks_an_exact_tie_as_the_masked_search() -> None:
    """Two different candidates of one group at exactly the same cosine: the first in the pool wins.

    The action (1, 0) is at 45 degrees from both (1, 1) and (1, -1), in float arithmetic too; the
    winner decides the gradient's direction. A group sorted before theirs sits between them, so a sort
    that did not keep the pool's order inside a group would put the second first.
    """
    from hrlrec.train.objective import best_cosine, masked_best_cosine

    cand = torch.tensor([[5.0, 5.0], [0.0, -3.0], [-1.0, 0.0], [2.0, -2.0]])
    cand_group = torch.tensor([2, 1, 1, 2])
    group = torch.tensor([2])
    actions = torch.tensor([[1.0, 0.0]], requires_grad=True)
    ours = best_cosine(actions, cand, cand_group, group)
    ours.sum().backward()
    reference = masked_best_cosine(actions.detach().requires_grad_(), cand, (cand_group == 2)[None, :])
    assert torch.equal(ours, reference)
    assert actions.grad[0, 1] > 0  # d cos / d a_y points to the winner: (1, 1), the first in the pool


@pytest.mark.parametrize("padding", [0, None])
def test_embed_while_training_is_the_embedding_in_values_and_gradients(padding: int | None) -> None:
    """layers.embed replaces nn.Embedding's slow CPU backward while training: bit-identical numbers."""
    from hrlrec.models.layers import embed

    torch.manual_seed(5)
    table = torch.nn.Embedding(50, 3, padding_idx=padding)
    torch.nn.init.normal_(table.weight)  # as FieldEmbedding does: the padding row is not zero
    ids = torch.randint(0, 50, (64, 9, 3))
    ids[:, :2] = 0  # padding (or, without a padding row, the id 0) repeated
    grad = torch.randn(64, 9, 3, 3)
    table(ids).backward(grad)
    reference = table.weight.grad.clone()
    table.weight.grad = None
    ours = embed(table, ids, training=True)
    ours.backward(grad)
    assert torch.equal(ours, table(ids)) and torch.equal(table.weight.grad, reference)
    if padding is not None:
        assert (table.weight.grad[padding] == 0).all()
    assert embed(table, ids, training=False).grad_fn.name() == table(ids).grad_fn.name()  # evaluation: the table


def test_take_columns_is_indexing_by_a_list_of_columns() -> None:
    from hrlrec.models.layers import take_columns

    x = torch.arange(2 * 3 * 7).view(2, 3, 7)
    for cols in ([2, 3, 4], [4], [1, 3], [5, 4]):
        taken = take_columns(x, cols)
        assert torch.equal(taken, x[..., cols]) and taken.is_contiguous()


def test_the_gru_keeps_float32_under_autocast_and_is_the_plain_call_without() -> None:
    """bf16 training runs the GRU in float32 (autocast would lower cuDNN's RNN with no loss scaling)."""
    from hrlrec.models.encoder import gru_float32

    torch.manual_seed(0)
    gru = torch.nn.GRU(6, 4, batch_first=True)
    f, h0 = torch.randn(3, 5, 6), torch.randn(1, 3, 4)
    with torch.no_grad():
        plain_out, plain_h = gru(f, h0)
        out, h = gru_float32(gru, f, h0)
        assert torch.equal(out, plain_out) and torch.equal(h, plain_h)  # no autocast: the plain call
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low_f = torch.nn.functional.linear(f, torch.eye(6))  # what an autocast layer hands the GRU: bf16
            assert low_f.dtype == torch.bfloat16
            out, _ = gru_float32(gru, low_f, h0.bfloat16())
        want, _ = gru(low_f.float(), h0.bfloat16().float())
    assert out.dtype == torch.float32
    assert torch.equal(out, want)


def test_the_states_keep_float32_under_bf16_autocast(stream: batches.Stream) -> None:
    """The encoders call the float32 GRU: under autocast the states stay float32 (bf16 without it)."""
    cfg = model_config()
    torch.manual_seed(0)
    model = factory.build("hrlrec", ModelSpec.of(cfg), features_of(stream))
    batch = batches.list_batch(stream, stream.lists("train")[:8], cfg.active.history_len, cfg.list_len)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        low, high = model.states(batch)
    assert low.dtype == torch.float32 and high.dtype == torch.float32
