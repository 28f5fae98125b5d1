"""The encoder-decoder: encoder, bridge, attentional decoder, softmax layer and loss."""
from __future__ import annotations

import torch
from torch import nn

from ..data.batching import Batch
from ..data.tokenizers import PAD
from .config import ModelConfig
from .decoder import Decoder, Memory, State
from .encoder import Encoder
from .init import initialize
from .loss import softmax_xent

SOFTMAX_ROWS = 256     # autocast training: softmax-layer rows padded to a multiple of this


class Seq2Seq(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        self.encoder = Encoder(cfg.src_vocab, cfg.emb_dim, cfg.enc_hidden, cfg.enc_layers,
                               cfg.bidirectional, cfg.dropout)
        self.decoder = Decoder(cfg.tgt_vocab, cfg.emb_dim, cfg.dec_hidden, cfg.dec_layers, cfg.enc_hidden,
                               attention=cfg.attention, input_feed=cfg.input_feed, dropout=cfg.dropout)
        # The decoder starts from the encoder's final states when the stacks line up (Luong);
        # a shrunk model keeps its original pairing (cfg.bridge_units: each unit's source position,
        # the extra last position being a zero).
        if cfg.bridge_units is None:
            self.bridge = cfg.enc_layers == cfg.dec_layers and cfg.enc_hidden == cfg.dec_hidden
        else:
            self.bridge = bool(cfg.bridge_units)
        self.bridge_index = [torch.tensor([cfg.enc_hidden if i < 0 else i for i in layer])
                             for layer in cfg.bridge_units] if cfg.bridge_units else None

    def encode(self, src: torch.Tensor, src_len: torch.Tensor, *,
               encoder: nn.Module | None = None) -> tuple[Memory, State]:
        """src: (B, S), src_len: (B,) -> attention memory and the decoder's initial state.

        ``encoder``: a stand-in for ``self.encoder`` (a bfloat16 copy when decoding in bf16);
        its outputs are brought back to fp32.
        """
        values, (h, c) = (encoder or self.encoder)(src, src_len)
        if encoder is not None:
            values, h, c = values.float(), h.float(), c.float()
        mask = src != PAD
        memory = Memory(values, self.decoder.attention.keys(values), mask)
        B, H = src.size(0), self.cfg.dec_hidden
        if self.bridge and self.bridge_index is not None:
            h, c = (torch.cat([t, t.new_zeros(*t.shape[:2], 1)], 2) for t in (h, c))
            idx = [i.to(h.device) for i in self.bridge_index]
            hs, cs = [h[k].index_select(1, i) for k, i in enumerate(idx)], [c[k].index_select(1, i) for k, i in enumerate(idx)]
        elif self.bridge:
            hs, cs = list(h.unbind(0)), list(c.unbind(0))
        else:
            zero = values.new_zeros(B, H)
            hs, cs = [zero] * self.cfg.dec_layers, [zero] * self.cfg.dec_layers
        return memory, State(hs, cs, values.new_zeros(B, H))

    def forward(self, batch: Batch, *, return_align: bool = False):
        """Teacher-forced logits (B, T, V) for ``batch`` (and alignments (B, T, S) if asked)."""
        memory, state = self.encode(batch.src, batch.src_len)
        h, align = self.decoder.states(batch.tgt_in, state, memory)
        logits = self.decoder.out(h)
        return (logits, align) if return_align else logits

    def loss(self, batch: Batch, *, label_smoothing: float = 0.0,
             twice_differentiable: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """Summed training loss and summed token NLL over the non-pad targets of ``batch``.

        The softmax layer runs only on real target positions (padding skipped).
        ``twice_differentiable`` uses torch's cross-entropy, whose backward can be
        differentiated again (Hessian-vector products); the default fast kernel's cannot.
        """
        memory, state = self.encode(batch.src, batch.src_len)
        h, _ = self.decoder.states(batch.tgt_in, state, memory)
        keep = batch.tgt_out != PAD
        h, target = h[keep], batch.tgt_out[keep]
        if not twice_differentiable and torch.is_autocast_enabled(h.device.type) and h.size(0) % SOFTMAX_ROWS:
            # oneDNN compiles a kernel per product shape (~20 ms for this one, ~40 ms a step with
            # its backward): rows padded to a multiple of SOFTMAX_ROWS repeat shapes across batches.
            h = torch.cat([h, h.new_zeros(SOFTMAX_ROWS - h.size(0) % SOFTMAX_ROWS, h.size(1))])
        # Under bf16 autocast the softmax layer's product is bf16; the loss arithmetic stays fp32.
        logits = self.decoder.out(h)
        if twice_differentiable:
            logits = logits.float()
            ce = torch.nn.functional.cross_entropy
            return (ce(logits, target, reduction="sum", label_smoothing=label_smoothing),
                    ce(logits, target, reduction="sum").detach())
        return softmax_xent(logits, target, smoothing=label_smoothing)


def build_model(cfg: ModelConfig, *, seed: int | None = None) -> Seq2Seq:
    """Construct and initialise a model (``cfg.init``); ``seed`` makes it reproducible."""
    if seed is not None:
        torch.manual_seed(seed)
    model = Seq2Seq(cfg)
    initialize(model, cfg.init, init_range=cfg.init_range)
    return model


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
