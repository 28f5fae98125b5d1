"""Each figure's title: its finding in a phrase, computed from the runs it plots.

A reader should learn what a figure shows from its title alone (the caption says how it was
made). Every function here takes the runs a figure sees and its experiment's settings and
returns one line; where the runs it needs are missing it falls back to what the figure plots.
"""
from __future__ import annotations

import textwrap

import numpy as np

from .common import LABELS, curve, select


def wrapped(text: str, width: int = 95) -> str:
    """A title broken into lines that fit a figure's width."""
    return textwrap.fill(text, width)


def _at(runs, x: float, metric: str = "bleu", **kw) -> float | None:
    """Mean ``metric`` over seeds of the runs matching ``kw`` at sparsity ``x`` (None if none)."""
    xs, ys, _ = curve(runs, metric, **kw)
    hit = [y for xv, y in zip(xs, ys) if abs(xv - x) < 1e-9]
    return float(hit[0]) if hit else None


def ranked(values: dict[str, float | None], unit: str = "BLEU") -> str:
    """``"a 3.1, b 2.0, c 0.1 BLEU"``: the labels with a value, best first."""
    got = sorted(((float(v), k) for k, v in values.items() if v is not None), reverse=True)
    return ", ".join(f"{k} {v:.1f}" for v, k in got) + f" {unit}"


def no_retrain(runs, s) -> str:
    """The four methods at the sparsity where the three magnitude allocations differ most (random
    is far below them everywhere; the figure is about the allocations)."""
    methods = list(LABELS.items())[:4]
    best = None
    for x in s["sparsities"]:
        vals = {label: _at(runs, x, kind="prune", criterion=c, allocation=a, retrained=False)
                for (c, a), label in methods}
        got = [vals[label] for (c, _), label in methods if c == "magnitude" and vals[label] is not None]
        if len(got) > 1 and (best is None or np.ptp(got) > best[0]):
            best = (float(np.ptp(got)), x, vals)
    if best is None:
        return "Pruning without retraining: BLEU and perplexity against sparsity"
    return f"Without retraining, at {best[1]:.0%}: {ranked(best[2])}"


def retrain(runs, s) -> str:
    """Every arm at the largest sparsity of the experiment."""
    x = max(s["sparsities"])
    cb = {"criterion": "magnitude", "allocation": "class_blind"}
    vals = {"retrained": _at(runs, x, kind="prune", retrained=True, **cb),
            "random + retrained": _at(runs, x, kind="prune", criterion="random", allocation="class_blind",
                                      retrained=True),
            "from scratch": _at(runs, x, kind="scratch"), "rewind": _at(runs, x, kind="rewind"),
            "one cut": _at(runs, x, kind="prune", retrained=False, **cb)}
    return f"At {x:.0%}: {ranked(vals)}"


def class_share(runs, s) -> str:
    """Per criterion, the class it prunes most, at the experiment's largest sparsity."""
    x = max(s["sparsities"])
    said = []
    for c in ("magnitude", "obd", "snip"):
        rs = select(runs, kind="prune", criterion=c, allocation="class_blind", sparsity=x, retrained=False, seed=0)
        if rs:
            shares = {k: v["sparsity"] for k, v in rs[0]["metrics"]["classes"].items()}
            top = max(shares, key=shares.get)
            said.append(f"{LABELS[(c, 'class_blind')]} most from {top} ({shares[top]:.0%})")
    return f"At {x:.0%} overall: " + "; ".join(said) if said else "Share of each weight class pruned"


def sensitivity(change: dict[str, float], sparsity: float) -> str:
    """The class whose pruning alone hurts most and least; ``change``: class -> mean perplexity
    change over seeds when ``sparsity`` of it alone is pruned (what the figure plots)."""
    if not change:
        return "Perplexity change when one class is pruned alone"
    hi, lo = max(change, key=change.get), min(change, key=change.get)
    return (f"Pruning {sparsity:.0%} of one class alone: {hi} hurts most (perplexity {change[hi]:+.1f}), "
            f"{lo} least ({change[lo]:+.1f})")


def max_pruned(points: dict[str, dict[float, tuple[float, float]]], x: float) -> str:
    """The class hurt most when share ``x`` of it alone is pruned, and whether it lost the smallest
    weights (magnitude is no measure of importance across classes). ``points``: class -> share ->
    (largest |w| removed, perplexity change), as the figure plots them."""
    hits = {c: p[x] for c, p in points.items() if x in p}
    if not hits:
        return "Perplexity change against the largest |w| removed"
    worst = max(hits, key=lambda c: hits[c][1])
    smallest = min(hits, key=lambda c: hits[c][0])
    why = (f", though it lost the smallest weights (largest |w| removed {hits[worst][0]:.3f})"
           if worst == smallest else f" (largest |w| removed {hits[worst][0]:.3f})")
    return f"At {x:.0%} of one class: {worst} hurts most (perplexity {hits[worst][1]:+.1f}){why}"


def sentence_bleu(labels: list[str], medians: list[float]) -> str:
    """Medians, best first."""
    short = [label.replace(" (class-blind)", "") for label in labels]
    return "median sentence BLEU: " + ranked(dict(zip(short, medians)), unit="").rstrip()


def extreme(runs, s) -> str:
    """Each criterion retrained at the largest retrained sparsity."""
    if not s["retrain_sparsities"]:
        return "BLEU at extreme sparsity"
    x = max(s["retrain_sparsities"])
    vals = {LABELS[(c, "class_blind")]: _at(runs, x, kind="prune", criterion=c, allocation="class_blind",
                                            retrained=True) for c in ("magnitude", "random", "obd", "snip")}
    return f"At {x:.0%} + retraining: {ranked(vals)}"


def recipes(runs, s) -> str:
    """Each recipe at the largest sparsity, at the same budget."""
    x = max(s["sparsities"])
    vals = {name: _at(runs, x, kind="recipe", recipe=name) for name in s["recipes"]}
    return f"At {x:.0%}, same retraining budget: {ranked(vals)}"
