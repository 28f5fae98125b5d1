"""Hidden-unit (structured) pruning against weight pruning, at equal shares of weights removed."""
from __future__ import annotations

import numpy as np

from .common import line, plt, retraining, save, select, sparsity_panels


def _by_weights(runs, metric: str, **kw):
    """x: the share of weights the runs removed (measured), mean and std of ``metric`` over seeds."""
    by_x: dict[float, list[tuple[float, float]]] = {}
    for r in select(runs, **kw):
        if metric in r["metrics"] and "sparsity" in r["metrics"]:
            by_x.setdefault(r["sparsity"], []).append((r["metrics"]["sparsity"], r["metrics"][metric]))
    xs = sorted(by_x)
    return (np.array([np.mean([w for w, _ in by_x[x]]) for x in xs]),
            np.array([np.mean([v for _, v in by_x[x]]) for x in xs]),
            np.array([np.std([v for _, v in by_x[x]]) for x in xs]))


def _finding(runs, unit: dict, weight: dict) -> str:
    """The title: how unit pruning compares at equal shares of weights removed (retrained arms,
    weight pruning's BLEU interpolated at the units' shares)."""
    ux, uy, _ = _by_weights(runs, "bleu", **unit, retrained=True)
    wx, wy, _ = _by_weights(runs, "bleu", **weight, retrained=True)
    inside = (ux >= wx.min()) & (ux <= wx.max()) if len(wx) > 1 else np.zeros(len(ux), bool)
    if not inside.any():
        return "Hidden units vs single weights at equal shares of weights removed"
    gap = float(np.mean(uy[inside] - np.interp(ux[inside], wx, wy)))
    verb = "loses" if gap < 0 else "gains"
    return (f"Retrained, removing whole units {verb} {abs(gap):.1f} BLEU against single weights "
            "at equal shares of weights removed")


def fig_units(runs, out, s):
    """BLEU and perplexity against the share of weights removed: whole hidden units vs single
    weights, one cut and with the study's retraining."""
    unit = dict(kind="prune", criterion="magnitude", allocation="class_uniform", granularity="unit")
    weight = dict(kind="prune", criterion="magnitude", allocation="class_blind")
    if not select(runs, **unit):
        return None
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    for kw, name in ((unit, "hidden units (class-uniform)"), (weight, "weights (class-blind)")):
        for rt, ls in ((False, "--"), (True, "-")):
            label = f"{name}{', retrained' if rt else ', one cut'}"
            line(a, *_by_weights(runs, "bleu", **kw, retrained=rt), label, ls=ls)
            line(b, *_by_weights(runs, "ppl", **kw, retrained=rt), label, ls=ls)
    sparsity_panels(runs, ((a, "bleu", "BLEU"), (b, "ppl", "perplexity (per subword piece)")))
    b.set_yscale("log")
    fig.suptitle(_finding(runs, unit, weight), fontsize=10)
    shares = ", ".join(f"{x:.0%}" for x in s["sparsities"])
    return save(fig, out, "fig13_units.png"), (
        f"Hidden-unit pruning (whole LSTM units and embedding dimensions, magnitude = L2 norm of every weight "
        f"a unit owns, the same share of every layer: {shares} of the units) against class-blind magnitude "
        f"weight pruning, both plotted at the share of weights they removed; dashed: one cut, solid: "
        f"retrained by the {retraining(runs)}. A unit-pruned model exports as a smaller dense model.")
