"""The state encoder of both agents: field self-attention per behaviour, GRU over behaviours.

One encoder call runs the GRU once per list over [last m impressions] +
[the list's positions], and returns the state before every position of the
list (paper eq. 2: the state at t sees the history and the t-1 items already
placed in the list). A sequence starts with the user's own history (a short
history is not preceded by padding); padding only follows its end.
"""

from __future__ import annotations

import torch
from torch import nn

from hrlrec.models.layers import PROFILE_FIELDS, FieldEmbedding, FieldSelfAttention


def gru_float32(gru: nn.GRU, f: torch.Tensor, h0: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """`gru(f, h0)`, computed in float32 when autocast is on (train.precision bf16, or auto on CUDA).

    Autocast does not run cuDNN's RNN in the autocast dtype: PyTorch's CUDA autocast rule for it
    casts input, state and weights to float16, and no GradScaler guards float16 gradients in a bf16
    run; and a recurrence over 60 steps compounds each step's rounding. So it keeps float32 while the
    attention and dense layers take bf16 (on the CPU the two GRUs are about a quarter of a float32
    step, docs/results.md; what float32 costs them on a GPU is not measured yet).
    Without autocast (CPU float32 training, the exported graphs) this is the plain call.
    """
    device = f.device.type
    if torch.is_autocast_enabled(device):
        with torch.autocast(device, enabled=False):
            return gru(f.float(), h0.float())
    return gru(f, h0)


class StateEncoder(nn.Module):
    """Behaviour sequence -> states s_0..s_K before each list position."""

    def __init__(
        self,
        fields: FieldEmbedding,
        heads: int,
        field_dim: int,
        state_dim: int,
        use_attention: bool = True,
        use_gru: bool = True,
        attention: FieldSelfAttention | None = None,
    ) -> None:
        """`attention`: another encoder's (with `fields` its embedding too) when both read one set of
        behaviour vectors (`model.encoder_sharing: attention`); by default a new one."""
        super().__init__()
        self.fields = fields
        if attention is None:
            attention = FieldSelfAttention(fields.n_fields, field_dim, heads, enabled=use_attention)
        self.attention = attention
        self.use_gru = use_gru
        profile_idx = [fields.fields.index(f) for f in PROFILE_FIELDS if f in fields.fields]
        self.register_buffer("profile_idx", torch.tensor(profile_idx, dtype=torch.long), persistent=False)
        self.profile = nn.Linear(len(profile_idx) * field_dim, state_dim)  # initial state from the profile
        if use_gru:
            self.gru = nn.GRU(self.attention.out_dim, state_dim, batch_first=True)
        else:
            # Ablation of Table 4: average pooling of the behaviours seen so far, then a dense layer.
            self.pool = nn.Sequential(nn.Linear(self.attention.out_dim, state_dim), nn.Tanh())
        self.state_dim = state_dim

    def behaviours(
        self, seq_cat: torch.Tensor, seq_dense: torch.Tensor, feedback: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-behaviour vectors f_i (B, T, n*d) and the field matrix (B, T, n, d).

        Reshaped with the model's field count and size, not sizes read from the
        matrix: an exported graph computes every size it reads, at every call.
        """
        n, d = self.fields.n_fields, self.fields.dim
        matrix = self.fields(seq_cat, seq_dense, {"feedback": feedback})  # (B, T, n, d)
        f = self.attention(matrix.reshape(-1, n, d))  # (B*T, n*d), eq. (1)
        return f.reshape(seq_cat.shape[0], -1, n * d), matrix

    def initial_state(self, matrix: torch.Tensor) -> torch.Tensor:
        """h_0 from the user profile fields of the first behaviour: (B, state_dim)."""
        profile = matrix[:, 0].index_select(1, self.profile_idx).flatten(1)  # (B, p*d)
        return torch.tanh(self.profile(profile))

    def forward(
        self,
        seq_cat: torch.Tensor,
        seq_dense: torch.Tensor,
        feedback: torch.Tensor,
        hist_len: torch.Tensor,
        list_len: torch.Tensor,
        positions: int,
    ) -> torch.Tensor:
        """States before each of `positions` + 1 steps of the list: (B, positions + 1, state_dim)."""
        f, matrix = self.behaviours(seq_cat, seq_dense, feedback)
        return self.sequence(f, matrix, hist_len, list_len, positions)

    def sequence(
        self, f: torch.Tensor, matrix: torch.Tensor, hist_len: torch.Tensor, list_len: torch.Tensor, positions: int
    ) -> torch.Tensor:
        """`forward` from the behaviour vectors and field matrix `behaviours` gave (of this encoder's fields)."""
        h0 = self.initial_state(matrix)  # (B, S)
        # A request with no history and nothing placed yet reads its state at index 0, i.e. h0.
        if self.use_gru:
            # Unpacked: the GRU is causal, so the padding after a sequence's length never reaches a
            # state read below (index <= hist_len + list_len); the states read after the list's end
            # are masked by every loss. Packing gave the same states at 1.7x the GRU's time.
            out, _ = gru_float32(self.gru, f, h0.unsqueeze(0).contiguous())  # eq. (2), (B, T, S)
        else:
            lengths = (hist_len + list_len).clamp(min=1)  # (B,)
            valid = (torch.arange(f.shape[1], device=f.device)[None, :] < lengths[:, None]).float()
            running = torch.cumsum(f * valid[..., None], 1) / torch.cumsum(valid, 1).clamp(min=1)[..., None]
            out = self.pool(running)
        outs = torch.cat([h0.unsqueeze(1), out], dim=1)  # (B, T + 1, S): index i = after i behaviours
        # The state before list position t has seen hist_len + t behaviours.
        t = torch.arange(positions + 1, device=f.device)[None, :]
        idx = (hist_len[:, None] + t).clamp(max=outs.shape[1] - 1)
        return outs.gather(1, idx[..., None].expand(-1, -1, outs.shape[-1]))
