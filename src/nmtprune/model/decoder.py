"""Decoder: LSTM stack with Luong global attention and input feeding.

Each step: LSTM stack -> attention over the source -> attentional state
h~ = tanh(W_c [c; h]). With input feeding, h~ of step t-1 is concatenated
to the embedding of step t. The softmax layer runs once over all steps after
the loop (training) and the embedding half of layer 0's input product is
precomputed for all steps, so the per-step work is the recurrent part only.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .attention import Attention
from .layers import FastDropout


def _autocast_dtype(t: torch.Tensor) -> torch.dtype | None:
    """The low-precision dtype autocast uses on ``t``'s device, or None where it is off."""
    dev = t.device.type
    return torch.get_autocast_dtype(dev) if torch.is_autocast_enabled(dev) else None


@dataclass
class Memory:
    """Encoder outputs for attention. values: (N, S, He); keys: (N, S, Hd); mask: (N, S) bool;
    bias: optional (N, 1, S) additive score mask (0 / -inf), kept by decoding to save a step op."""
    values: torch.Tensor
    keys: torch.Tensor
    mask: torch.Tensor
    bias: torch.Tensor | None = None

    def index_select(self, idx: torch.Tensor, *, length: int | None = None) -> "Memory":
        """Rows ``idx``, cut to the first ``length`` source positions if given."""
        cut = slice(None) if length is None else slice(0, length)
        bias = None if self.bias is None else self.bias.index_select(0, idx)[..., cut]
        return Memory(self.values.index_select(0, idx)[:, cut], self.keys.index_select(0, idx)[:, cut],
                      self.mask.index_select(0, idx)[:, cut], bias)


@dataclass
class State:
    """Per-layer (h, c), each (N, Hd), and the fed attentional state (N, Hd)."""
    h: list
    c: list
    feed: torch.Tensor

    def index_select(self, idx: torch.Tensor) -> "State":
        return State([x.index_select(0, idx) for x in self.h], [x.index_select(0, idx) for x in self.c],
                     self.feed.index_select(0, idx))


class Decoder(nn.Module):
    """The attentional LSTM decoder and its softmax layer.

    Args:
        vocab: target vocabulary size V.
        emb_dim: target embedding size.
        hidden: LSTM (and attentional state) size Hd.
        layers: LSTM layers.
        enc_hidden: size He of the encoder outputs attended over.
        attention: score function (``dot``, ``general`` or ``concat``).
        input_feed: concatenate h~ of the previous step to the embedding.
        dropout: dropout probability.
    """

    def __init__(self, vocab: int, emb_dim: int, hidden: int, layers: int, enc_hidden: int, *,
                 attention: str, input_feed: bool, dropout: float):
        super().__init__()
        self.emb_dim, self.hidden, self.input_feed = emb_dim, hidden, input_feed
        self.embed = nn.Embedding(vocab, emb_dim)
        in0 = emb_dim + (hidden if input_feed else 0)
        self.layers = nn.ModuleList(nn.LSTMCell(in0 if i == 0 else hidden, hidden) for i in range(layers))
        self.attention = Attention(attention, hidden, enc_hidden)
        self.attn_out = nn.Linear(enc_hidden + hidden, hidden, bias=False)   # W_c
        self.out = nn.Linear(hidden, vocab)                                   # softmax layer
        self.dropout = FastDropout(dropout)

    def input_gates(self, tokens: torch.Tensor) -> torch.Tensor:
        """Embedding part of layer 0's gates. tokens: (N, T) or (N,) -> (..., 4*Hd)."""
        l0 = self.layers[0]
        x = self.dropout(self.embed(tokens))
        return torch.nn.functional.linear(x, l0.weight_ih[:, :self.emb_dim], l0.bias_ih)

    def step_weights(self) -> tuple:
        """Weight slices used at every step, taken once per sequence.

        Slicing a parameter inside the time loop would make autograd allocate and
        zero-fill a full-size gradient for every step; slicing once avoids that.
        """
        feed_w = self.layers[0].weight_ih[:, self.emb_dim:] if self.input_feed else None
        query_w = self.attention.query_weight()
        dt = _autocast_dtype(self.embed.weight)
        if dt is not None:
            # Autocast caches the low-precision copy of a parameter, not of a slice: cast the
            # slices here, once per sequence, instead of at every step (forward and backward).
            feed_w = feed_w.to(dt) if feed_w is not None else None
            query_w = query_w.to(dt) if query_w is not None else None
        return feed_w, query_w

    def step(self, gates_t: torch.Tensor, state: State, memory: Memory, *, weights: tuple | None = None):
        """One decoder step.

        Args:
            gates_t: (N, 4*Hd) from :meth:`input_gates`.
            weights: :meth:`step_weights` (computed here if omitted).
        Returns:
            h_tilde: (N, Hd) attentional state (after dropout), new state, align (N, S).
        """
        feed_w, query_w = weights if weights is not None else self.step_weights()
        l0 = self.layers[0]
        h_new, c_new = [], []
        if self.input_feed:
            h, c = torch.lstm_cell(state.feed, (state.h[0], state.c[0]),
                                   feed_w, l0.weight_hh, gates_t, l0.bias_hh)
        else:
            gates = gates_t + torch.nn.functional.linear(state.h[0], l0.weight_hh, l0.bias_hh)
            i, f, g, o = gates.chunk(4, 1)
            c = torch.sigmoid(f) * state.c[0] + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
        h_new.append(h)
        c_new.append(c)
        for k in range(1, len(self.layers)):
            lk = self.layers[k]
            h, c = torch.lstm_cell(self.dropout(h), (state.h[k], state.c[k]),
                                   lk.weight_ih, lk.weight_hh, lk.bias_ih, lk.bias_hh)
            h_new.append(h)
            c_new.append(c)
        align = self.attention(h, memory.keys, memory.mask, query_w=query_w)
        ctx = torch.bmm(align.unsqueeze(1), memory.values).squeeze(1)
        h_tilde = self.dropout(torch.tanh(self.attn_out(torch.cat([ctx, h], 1))))
        return h_tilde, State(h_new, c_new, h_tilde), align

    def states(self, tgt_in: torch.Tensor, state: State, memory: Memory):
        """Teacher-forced attentional states.

        Args:
            tgt_in: (B, T) decoder input ids (BOS first).
        Returns:
            h_tilde (B, T, Hd) and alignments (B, T, S).
        """
        weights = self.step_weights()
        dt = _autocast_dtype(memory.values)
        if dt is not None:
            # Cast the attention memory once, not in every step's products.
            memory = Memory(memory.values.to(dt), memory.keys.to(dt), memory.mask)
        # unbind, not gates[:, t]: each indexed slice would get its own full-size zero gradient.
        outs, aligns = [], []
        for gates_t in self.input_gates(tgt_in).unbind(1):
            h_tilde, state, align = self.step(gates_t, state, memory, weights=weights)
            outs.append(h_tilde)
            aligns.append(align)
        return torch.stack(outs, 1), torch.stack(aligns, 1)
