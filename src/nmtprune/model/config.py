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
    # How the decoder's initial states come from the encoder's final ones. None: Luong's
    # bridge when the stacks line up (same layers and width), else zeros. A model shrunk by
    # hidden-unit pruning (model/units.py) keeps its original pairing: [] for no bridge, or per
    # decoder layer, each unit's encoder position (-1: starts from 0).
    bridge_units: list | None = None

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
        if self.bridge_units:
            ok = self.enc_layers == self.dec_layers and len(self.bridge_units) == self.dec_layers and all(
                isinstance(layer, list) and len(layer) == self.dec_hidden
                and all(isinstance(i, int) and -1 <= i < self.enc_hidden for i in layer) for layer in self.bridge_units)
            if not ok:
                raise NmtpruneError(f"model.bridge_units must list, for each of the {self.dec_layers} decoder "
                                    f"layers, {self.dec_hidden} encoder positions in [-1, {self.enc_hidden})")
        return self
