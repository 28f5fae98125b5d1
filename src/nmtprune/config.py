"""Dataclass configs for the model and training, presets, and validated loading."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from .errors import NmtpruneError, choose

ATTENTIONS = ("dot", "general", "concat")
PRECISIONS = ("fp32", "bf16")
INITS = ("uniform", "xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal", "default")
OPTIMIZERS = ("adam", "sgd")


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
        choose("init", self.init, INITS)
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


@dataclass
class TrainConfig:
    """Optimisation settings. ``epochs`` and ``max_minutes`` both bound the run."""
    optimizer: str = "adam"
    lr: float = 1e-3
    batch_tokens: int = 4096
    batch_multiple: int = 8       # sentences per full batch: a multiple of this (repeating shapes)
    epochs: int = 20
    max_minutes: float = 0.0          # 0 = no wall-clock bound
    max_steps: int = 0                # 0 = no bound on optimizer steps
    clip: float = 5.0
    label_smoothing: float = 0.0
    lr_decay: float = 0.5             # multiply lr on a validation plateau (adam) / schedule (sgd)
    patience: int = 0                 # plateau epochs tolerated before decaying
    early_stop: int = 3               # stop after this many epochs without improvement
    min_lr: float = 1e-5
    sgd_decay_start: int = 5          # Luong: halve the SGD lr every epoch after this one
    seed: int = 1234
    save_every: int = 0               # also checkpoint every N steps (0 = per epoch only)
    valid_batch_tokens: int = 8192
    nan_policy: str = "stop"          # stop | skip
    # bf16: forward and backward under torch.autocast(bfloat16) -- matmuls in bfloat16 with fp32
    # weights, optimizer and loss; ~1.5x the fp32 step rate on CPUs with AVX512-BF16/AMX.
    # Validation perplexity is always computed in fp32.
    precision: str = "fp32"

    def validate(self) -> "TrainConfig":
        choose("optimizer", self.optimizer, OPTIMIZERS)
        choose("nan policy", self.nan_policy, ("stop", "skip"))
        choose("precision", self.precision, PRECISIONS)
        if self.lr <= 0 or self.batch_tokens < 1 or self.epochs < 0 or self.batch_multiple < 1:
            raise NmtpruneError("train: lr, batch_tokens, batch_multiple must be positive and epochs >= 0")
        if not 0 <= self.label_smoothing < 1:
            raise NmtpruneError(f"train.label_smoothing must be in [0, 1), got {self.label_smoothing}")
        return self


@dataclass
class Preset:
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


PRESETS: dict[str, Preset] = {
    # Tests and smoke runs: one Multi30k epoch in well under 2 minutes on 2 cores.
    "tiny": Preset(ModelConfig(emb_dim=32, enc_hidden=64, enc_layers=1, dec_hidden=64, dec_layers=1,
                               dropout=0.1),
                   TrainConfig(epochs=1, batch_tokens=4096, lr=3e-3)),
    # The CPU default, tuned for Multi30k within an hour on 2 cores (see README).
    "small": Preset(ModelConfig(emb_dim=256, enc_hidden=256, enc_layers=2, dec_hidden=256, dec_layers=2,
                                dropout=0.3),
                    TrainConfig(epochs=30, batch_tokens=4096, lr=2e-3, label_smoothing=0.1,
                                max_minutes=55.0, early_stop=4)),
    # See, Luong & Manning 2016: 4 x 1000 LSTMs, 1000-d embeddings (50k vocab from prepare).
    "paper": Preset(ModelConfig(emb_dim=1000, enc_hidden=1000, enc_layers=4, bidirectional=False,
                                dec_hidden=1000, dec_layers=4, dropout=0.2),
                    TrainConfig(optimizer="sgd", lr=1.0, epochs=12, batch_tokens=8192, sgd_decay_start=8)),
}


def from_dict(cls, d: dict, where: str):
    """Build dataclass ``cls`` from ``d``; unknown keys are errors listing the valid ones."""
    names = [f.name for f in dataclasses.fields(cls)]
    for k in d:
        if k not in names:
            raise NmtpruneError(f"unknown key {k!r} in {where}; valid: {', '.join(names)}")
    return cls(**d)


def get_preset(name: str) -> Preset:
    choose("preset", name, PRESETS)
    p = PRESETS[name]
    return Preset(dataclasses.replace(p.model), dataclasses.replace(p.train))
