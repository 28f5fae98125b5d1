"""SNIP training: initialisation schemes and the number of scoring batches."""
from __future__ import annotations

import numpy as np

from . import findings
from .common import bars, budgets, dense_value, plt, save


def _dense(ax, runs) -> None:
    d = dense_value(runs, "bleu")
    if d is not None:
        ax.axhline(d, color="k", ls="--", lw=1, label=f"dense ({d:.1f})")
        ax.legend(fontsize=8)


def fig_snip_init(runs, out, s):
    labels, means, stds = [], [], []
    for init in s["inits"]:
        vals = [r["metrics"]["bleu"] for r in runs if r["kind"] == "snip_train" and r["init"] == init
                and r["snip_batches"] == s["batches"] and r["sparsity"] == s["sparsity"] and "bleu" in r["metrics"]]
        if vals:
            labels.append(init)
            means.append(np.mean(vals))
            stds.append(np.std(vals))
    if not labels:
        return None
    fig, ax = plt.subplots(figsize=(8, 4))
    bars(ax, labels, means, stds, "BLEU")
    _dense(ax, runs)
    ax.set_title(findings.wrapped(f"SNIP at {s['sparsity']:.0%}, by initialisation: "
                                  + findings.ranked(dict(zip(labels, means))), 80), fontsize=9)
    return save(fig, out, "fig9_snip_init.png"), (
        f"SNIP training at {s['sparsity']:.0%}: masks scored at initialisation ({s['batches']} batch) under each "
        "initialisation scheme, then trained with the mask fixed."
        + budgets(runs, ("SNIP training", {"kind": "snip_train", "sparsity": s["sparsity"]})))


def fig_snip_batches(runs, out, s):
    pts = {}
    for r in runs:
        if r["kind"] == "snip_train" and r["init"] == s["init"] and r["sparsity"] == s["sparsity"] \
                and "bleu" in r["metrics"]:
            pts.setdefault(r["snip_batches"], []).append(r["metrics"]["bleu"])
    if not pts:
        return None
    xs = sorted(pts)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.errorbar(xs, [np.mean(pts[x]) for x in xs], yerr=[np.std(pts[x]) for x in xs], marker="o", capsize=3)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("batches used for SNIP saliency")
    ax.set_ylabel("BLEU")
    _dense(ax, runs)
    ax.set_title(f"SNIP at {s['sparsity']:.0%}, by scoring batches: " + findings.ranked(
        {f"{x} batch{'es' if x > 1 else ''}": float(np.mean(pts[x])) for x in xs}), fontsize=9)
    return save(fig, out, "fig10_snip_batches.png"), (
        f"SNIP training at {s['sparsity']:.0%} ({s['init']} init): BLEU against the number of batches used to "
        "score the connections."
        + budgets(runs, ("SNIP training", {"kind": "snip_train", "sparsity": s["sparsity"]})))
