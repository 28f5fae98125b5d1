"""Exact k-th smallest score over many tensors without concatenating them.

torch's global pruning concatenates every score into one vector and sorts or
top-k's it: two to three extra copies of the model. Here a strided sample
brackets the k-th value, one chunked pass counts what lies below the bracket and
gathers the few values inside it, and only those are sorted. Working memory is
one chunk plus the bracket (well under 1% of the scores on a 200M model).
Ties at the threshold are broken by a second score when one is given (|w| for
every criterion: OBD and SNIP score 0 for every weight the scoring data gives no
gradient, e.g. embedding rows of unseen tokens): a second selection runs among
the tied values only. Only values tied on both fall back to position (tensor
order, then flat index), so the number pruned is exactly k and the result is
deterministic.
"""
from __future__ import annotations

import math
from typing import Callable, Iterable

import numpy as np
import torch

CHUNK = 1 << 20

Source = tuple[torch.Tensor, Callable[[torch.Tensor], torch.Tensor] | None]


def _chunks(src: Source) -> Iterable[torch.Tensor]:
    t, fn = src
    flat = t.reshape(-1)
    for start in range(0, flat.numel(), CHUNK):
        c = flat[start:start + CHUNK]
        yield fn(c) if fn is not None else c


def _count_and_gather(sources: list[Source], lo: float, hi: float, expect: int = 0):
    """Counts of values < lo, == lo, == hi, <= hi and the values strictly inside (lo, hi).

    The inside values go into one preallocated buffer (sized from the sample's
    estimate, grown if needed): keeping many small per-chunk tensors alive
    between the freed chunk temporaries fragments the heap, which once cost more
    memory than the scores themselves.
    """
    lt_lo = eq_lo = le_hi = eq_hi = 0
    inside = torch.empty(max(expect, 1024))
    pos = 0
    for src in sources:
        for c in _chunks(src):
            lt_lo += int((c < lo).sum())
            le_hi += int((c <= hi).sum())
            eq_lo += int((c == lo).sum())
            if lo != hi:
                eq_hi += int((c == hi).sum())
                sel = c[(c > lo) & (c < hi)]
                k = sel.numel()
                if pos + k > inside.numel():
                    grown = torch.empty(max(2 * inside.numel(), pos + k))
                    grown[:pos] = inside[:pos]
                    inside = grown
                inside[pos:pos + k] = sel
                pos += k
    return lt_lo, eq_lo, le_hi, eq_hi, inside[:pos]


def _sample(sources: list[Source], total: int, size: int) -> torch.Tensor:
    stride = max(1, total // size)
    parts = []
    for t, fn in sources:
        s = t.reshape(-1)[::stride]
        parts.append((fn(s) if fn is not None else s).float())
    # numpy's sort returns the values only (torch.sort also builds int64 indices: 3x the memory).
    return torch.from_numpy(np.sort(torch.cat(parts).cpu().numpy()))


def kth_smallest(sources: list[Source], k: int) -> tuple[float, int]:
    """The threshold ``v`` and tie count ``r`` such that pruning every score < v plus
    the first ``r`` scores == v (in source order) prunes exactly ``k`` values.

    Args:
        sources: (tensor, fn) pairs; scores are ``fn(tensor)`` (or the tensor itself).
        k: how many to prune, 1 <= k <= total.
    """
    return _kth(sources, k)[:2]


def _kth(sources: list[Source], k: int) -> tuple[float, int, int]:
    """:func:`kth_smallest` plus how many scores equal the threshold (known from its passes)."""
    total = sum(t.numel() for t, _ in sources)
    assert 1 <= k <= total
    # About 1/64 of the scores (at most 1M, at least 64k): the bracket stays narrow, and
    # the sample is not the largest working buffer on small models.
    sample = _sample(sources, total, min(1 << 20, max(total // 64, 1 << 16)))
    m = sample.numel()
    q = k / total
    margin = 4.0 * math.sqrt(q * (1 - q) / m) + 2.0 / m + 1e-4
    lo_i, hi_i = max(0, int((q - margin) * m)), min(m - 1, int(math.ceil((q + margin) * m)))
    lo, hi = float(sample[lo_i]), float(sample[hi_i])
    if lo_i == 0:
        lo = -math.inf
    if hi_i == m - 1:
        hi = math.inf
    expect = int((hi_i - lo_i + 1) / m * total * 1.5) + CHUNK
    for _ in range(3):
        lt_lo, eq_lo, le_hi, eq_hi, inside = _count_and_gather(sources, lo, hi, expect)
        if lt_lo < k <= lt_lo + eq_lo:
            return lo, k - lt_lo, eq_lo
        if lo != hi and lt_lo + eq_lo < k <= le_hi:
            below = lt_lo + eq_lo
            if k <= le_hi - eq_hi:              # inside the open interval
                vals = torch.sort(inside).values
                v = float(vals[k - below - 1])
                return v, k - below - int((vals < v).sum()), int((vals == v).sum())
            return hi, k - (le_hi - eq_hi), eq_hi
        # The sample missed (heavy ties or bad luck): widen to everything on the k side.
        if k <= lt_lo:
            lo, hi, expect = -math.inf, lo, lt_lo
        else:
            lo, hi, expect = hi, math.inf, total - le_hi
    raise RuntimeError("selection did not converge")  # unreachable: the last pass spans all values


def _tied(sources: dict[str, Source], tiebreak: dict[str, torch.Tensor], thr: float, n: int) -> torch.Tensor:
    """|tiebreak| of the ``n`` values whose score equals ``thr``, in source order (1-D): one
    pass into one buffer of the tied values only, never a copy of the model."""
    out, pos = torch.empty(n), 0
    for name, (t, fn) in sources.items():
        flat, tb = t.reshape(-1), tiebreak[name].reshape(-1)
        for start in range(0, flat.numel(), CHUNK):
            c = flat[start:start + CHUNK]
            sel = tb[start:start + CHUNK][(fn(c) if fn is not None else c) == thr].abs()
            out[pos:pos + sel.numel()] = sel
            pos += sel.numel()
    return out


def masks_below(sources: dict[str, Source], k: int, *,
                tiebreak: dict[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
    """Boolean keep-masks pruning exactly the ``k`` smallest scores.

    Args:
        sources: name -> (tensor, fn): the scores, as in :func:`kth_smallest`.
        k: how many to prune.
        tiebreak: name -> tensor of the same shape (the weights): among the scores tied at the
            threshold the smallest ``|tiebreak|`` are pruned first; position decides only
            between values tied on both (and always when ``tiebreak`` is None).
    """
    if k <= 0:
        return {n: torch.ones(t.shape, dtype=torch.bool, device=t.device) for n, (t, _) in sources.items()}
    thr, ties, n_eq = _kth(list(sources.values()), k)
    thr2 = None                      # second key: prune tied scores with |tiebreak| < thr2, then ties2 at it
    if tiebreak is not None and ties < n_eq:     # only some of the tied values go: choose by |w|
        thr2, ties = kth_smallest([(_tied(sources, tiebreak, thr, n_eq), None)], ties)
    masks = {}
    for name, (t, fn) in sources.items():
        keep = torch.empty(t.numel(), dtype=torch.bool, device=t.device)
        flat = t.reshape(-1)
        tb = tiebreak[name].reshape(-1) if thr2 is not None else None
        for start in range(0, flat.numel(), CHUNK):
            c = flat[start:start + CHUNK]
            s = fn(c) if fn is not None else c
            kc = keep[start:start + CHUNK]
            torch.gt(s, thr, out=kc)
            if ties > 0 or thr2 is not None:
                eq = (s == thr).nonzero().squeeze(1)
                if thr2 is not None:
                    # Tied scores: keep |w| > thr2, prune |w| < thr2; the next rule handles |w| == thr2.
                    w = tb[start:start + CHUNK][eq].abs()
                    kc[eq[w > thr2]] = True
                    eq = eq[w == thr2]
                # Tied on every key: prune the first ``ties`` in position order, keep the rest.
                kc[eq[ties:]] = True
                ties = max(0, ties - eq.numel())
            else:
                kc |= s == thr
        masks[name] = keep.view(t.shape)
    return masks
