"""The model's configuration: a Luong-style attention encoder-decoder, validated on load."""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import NmtpruneError, choose
from .init import INIT_SCHEMES

ATTENTIONS = ("dot", "general", "concat")


@dataclass
class ModelConfig:
    """Luong-style attention encoder-decoder. Hidden sizes are totals (both directions)."""
    src_vocab: int = 0
    tgt_vocab: int = 0
    emb_dim: int = 256
    enc_hidden: int = 256
    enc_layers: int = 2
    bidirectional: bool = True
    dec_hidden: int = 256
    dec_layers: int = 2
    attention: str = "general"
    input_feed: bool = True
    dropout: float = 0.2
    init: str = "uniform"
    init_range: float = 0.1

    def validate(self) -> "ModelConfig":
        choose("attention", self.attention, ATTENTIONS)
        choose("init", self.init, INIT_SCHEMES)
        if self.bidirectional and self.enc_hidden % 2:
            raise NmtpruneError(f"enc_hidden must be even for a bidirectional encoder, got {self.enc_hidden}")
        if self.attention == "dot" and self.enc_hidden != self.dec_hidden:
            raise NmtpruneError("dot attention needs enc_hidden == dec_hidden "
                                f"({self.enc_hidden} != {self.dec_hidden})")
        for k in ("emb_dim", "enc_hidden", "enc_layers", "dec_hidden", "dec_layers"):
            if getattr(self, k) < 1:
                raise NmtpruneError(f"model.{k} must be >= 1, got {getattr(self, k)}")
        if not 0 <= self.dropout < 1:
            raise NmtpruneError(f"model.dropout must be in [0, 1), got {self.dropout}")
        return self
