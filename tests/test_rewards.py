"""Each reward of eq. (7) on examples small enough to check by hand."""

from __future__ import annotations

import math

import pytest
import torch

from hrlrec.models.rewards import high_level_reward, new_tags_in_list, tags_outside_profile


def test_diversity_counts_tags_no_earlier_item_had() -> None:
    # positions: {1,2}, {2,3}, {1}, {4,0=pad}
    tags = torch.tensor([[[1, 2], [2, 3], [1, 0], [4, 0]]])
    assert new_tags_in_list(tags).tolist() == [[2.0, 1.0, 0.0, 1.0]]


def test_novelty_counts_tags_outside_the_clicked_profile() -> None:
    tags = torch.tensor([[[1, 2], [3, 0]]])  # list items
    profile = torch.tensor([[[2, 0], [3, 5], [1, 0]]])  # history items
    clicked = torch.tensor([[True, False, False]])  # only the first history item was clicked -> profile {2}
    assert tags_outside_profile(tags, profile, clicked).tolist() == [[1.0, 1.0]]
    everything = torch.tensor([[True, True, True]])  # profile {1, 2, 3, 5}
    assert tags_outside_profile(tags, profile, everything).tolist() == [[0.0, 0.0]]


def test_high_level_reward_is_eq_7_with_channel_weights() -> None:
    clicked = torch.tensor([[1.0, 0.0]])
    dwell = torch.tensor([[60.0, 0.0]])
    diversity = torch.tensor([[0.5, 1.0]])
    novelty = torch.tensor([[0.0, 0.5]])
    channel = torch.tensor([[1, 2]])
    weights = torch.tensor([[0.0, 0.0, 0.0, 0.0], [1.0, 0.5, 0.2, 0.1], [2.0, 0.0, 1.0, 1.0]])
    bias = torch.tensor([0.1, 0.0, 0.0, 0.0])
    r = high_level_reward(clicked, dwell, diversity, novelty, channel, weights, bias, dwell_scale=60.0)
    first = (1 + 0.1) * 1.0 + math.log(2) * 0.5 + 0.5 * 0.2 + 0.0 * 0.1
    second = (0 + 0.1) * 2.0 + 0.0 + 1.0 * 1.0 + 0.5 * 1.0
    assert r.tolist()[0] == pytest.approx([first, second], rel=1e-6)


def test_a_tag_repeated_inside_one_item_counts_once() -> None:
    tags = torch.tensor([[[7, 7, 0], [7, 8, 8]]])
    assert new_tags_in_list(tags).tolist() == [[1.0, 1.0]]
    profile = torch.tensor([[[9, 0, 0]]])
    assert tags_outside_profile(tags, profile, torch.tensor([[True]])).tolist() == [[1.0, 2.0]]
