"""Optimisation settings of a training run, validated on load."""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import NmtpruneError, choose

PRECISIONS = ("fp32", "bf16")
OPTIMIZERS = ("adam", "sgd")


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
