"""Allocation policies: scores + weight classes + target sparsity -> boolean masks.

Each policy prunes exactly ``round(sparsity * n)`` weights (overall for
``class_blind`` and ``class_distribution``, per class for ``class_uniform``),
ties broken by ``scores.tiebreak`` (|w|), then by position, so results are
deterministic.
"""
from __future__ import annotations

from typing import Callable

from ..errors import NmtpruneError
from ..model.masks import Masks
from .saliency import Scores
from .selection import CHUNK, Source, kth_smallest, masks_below


def _sources(scores: Scores, names: list[str], scale: float = 1.0) -> dict[str, Source]:
    fn = scores.fn
    if scale == 1.0:
        return {n: (scores.tensors[n], fn) for n in names}
    inv = 1.0 / scale
    if fn is None:
        return {n: (scores.tensors[n], lambda c, inv=inv: c * inv) for n in names}
    return {n: (scores.tensors[n], lambda c, inv=inv, fn=fn: fn(c).mul_(inv)) for n in names}


def _count(names: list[str], scores: Scores) -> int:
    return sum(scores.tensors[n].numel() for n in names)


def class_blind(scores: Scores, classes: dict[str, list[str]], sparsity: float) -> Masks:
    """One global threshold over every prunable weight."""
    names = [n for ns in classes.values() for n in ns]
    return masks_below(_sources(scores, names), round(sparsity * _count(names, scores)), tiebreak=scores.tiebreak)


def class_uniform(scores: Scores, classes: dict[str, list[str]], sparsity: float) -> Masks:
    """The same fraction of every class."""
    masks: Masks = {}
    for names in classes.values():
        masks.update(masks_below(_sources(scores, names), round(sparsity * _count(names, scores)),
                                 tiebreak=scores.tiebreak))
    return masks


def class_std(scores: Scores, names: list[str]) -> float:
    """sigma_c: std of the class's weights (magnitude, as See et al.) or of its scores."""
    src = scores.spread if scores.spread is not None else scores.tensors
    fn = None if scores.spread is not None else scores.fn
    n, s1, s2 = 0, 0.0, 0.0
    for name in names:
        flat = src[name].reshape(-1)
        for start in range(0, flat.numel(), CHUNK):
            c = flat[start:start + CHUNK]
            c = (fn(c) if fn is not None else c).double()
            n += c.numel()
            s1 += float(c.sum())
            s2 += float((c * c).sum())
    mean = s1 / n
    return max((s2 / n - mean * mean) * n / max(n - 1, 1), 0.0) ** 0.5


def class_distribution(scores: Scores, classes: dict[str, list[str]], sparsity: float, *,
                       return_lambda: bool = False):
    """Prune |score| < lambda * sigma_c in each class c, one lambda for all classes,
    solved so the total pruned fraction is ``sparsity``.

    Equivalent to a class-blind threshold lambda on score / sigma_c, which is how
    it is computed (the threshold found is lambda).
    """
    sources: dict[str, Source] = {}
    sigma = {}
    for cls, names in classes.items():
        sigma[cls] = class_std(scores, names) or 1.0
        sources.update(_sources(scores, names, sigma[cls]))
    k = round(sparsity * sum(t.numel() for t, _ in sources.values()))
    masks = masks_below(sources, k, tiebreak=scores.tiebreak)
    if not return_lambda:
        return masks
    lam = kth_smallest(list(sources.values()), k)[0] if k else 0.0
    return masks, lam, sigma


ALLOCATIONS: dict[str, Callable[[Scores, dict[str, list[str]], float], Masks]] = {
    "class_blind": class_blind,
    "class_uniform": class_uniform,
    "class_distribution": class_distribution,
}


def allocation_name(name: str) -> str:
    """Accept CLI spellings (``class-blind``) and return the registry key."""
    key = name.replace("-", "_")
    if key not in ALLOCATIONS:
        raise NmtpruneError(f"unknown allocation {name!r}; valid: "
                            f"{', '.join(k.replace('_', '-') for k in ALLOCATIONS)}")
    return key
