"""Encoder: embedding + (bi)LSTM stack on torch's fused ``nn.LSTM``."""
from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from ..data.tokenizers import PAD
from .layers import FastDropout


class Encoder(nn.Module):
    def __init__(self, vocab: int, emb_dim: int, hidden: int, layers: int, bidirectional: bool,
                 dropout: float):
        super().__init__()
        self.dirs = 2 if bidirectional else 1
        self.layers = layers
        self.embed = nn.Embedding(vocab, emb_dim, padding_idx=PAD)
        self.lstm = nn.LSTM(emb_dim, hidden // self.dirs, layers, batch_first=True,
                            bidirectional=bidirectional, dropout=dropout if layers > 1 else 0.0)
        self.dropout = FastDropout(dropout)

    def forward(self, src: torch.Tensor, src_len: torch.Tensor):
        """Encode a padded batch.

        Args:
            src: (B, S) token ids; src_len: (B,) lengths (>= 1).
        Returns:
            memory: (B, S, H) top-layer states (zeros at padding), and the final
            (h, c), each (layers, B, H) with both directions concatenated.
        """
        x = self.dropout(self.embed(src))
        packed = pack_padded_sequence(x, src_len.cpu(), batch_first=True, enforce_sorted=False)
        out, (h, c) = self.lstm(packed)
        memory, _ = pad_packed_sequence(out, batch_first=True, total_length=src.size(1))
        if self.dirs == 2:
            B = src.size(0)
            h = h.view(self.layers, 2, B, -1).transpose(1, 2).reshape(self.layers, B, -1)
            c = c.view(self.layers, 2, B, -1).transpose(1, 2).reshape(self.layers, B, -1)
        return memory, (h, c)
