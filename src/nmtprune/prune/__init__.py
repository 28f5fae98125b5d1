"""Prune: saliency scores, allocation across weight classes, exact selection, masks.

``pruning`` (the :class:`Pruning` value: what one pruning is, validated once),
``saliency`` (criteria: magnitude, random, OBD, SNIP), ``allocation``
(class-blind, class-uniform, class-distribution), ``selection`` (exact k-th
smallest score without concatenation), ``compute`` (criterion x allocation ->
masks), ``units`` (hidden units: their scores and which go), ``stats`` (what a
mask removes), ``checkpoints`` (prune and inspect checkpoint files).

The documented API: ``from nmtprune.prune import Pruning, prune, inspect, compute_masks``.
"""
from .checkpoints import inspect, prune
from .compute import compute_masks
from .pruning import Pruning

__all__ = ["Pruning", "prune", "inspect", "compute_masks"]
