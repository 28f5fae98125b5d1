"""Masks from a model: any criterion x any allocation at a target sparsity.

:func:`compute_masks` is the core: a criterion from :data:`saliency.CRITERIA`
scores the prunable weights, a policy from :data:`allocation.ALLOCATIONS` turns
the scores into keep-masks. Nothing here reads or writes files.
"""
from __future__ import annotations

import torch

from ..data.corpus import Corpus
from ..errors import NmtpruneError, choose
from ..model.classes import weight_classes
from ..model.masks import Masks
from ..model.seq2seq import Seq2Seq
from .allocation import ALLOCATIONS
from .pruning import Pruning
from .saliency import CRITERIA, Scores, ScoringData
from .score_cache import cached_scores
from .units import compute_unit_masks


def prunable_classes(model: Seq2Seq, *, include_biases: bool = False) -> dict[str, list[str]]:
    """Weight classes restricted to prunable parameters (matrices; biases only if asked)."""
    params = dict(model.named_parameters())
    out = {}
    for cls, names in weight_classes(model).items():
        keep = [n for n in names if include_biases or params[n].dim() >= 2]
        if keep:
            out[cls] = keep
    return out


def compute_masks(model: Seq2Seq, pruning: Pruning, *, data: ScoringData | None = None,
                  start: Masks | None = None, diagnostics: dict | None = None) -> Masks:
    """Masks for every prunable parameter (True = keep) for ``pruning``.

    ``pruning.only_classes`` prunes only those classes: the allocation runs over all classes
    (so class-blind keeps its global threshold) and the masks of every other class are reset
    to keep everything; with ``class_uniform`` this prunes ``sparsity`` of each listed class.

    Args:
        data: the scoring batches of data-driven criteria (default: ``pruning``'s, without a
            corpus; OBD and SNIP need one).
        start: the mask already in force (re-pruning): the new mask selects among the
            weights it keeps, so what was removed stays removed (as ``torch.nn.utils.prune``'s
            ``default_mask``) whatever the criterion scores the removed weights. The result
            lands exactly on ``sparsity`` wherever that is at least the mask's own: overall
            for class-blind and class-distribution; per class for class-uniform, where a
            class already sparser than ``sparsity`` keeps its mask (so that class, and the
            total, end above the target: nothing removed comes back).
        diagnostics: if given, filled with :func:`score_diagnostics` (zero-score share per
            class; the scoring data's vocabulary coverage).
    """
    criterion, include_biases, only_classes = pruning.criterion, pruning.include_biases, pruning.only_classes
    data = data or pruning.scoring_data(None, "cpu")
    if pruning.needs_data and data.corpus is None:
        raise NmtpruneError(f"criterion {criterion!r} needs data: the checkpoint records no prepared "
                            "training data; pass --data PREPDIR")
    if pruning.granularity == "unit":
        return compute_unit_masks(model, pruning, data, start=start, diagnostics=diagnostics)
    classes = prunable_classes(model, include_biases=include_biases)
    if only_classes:
        for c in only_classes:
            choose("weight class", c, classes)
    names = [n for ns in classes.values() for n in ns]
    if pruning.needs_data and data.cache:
        scores = cached_scores(criterion, CRITERIA[criterion], model, names, data)
    else:
        scores = CRITERIA[criterion](model, names, data)
    params = dict(model.named_parameters())
    scores.tiebreak = {n: params[n].detach() for n in names}      # equal scores: smaller |w| goes first
    if diagnostics is not None:
        vocab = {"src": model.cfg.src_vocab, "tgt": model.cfg.tgt_vocab}
        diagnostics.update(score_diagnostics(scores, classes, data if pruning.needs_data else None, vocab))
    if start:
        scores = removed_first(scores, start)
    masks = ALLOCATIONS[pruning.allocation](scores, classes, pruning.sparsity)
    if start:                   # only class-uniform can select a removed weight: a class sparser than the target
        masks = {n: m & start[n].to(m.device) if n in start else m for n, m in masks.items()}
        # what the mask in force covers beyond these parameters (a removed unit's biases) stays as it is
        masks = {**{n: m for n, m in start.items() if n not in masks}, **masks}
    if only_classes:
        for cls, ns in classes.items():
            if cls not in only_classes:
                for n in ns:
                    masks[n] = torch.ones_like(masks[n])
    return masks


def score_diagnostics(scores: Scores, classes: dict[str, list[str]], data: ScoringData | None,
                      vocab: dict[str, int]) -> dict:
    """What the scores rest on: per class, the share of weights scored exactly 0 (OBD and SNIP:
    no gradient from the scoring data, e.g. embedding rows of tokens the sample lacks), and for
    data-driven criteria the share of each vocabulary the scoring sentences contain."""
    zero = {}
    for cls, names in classes.items():
        n = sum(scores.tensors[x].numel() for x in names)
        zero[cls] = sum(int((scores[x] == 0).sum()) for x in names) / n if n else 0.0
    out: dict = {"zero_score_share": zero}
    if data is not None and data.corpus is not None:
        out["vocab_coverage"] = data.vocab_coverage(vocab)
    return out


def removed_first(scores: Scores, start: Masks) -> Scores:
    """Scores where every weight ``start`` removes ranks below every kept one (-inf).

    Materialises the scores (one copy of the prunable weights); class-distribution's
    spread stays that of the original scores.
    """
    tensors, spread = {}, scores.spread if scores.spread is not None else {}
    for n in scores:
        s = scores[n].float()
        if scores.spread is None:
            spread[n] = s
        if n in start and not bool(start[n].all()):
            s = s.masked_fill(~start[n].to(s.device), float("-inf"))
        tensors[n] = s
    return Scores(tensors, None, spread, scores.tiebreak)


def snip_masks(model: Seq2Seq, corpus: Corpus, snip: dict, device, *, progress: bool = False) -> Masks:
    """SNIP at initialisation (Lee et al.): one-shot class-blind masks from |g * w|."""
    pruning = Pruning(snip["sparsity"], criterion="snip", allocation=snip.get("allocation", "class_blind"),
                      batches=int(snip.get("batches", 1)), batch_size=int(snip.get("batch_size", 64)),
                      seed=int(snip.get("seed", 0)))
    model.to(device)
    return compute_masks(model, pruning, data=pruning.scoring_data(corpus, device, progress=progress))
