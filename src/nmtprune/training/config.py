"""Optimisation settings of a training run, validated on load."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import NmtpruneError, choose
from ..prune.pruning import Pruning, check_sparsity

PRECISIONS = ("fp32", "bf16", "auto")    # auto: resolved per run (runtime.resolve_precision)
OPTIMIZERS = ("adam", "sgd")
LOSS_NORMS = ("tokens", "sentences")


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
    # How a batch's summed loss is normalised: per target token (the default), or per sentence
    # (summed over each sentence's tokens, averaged over sentences: Luong et al. 2015 and See et
    # al. 2016, whose SGD lr 1.0 and clip 5 assume gradients of that scale).
    loss_norm: str = "tokens"
    # Explicit learning rate per epoch (epoch e uses lr_epochs[min(e, len) - 1]); replaces the
    # plateau/SGD decay. ``retrain --schedule finetune|rewind`` fills it from the dense run's log.
    lr_epochs: list = field(default_factory=list)
    # Gradual pruning (Zhu & Gupta 2017) while training: reach ``prune_to`` (0 = off) on a
    # cubic schedule from ``prune_start`` to ``prune_end`` (fractions of the run's steps),
    # masks recomputed among the kept weights every ``prune_every`` steps (0 = ~20 updates).
    # The target's keys are what a config file says; the run uses them as one
    # :class:`~nmtprune.prune.pruning.Pruning` (:attr:`pruning`).
    prune_to: float = 0.0
    prune_start: float = 0.0
    prune_end: float = 0.5
    prune_every: int = 0
    prune_criterion: str = "magnitude"
    prune_allocation: str = "class_blind"
    prune_granularity: str = "weight"     # weight | unit (hidden units: prune_to is their share)
    # Prune only these weight classes (unit granularity: unit families, e.g. the decoder's
    # [dec_layer0, dec_layer1, attn_state]); None = all.
    prune_classes: list | None = None
    # Word-level distillation (Kim & Rush 2016) when a teacher is given: loss =
    # (1 - distill_weight) * data loss + distill_weight * T^2 * KL(teacher_T || student_T).
    distill_weight: float = 0.5
    distill_temperature: float = 1.0

    def validate(self) -> "TrainConfig":
        choose("optimizer", self.optimizer, OPTIMIZERS)
        choose("nan policy", self.nan_policy, ("stop", "skip"))
        choose("precision", self.precision, PRECISIONS)
        choose("loss_norm", self.loss_norm, LOSS_NORMS)
        if self.lr <= 0 or self.batch_tokens < 1 or self.epochs < 0 or self.batch_multiple < 1:
            raise NmtpruneError("train: lr, batch_tokens, batch_multiple must be positive and epochs >= 0")
        if not 0 <= self.label_smoothing < 1:
            raise NmtpruneError(f"train.label_smoothing must be in [0, 1), got {self.label_smoothing}")
        check_sparsity(self.prune_to, option="train.prune_to")           # 0 = no gradual pruning
        if self.prune_classes is not None and (not isinstance(self.prune_classes, list) or not all(
                isinstance(c, str) for c in self.prune_classes)):
            raise NmtpruneError(f"train.prune_classes must be a list of names, got {self.prune_classes!r}")
        _ = self.pruning                      # the target's criterion and allocation, checked now
        if not 0 <= self.prune_start <= self.prune_end <= 1:
            raise NmtpruneError("train.prune_start and prune_end must satisfy 0 <= start <= end <= 1, got "
                                f"{self.prune_start}, {self.prune_end}")
        if self.prune_to and self.prune_start == self.prune_end:
            # A ramp of no length is no schedule: a pruned checkpoint would end at its old sparsity.
            raise NmtpruneError(f"train.prune_start and prune_end are both {self.prune_start}: gradual pruning "
                                "needs start < end (to cut once, use 'nmtprune prune' and retrain)")
        if not isinstance(self.lr_epochs, list) or any(
                isinstance(x, bool) or not isinstance(x, (int, float)) or x <= 0 for x in self.lr_epochs):
            raise NmtpruneError(f"train.lr_epochs must be a list of positive numbers, got {self.lr_epochs!r}")
        if not 0 <= self.distill_weight <= 1 or self.distill_temperature <= 0:
            raise NmtpruneError("train.distill_weight must be in [0, 1] and distill_temperature > 0, got "
                                f"{self.distill_weight}, {self.distill_temperature}")
        return self

    @property
    def pruning(self) -> Pruning | None:
        """The gradual-pruning target as one value (None when ``prune_to`` is 0: no pruning)."""
        if not self.prune_to:
            return None
        return Pruning(self.prune_to, criterion=self.prune_criterion, allocation=self.prune_allocation,
                       granularity=self.prune_granularity, only_classes=self.prune_classes)
