"""SNIP training: initialisation schemes and the number of scoring batches."""
from __future__ import annotations

import numpy as np

from .common import bars, budgets, plt, save


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
    fig, ax = plt.subplots(figsize=(6, 4))
    bars(ax, labels, means, stds, "BLEU")
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
    return save(fig, out, "fig10_snip_batches.png"), (
        f"SNIP training at {s['sparsity']:.0%} ({s['init']} init): BLEU against the number of batches used to "
        "score the connections."
        + budgets(runs, ("SNIP training", {"kind": "snip_train", "sparsity": s["sparsity"]})))
