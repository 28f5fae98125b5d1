"""Gradual pruning while training (Zhu & Gupta 2017).

The sparsity follows s_t = s_f + (s_i - s_f) * (1 - (t - t0) / (t1 - t0))**3
between steps t0 and t1: fast at first, while the weights that go are the ones
the model needs least, and slowly near the end, so the last cuts are small
enough for training to absorb. Every ``every`` steps the masks are recomputed
among the weights still kept (the current mask is the starting point, so what
was removed stays removed and each update lands exactly on s_t). At t1 the
model is at exactly s_f; training then goes on with the mask fixed.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import torch

from ..data.batching import make_batches
from ..data.corpus import Corpus
from ..errors import NmtpruneError
from ..model.masks import Masks, apply_masks, sparsity_of
from ..prune.compute import compute_masks
from ..prune.pruning import Pruning
from ..prune.units import current_sparsity
from ..prune.saliency import ScoringData
from .config import TrainConfig

logger = logging.getLogger(__name__)


@dataclass
class GradualSchedule:
    """When and how far to prune, in optimizer steps of the whole run."""
    pruning: Pruning           # the target: s_f = pruning.sparsity, and how each cut is made
    initial: float             # s_i: sparsity at t0 (a pruned model's current one, else 0)
    start: int                 # t0
    end: int                   # t1 (>= t0): the step at which s_f is reached
    every: int                 # update the masks every this many steps

    @property
    def target(self) -> float:
        return self.pruning.sparsity

    def sparsity_at(self, step: int) -> float:
        if step <= self.start:
            return self.initial
        if step >= self.end:
            return self.target
        frac = (step - self.start) / (self.end - self.start)
        return self.target + (self.initial - self.target) * (1.0 - frac) ** 3

    def due(self, step: int) -> bool:
        """Whether the masks are updated after optimizer step ``step`` (1-based)."""
        if step < self.start or step > self.end:
            return False
        return step == self.end or (step - self.start) % self.every == 0

    def done(self, step: int) -> bool:
        return step >= self.end


def plan(pruning: Pruning, *, initial: float, total_steps: int, start_frac: float, end_frac: float,
         every: int) -> GradualSchedule:
    """A schedule over a run of ``total_steps``; ``every`` = 0 picks ~20 updates over the ramp."""
    t0 = int(round(start_frac * total_steps))
    # At least one step of ramp when the run has one: rounding a short run's fractions to the same
    # step would leave a schedule that never cuts (the run would end at its old sparsity).
    t1 = max(min(t0 + 1, total_steps), min(total_steps, int(round(end_frac * total_steps))))
    if every <= 0:
        every = max(1, (t1 - t0) // 20)
    return GradualSchedule(pruning, initial, t0, t1, every)


def prune_step(model: torch.nn.Module, masks: Masks | None, pruning: Pruning, *,
               data: ScoringData | None = None) -> Masks:
    """New masks at ``pruning.sparsity`` among the weights ``masks`` keeps; applied to ``model`` in place."""
    was_training = model.training
    new = compute_masks(model, pruning, data=data, start=masks)
    model.train(was_training)
    apply_masks(model, new)
    logger.debug("gradual pruning: sparsity %.4f", sparsity_of(new))
    return new


def cut(model: torch.nn.Module, masks: Masks | None, gradual: GradualSchedule, step: int, train: Corpus,
        device) -> Masks:
    """The cut of the schedule at ``step`` (its target once the ramp is over)."""
    return prune_step(model, masks, gradual.pruning.at(gradual.sparsity_at(step)), data=scoring(train, device))


def scoring(train: Corpus, device) -> ScoringData:
    """Data for data-driven criteria (OBD, SNIP) while pruning gradually: one fixed batch of 64."""
    return ScoringData(train, 1, 64, device=device)


def schedule_for(cfg: TrainConfig, train: Corpus, masks: Masks | None, *,
                 model: torch.nn.Module | None = None) -> GradualSchedule | None:
    """The gradual-pruning schedule of a run (None when ``cfg.prune_to`` is 0).

    The run's length in steps is its epochs times the batches of an epoch (or
    ``max_steps`` if smaller); a wall-clock bound cannot be known in advance, and
    a run it stops early is cut to the target in one last step (see the loop).
    """
    pruning = cfg.pruning
    if pruning is None:
        return None
    initial = current_sparsity(model, masks, pruning.granularity, only=pruning.only_classes)
    if initial > pruning.sparsity + 1e-9:
        raise NmtpruneError(f"--prune-to {pruning.sparsity} is below the model's sparsity {initial:.4f}: "
                            "pruning only removes weights")
    per_epoch = len(make_batches(train, cfg.batch_tokens, shuffle=True, seed=cfg.seed + 1,
                                 multiple=cfg.batch_multiple))
    total = cfg.epochs * per_epoch
    if cfg.max_steps:
        total = min(total, cfg.max_steps)
    return plan(pruning, initial=initial, total_steps=total, start_frac=cfg.prune_start, end_frac=cfg.prune_end,
                every=cfg.prune_every)
