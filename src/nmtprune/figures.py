"""The study's figures: one function per experiment, drawn from the store's runs.

Each function takes the finished runs (spec fields + ``metrics``), the study
directory and the experiment's settings, writes one PNG and returns
``(file name, caption)``, or None when its runs are missing.
"""
from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

LABELS = {("magnitude", "class_blind"): "class-blind", ("magnitude", "class_uniform"): "class-uniform",
          ("magnitude", "class_distribution"): "class-distribution", ("random", "class_blind"): "random",
          ("obd", "class_blind"): "OBD (class-blind)", ("snip", "class_blind"): "SNIP (class-blind)"}


def select(runs, **kw) -> list[dict]:
    """Runs whose spec matches every keyword (``only_classes=None`` means whole-model runs)."""
    kw.setdefault("only_classes", None)
    return [r for r in runs if all(r.get(k) == v for k, v in kw.items())]


def curve(runs, metric: str, **kw):
    """x (sparsities), mean and std over seeds of ``metric``."""
    by_x: dict[float, list[float]] = {}
    for r in select(runs, **kw):
        if metric in r["metrics"]:
            by_x.setdefault(r["sparsity"], []).append(r["metrics"][metric])
    xs = sorted(by_x)
    return (np.array(xs), np.array([np.mean(by_x[x]) for x in xs]), np.array([np.std(by_x[x]) for x in xs]))


def dense_value(runs, metric: str) -> float | None:
    vals = [r["metrics"][metric] for r in runs if r["kind"] == "dense" and metric in r["metrics"]]
    return float(np.mean(vals)) if vals else None


def _plot(ax, x, y, s, label, **kw):
    if len(x) == 0:
        return
    ax.plot(x * 100, y, marker="o", label=label, **kw)
    if np.any(s > 0):
        ax.fill_between(x * 100, y - s, y + s, alpha=0.2)


def _save(fig, out: Path, name: str) -> str:
    fig.tight_layout()
    fig.savefig(out / name, dpi=110)
    plt.close(fig)
    return name


def fig_no_retrain(runs, out, s):
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    for key, label in list(LABELS.items())[:4]:
        _plot(a, *curve(runs, "bleu", kind="prune", criterion=key[0], allocation=key[1], retrained=False), label)
        _plot(b, *curve(runs, "ppl", kind="prune", criterion=key[0], allocation=key[1], retrained=False), label)
    for ax, m, name in ((a, "bleu", "BLEU"), (b, "ppl", "perplexity")):
        d = dense_value(runs, m)
        if d is not None:
            ax.axhline(d, color="k", ls="--", lw=1, label="dense")
        ax.set_xlabel("sparsity (% of weights removed)")
        ax.set_ylabel(name)
        ax.legend(fontsize=8)
    b.set_yscale("log")
    return _save(fig, out, "fig1_no_retrain.png"), (
        "BLEU and perplexity against sparsity without retraining: magnitude pruning with class-blind, "
        f"class-uniform and class-distribution thresholds, and random pruning, at {s['sparsities']}.")


def fig_retrain(runs, out, s):
    fig, ax = plt.subplots(figsize=(6.5, 4))
    _plot(ax, *curve(runs, "bleu", kind="prune", criterion="magnitude", allocation="class_blind", retrained=False),
          "class-blind, pruned")
    _plot(ax, *curve(runs, "bleu", kind="prune", criterion="magnitude", allocation="class_blind", retrained=True),
          "class-blind, pruned + retrained")
    _plot(ax, *curve(runs, "bleu", kind="prune", criterion="random", allocation="class_blind", retrained=True),
          "random, pruned + retrained")
    _plot(ax, *curve(runs, "bleu", kind="scratch"), f"sparse from scratch (same masks, {s['init']} init)")
    d = dense_value(runs, "bleu")
    if d is not None:
        ax.axhline(d, color="k", ls="--", lw=1, label="dense")
    ax.set_xlabel("sparsity (%)")
    ax.set_ylabel("BLEU")
    ax.legend(fontsize=8)
    return _save(fig, out, "fig2_retrain.png"), (
        "Retraining: class-blind pruned only vs pruned and retrained with the mask fixed, random pruning "
        "with retraining, and training from scratch with the same class-blind masks re-initialised.")


def _class_bars(ax, groups: dict[str, dict], title: str):
    classes = sorted({c for g in groups.values() for c in g})
    w = 0.8 / max(len(groups), 1)
    for i, (label, shares) in enumerate(groups.items()):
        ax.bar(np.arange(len(classes)) + i * w, [100 * shares.get(c, 0) for c in classes], w, label=label)
    ax.set_xticks(np.arange(len(classes)) + w * (len(groups) - 1) / 2)
    ax.set_xticklabels(classes, rotation=45, ha="right", fontsize=8)
    ax.set_ylabel("% of the class pruned")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)


def _shares(r):
    return {c: v["sparsity"] for c, v in r["metrics"]["classes"].items()}


def fig_class_share(runs, out, s):
    fig, axes = plt.subplots(1, 1 + len(s["sparsities"]), figsize=(5 * (1 + len(s["sparsities"])), 4))
    g = {LABELS[("magnitude", a)]: _shares(rs[0]) for a in ("class_blind", "class_distribution")
         if (rs := select(runs, kind="prune", criterion="magnitude", allocation=a, sparsity=s["compare_at"],
                          retrained=False, seed=0))}
    _class_bars(axes[0], g, f"{s['compare_at']:.0%} overall")
    for ax, x in zip(axes[1:], s["sparsities"]):
        g = {LABELS[(c, "class_blind")]: _shares(rs[0]) for c in ("magnitude", "obd", "snip")
             if (rs := select(runs, kind="prune", criterion=c, allocation="class_blind", sparsity=x,
                              retrained=False, seed=0))}
        _class_bars(ax, g, f"{x:.0%} overall")
    return _save(fig, out, "fig3_class_share.png"), (
        f"Share of each weight class pruned: class-blind vs class-distribution at {s['compare_at']:.0%}, and "
        f"class-blind magnitude, OBD and SNIP at {', '.join(f'{x:.0%}' for x in s['sparsities'])} (seed 0).")


def fig_sensitivity(runs, out, s):
    dense = dense_value(runs, "ppl")
    groups = {}
    for label, crit, alloc in (("90% of the class (class-uniform)", "magnitude", "class_uniform"),
                               ("global class-blind threshold", "magnitude", "class_blind"),
                               ("class-distribution threshold", "magnitude", "class_distribution"),
                               ("OBD, global threshold", "obd", "class_blind")):
        vals = {}
        for r in runs:
            if (r["kind"] == "prune" and r["criterion"] == crit and r["allocation"] == alloc and r["only_classes"]
                    and r["sparsity"] == s["sparsity"] and not r["retrained"] and "ppl" in r["metrics"]):
                vals.setdefault(r["only_classes"][0], []).append(r["metrics"]["ppl"] - dense)
        groups[label] = {c: float(np.mean(v)) for c, v in vals.items()}
    fig, ax = plt.subplots(figsize=(9, 4))
    classes = sorted({c for g in groups.values() for c in g})
    w = 0.8 / len(groups)
    for i, (label, v) in enumerate(groups.items()):
        ax.bar(np.arange(len(classes)) + i * w, [max(v.get(c, 0), 1e-3) for c in classes], w, label=label)
    ax.set_yscale("log")
    ax.set_xticks(np.arange(len(classes)) + w * 1.5)
    ax.set_xticklabels(classes, rotation=45, ha="right", fontsize=8)
    ax.set_ylabel("perplexity change vs dense")
    ax.legend(fontsize=7)
    return _save(fig, out, "fig4_sensitivity.png"), (
        f"Sensitivity: perplexity increase when only one class is pruned at {s['sparsity']:.0%} (of the class, "
        "or the threshold the whole-model allocation would use), dense perplexity subtracted.")


def fig_max_pruned(runs, out, s):
    dense = dense_value(runs, "ppl")
    fig, ax = plt.subplots(figsize=(6.5, 4))
    by_class: dict[str, list] = {}
    for r in runs:
        if r["kind"] == "prune" and r["allocation"] == "class_uniform" and r["only_classes"] and \
                r["sparsity"] in s["sparsities"] and r["seed"] == 0 and r["criterion"] == "magnitude":
            c = r["only_classes"][0]
            mx = r["metrics"]["classes"][c]["max_pruned_abs"]
            by_class.setdefault(c, []).append((mx, r["metrics"]["ppl"] - dense))
    for c, pts in sorted(by_class.items()):
        pts.sort()
        ax.plot([p[0] for p in pts], [max(p[1], 1e-3) for p in pts], marker="o", label=c)
    ax.set_yscale("log")
    ax.set_xlabel("largest |w| removed")
    ax.set_ylabel("perplexity change vs dense")
    ax.legend(fontsize=7)
    return _save(fig, out, "fig5_max_pruned.png"), (
        "Perplexity change against the largest weight magnitude removed, pruning one class at a time "
        f"(class-uniform magnitude at {s['sparsities']}).")
