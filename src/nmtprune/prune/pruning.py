"""A pruning as one value: what is scored, how the cut is spread, how much goes.

:class:`Pruning` is built once (from the command line, a study's run spec, a train
config) and passed whole to :func:`~nmtprune.prune.compute.compute_masks`,
:func:`~nmtprune.prune.checkpoints.prune`, gradual pruning, ``iterate`` and the
recovery recipes. It is validated when built, so nothing downstream checks it
again, and it is spelled one way: allocations by their registry keys
(``class_blind``); the command line's ``class-blind`` is mapped here.

Example:
    >>> p = Pruning(0.8, criterion="magnitude", allocation="class-blind")
    >>> p.allocation, p.sparsity
    ('class_blind', 0.8)
    >>> p.at(0.5).sparsity
    0.5
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from ..errors import NmtpruneError, choose
from .allocation import allocation_name
from ..data.corpus import Corpus
from .saliency import CRITERIA, HESSIANS, NEEDS_DATA, ScoringData

# What a score ranks: single weights (unstructured), or whole hidden units and embedding
# dimensions (structured: prune/units.py, their weights named once in model/units.py).
GRANULARITIES = ("weight", "unit")
# Allocations defined on unit scores (class-distribution's sigma is a per-weight spread).
UNIT_ALLOCATIONS = ("class_blind", "class_uniform")


def check_sparsity(value, *, option: str = "--sparsity", above_zero: bool = False) -> float:
    """The one range rule: a sparsity is the fraction removed, in [0, 1).

    ``above_zero``: a pruning *target* (``--prune-to``), where 0 would prune nothing, is in
    (0, 1). Raises a one-line :class:`NmtpruneError` naming ``option`` otherwise.
    """
    low = "(0" if above_zero else "[0"
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise NmtpruneError(f"{option} must be a number in {low}, 1), got {value!r}") from None
    if math.isnan(x) or not 0.0 <= x < 1.0 or (above_zero and x == 0.0):
        raise NmtpruneError(f"{option} must be in {low}, 1) (the fraction removed), got {value}")
    return x


@dataclass(frozen=True)
class Pruning:
    """One pruning: criterion x allocation x granularity at ``sparsity``, and how data-driven
    criteria (OBD, SNIP) are scored.

    Attributes:
        sparsity: the fraction removed, in [0, 1): of the prunable weights, or with
            ``granularity="unit"`` of the units.
        criterion: a key of :data:`~nmtprune.prune.saliency.CRITERIA`.
        allocation: a key of :data:`~nmtprune.prune.allocation.ALLOCATIONS` (``class-blind`` accepted).
        granularity: what is scored and removed (:data:`GRANULARITIES`).
        batches, batch_size: OBD/SNIP scoring batches and sentences per batch.
        hessian: OBD's estimate of the Hessian diagonal (``fisher`` | ``hutchinson``).
        seed: random scores' seed and the scoring sentences' seed.
        include_biases: prune biases too (else only matrices).
        only_classes: prune only these weight classes (the allocation still sees all).
    """
    sparsity: float
    criterion: str = "magnitude"
    allocation: str = "class_blind"
    granularity: str = "weight"
    batches: int = 1
    batch_size: int = 64
    hessian: str = "fisher"
    seed: int = 0
    include_biases: bool = False
    only_classes: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__        # frozen: normalised values are set once, here
        set_(self, "sparsity", check_sparsity(self.sparsity))
        choose("criterion", self.criterion, CRITERIA)
        set_(self, "allocation", allocation_name(self.allocation))
        choose("granularity", self.granularity, GRANULARITIES)
        if self.granularity == "unit" and self.allocation not in UNIT_ALLOCATIONS:
            raise NmtpruneError(f"--granularity unit cannot score groups with allocation "
                                f"{self.allocation.replace('_', '-')!r}; valid: "
                                f"{', '.join(a.replace('_', '-') for a in UNIT_ALLOCATIONS)}")
        choose("hessian", self.hessian, HESSIANS)
        for name in ("batches", "batch_size", "seed"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int):
                raise NmtpruneError(f"pruning {name} must be an integer, got {v!r}")
        if self.batches < 1 or self.batch_size < 1:
            raise NmtpruneError(f"--batches and --batch-size must be >= 1, got {self.batches}, {self.batch_size}")
        if self.only_classes is not None:
            set_(self, "only_classes", tuple(self.only_classes) or None)

    @property
    def needs_data(self) -> bool:
        """Whether the criterion scores on training batches (OBD, SNIP)."""
        return self.criterion in NEEDS_DATA

    def at(self, sparsity: float) -> "Pruning":
        """The same pruning at another sparsity (a step of a schedule, a round of ``iterate``)."""
        return dataclasses.replace(self, sparsity=sparsity)

    def scoring_data(self, corpus: Corpus | None, device, *, progress: bool = False,
                     cache: str | None = None) -> ScoringData:
        """The scoring batches of this pruning over ``corpus`` (None: criteria without data)."""
        return ScoringData(corpus, self.batches, self.batch_size, self.hessian, self.seed, device,
                           progress=progress, cache=cache)

    def settings(self) -> dict:
        """The settings as ``prune.json`` records them (allocation as its registry key; the
        granularity only when it is not the default, so weight pruning's files are unchanged)."""
        unit = {} if self.granularity == "weight" else {"granularity": self.granularity}
        return {**unit, "criterion": self.criterion, "allocation": self.allocation, "sparsity": self.sparsity,
                "batches": self.batches, "batch_size": self.batch_size, "hessian": self.hessian,
                "seed": self.seed, "include_biases": self.include_biases,
                "only_classes": list(self.only_classes) if self.only_classes else None}
