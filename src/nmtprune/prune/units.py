"""Hidden-unit (structured) pruning: a score per unit, then which units go.

The units and the weights each owns are :func:`nmtprune.model.units.families`.
A unit's score comes from the per-weight scores of the usual criteria over
everything it owns: magnitude is the L2 norm of its weights, OBD and SNIP the
sum of their scores, random a seeded draw per unit. The allocation then removes
``round(sparsity * units)``: the same share of every family (``class_uniform``)
or the lowest scores overall (``class_blind``). Every family keeps at least one
unit. ``only_classes`` names the families to prune (e.g. only the decoder's, whose
width sets the cost of every decoding step); the others keep all their units and
the sparsity is the share of the named families' units. Removing a unit masks
everything it owns, biases included, so the masked model is exactly the smaller
one :func:`nmtprune.model.units.shrink` builds.
"""
from __future__ import annotations

import torch

from ..errors import NmtpruneError, choose
from ..model.masks import Masks, sparsity_of
from ..model.seq2seq import Seq2Seq
from ..model.units import families, kept_units, unit_entries, unit_masks
from .pruning import Pruning
from .saliency import CRITERIA, ScoringData
from .score_cache import cached_scores


def unit_scores(model: Seq2Seq, pruning: Pruning, data: ScoringData) -> dict[str, torch.Tensor]:
    """``{family: (n_units,) scores}``; higher = keep."""
    fams = families(model)
    if pruning.criterion == "random":
        g = torch.Generator().manual_seed(pruning.seed)
        return {f.name: torch.rand(f.size, generator=g) for f in fams}
    names = sorted({n for f in fams for n, _, _ in f.slices})
    fn = CRITERIA[pruning.criterion]
    scores = cached_scores(pruning.criterion, fn, model, names, data) if pruning.needs_data and data.cache \
        else fn(model, names, data)
    l2 = pruning.criterion == "magnitude"
    out = {}
    for f in fams:
        total = torch.zeros(f.size, dtype=torch.float64)
        for name, dim, index in f.slices:
            s = scores[name].detach().double().cpu()
            total += unit_entries(s * s if l2 else s, dim, index).flatten(1).sum(1)
        out[f.name] = total.sqrt() if l2 else total
    return out


def unit_sparsity(kept: dict[str, torch.Tensor]) -> float:
    """The fraction of units removed (``kept``: per family, True = kept)."""
    total = sum(k.numel() for k in kept.values())
    return sum(int((~k).sum()) for k in kept.values()) / total if total else 0.0


def _lowest(scores: torch.Tensor, k: int) -> torch.Tensor:
    """Bool (n,): the ``k`` lowest scores (ties: the earlier unit goes first)."""
    out = torch.zeros(scores.numel(), dtype=torch.bool)
    out[torch.sort(scores, stable=True).indices[:k]] = True
    return out


def _uniform(v: torch.Tensor, s: float, parts: int, before: torch.Tensor | None) -> torch.Tensor:
    """Class-uniform within one family: the same share of each of its ``parts`` (directions)."""
    out = []
    for p_scores, p_before in zip(v.chunk(parts), before.chunk(parts) if before is not None else [None] * parts):
        gone = int((~p_before).sum()) if p_before is not None else 0
        out.append(_lowest(p_scores, max(round(s * p_scores.numel()), gone)))
    return torch.cat(out)


def select_units(scores: dict[str, torch.Tensor], pruning: Pruning, *,
                 before: dict[str, torch.Tensor] | None = None,
                 parts: dict[str, int] | None = None) -> dict[str, torch.Tensor]:
    """``{family: removed (bool)}`` at ``pruning.sparsity`` of the units; ``before`` (kept units of
    the mask in force) are removed first and stay removed. ``parts``: per family, the runs
    class-uniform treats alike (the two directions of an encoder layer)."""
    s = pruning.sparsity
    if before is not None:
        scores = {f: v.masked_fill(~before[f], float("-inf")) for f, v in scores.items()}
    gone_before = {f: int((~before[f]).sum()) if before is not None else 0 for f in scores}
    if pruning.allocation == "class_uniform":
        removed = {f: _uniform(v, s, (parts or {}).get(f, 1), before[f] if before is not None else None)
                   for f, v in scores.items()}
    else:
        flat = torch.cat(list(scores.values()))
        k = max(round(s * flat.numel()), sum(gone_before.values()))
        cut, removed, at = _lowest(flat, k), {}, 0
        for f, v in scores.items():
            removed[f], at = cut[at:at + v.numel()], at + v.numel()
    for f, r in removed.items():
        if bool(r.all()):
            raise NmtpruneError(f"--granularity unit: --sparsity {s} ({pruning.allocation.replace('_', '-')}) "
                                f"would remove all {r.numel()} units of {f}; every layer keeps at least one "
                                "unit (lower the sparsity)")
    return removed


def pruned_families(model: Seq2Seq, only: tuple[str, ...] | None) -> list[str]:
    """The unit families a pruning removes units from: ``only`` (each checked), else all."""
    names = [f.name for f in families(model)]
    for n in only or ():
        choose("--classes unit family", n, names)
    return list(only) if only else names


def compute_unit_masks(model: Seq2Seq, pruning: Pruning, data: ScoringData, *, start: Masks | None = None,
                       diagnostics: dict | None = None) -> Masks:
    """Keep-masks removing whole units (every weight and bias each owns); with
    ``pruning.only_classes`` only units of those families go."""
    chosen = pruned_families(model, pruning.only_classes)
    was_training = model.training
    scores = unit_scores(model, pruning, data)
    model.train(was_training)
    before = kept_units(model, start) if start else None
    removed = select_units({f: scores[f] for f in chosen}, pruning,
                           before={f: before[f] for f in chosen} if before else None,
                           parts={f.name: f.parts for f in families(model)})
    for f, s in scores.items():              # families left alone keep what the mask in force keeps
        if f not in removed:
            removed[f] = ~before[f] if before else torch.zeros(s.numel(), dtype=torch.bool)
    masks = unit_masks(model, removed)
    if diagnostics is not None:
        diagnostics.update(zero_score_share={}, units=unit_counts({f: ~r for f, r in removed.items()}))
    return masks


def unit_counts(kept: dict[str, torch.Tensor]) -> dict[str, dict]:
    """Per family: its units and how many are kept (what ``inspect`` shows)."""
    return {f: {"units": k.numel(), "kept": int(k.sum())} for f, k in kept.items()}


def current_sparsity(model: Seq2Seq, masks: Masks | None, granularity: str, *,
                     only: tuple[str, ...] | None = None) -> float:
    """The sparsity of ``masks`` as a pruning of ``granularity`` counts it: the share of weights,
    or of units (of the families ``only`` names, when it names some)."""
    if not masks:
        return 0.0
    if granularity != "unit":
        return sparsity_of(masks)
    kept = kept_units(model, masks)
    return unit_sparsity({f: kept[f] for f in pruned_families(model, only)})
