"""Luong et al. (2015) global attention scores: dot, general, concat.

The source-side half of each score is computed once per sentence
(:meth:`Attention.keys`), so a decoder step costs one batched product.
"""
from __future__ import annotations

import torch
from torch import nn


class Attention(nn.Module):
    """score(h_t, h_s) for every source position.

    dot:     h_t . h_s
    general: h_t . (W_a h_s)
    concat:  v . tanh(W_a [h_t; h_s])   (W_a split into its h_t and h_s halves)
    """

    def __init__(self, kind: str, dec_hidden: int, enc_hidden: int):
        super().__init__()
        self.kind = kind
        if kind == "general":
            self.W_a = nn.Linear(enc_hidden, dec_hidden, bias=False)
        elif kind == "concat":
            self.W_a = nn.Linear(dec_hidden + enc_hidden, dec_hidden, bias=False)
            self.v = nn.Linear(dec_hidden, 1, bias=False)
        self.dec_hidden = dec_hidden

    def keys(self, memory: torch.Tensor) -> torch.Tensor:
        """Precompute the source half. memory: (B, S, He) -> keys: (B, S, Hd)."""
        if self.kind == "dot":
            return memory
        if self.kind == "general":
            return self.W_a(memory)
        return memory @ self.W_a.weight[:, self.dec_hidden:].t()

    def query_weight(self) -> torch.Tensor | None:
        """concat: the h_t half of W_a, (Hd, Hd); None for dot/general."""
        return self.W_a.weight[:, :self.dec_hidden] if self.kind == "concat" else None

    def forward(self, h: torch.Tensor, keys: torch.Tensor, src_mask: torch.Tensor, *,
                query_w: torch.Tensor | None = None) -> torch.Tensor:
        """Alignment weights.

        Args:
            h: (N, Hd) decoder hidden state of the top layer.
            keys: (N, S, Hd) from :meth:`keys`.
            src_mask: (N, S) True at real (non-pad) source positions.
            query_w: :meth:`query_weight`, passed in so it is sliced once per sequence.
        Returns:
            (N, S) attention probabilities, exactly 0 on padding.
        """
        if self.kind == "concat":
            if query_w is None:
                query_w = self.query_weight()
            q = h @ query_w.t()
            scores = self.v(torch.tanh(keys + q.unsqueeze(1))).squeeze(2)
        else:
            # (N, 1, Hd) x (N, Hd, S): about 3x faster on CPU than (N, S, Hd) x (N, Hd, 1).
            scores = torch.bmm(h.unsqueeze(1), keys.transpose(1, 2)).squeeze(1)
        scores = scores.masked_fill(~src_mask, float("-inf"))
        return torch.softmax(scores, dim=1)
