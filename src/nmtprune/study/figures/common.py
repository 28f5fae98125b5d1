"""What every study figure shares: run selection, curves over seeds, line and bar plots.

A figure function takes the finished runs (spec fields + ``metrics``), the
figure directory and the experiment's settings (and, where it plots stored
files, the study directory), writes one PNG and returns ``(file name,
caption)``, or None when its runs are missing. Figures only plot what the
study stored; they never load a model.
"""
from __future__ import annotations

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


def line(ax, x, y, s, label, **kw):
    if len(x) == 0:
        return
    ax.plot(x * 100, y, marker="o", label=label, **kw)
    if np.any(s > 0):
        ax.fill_between(x * 100, y - s, y + s, alpha=0.2)


def save(fig, out: Path, name: str) -> str:
    fig.tight_layout()
    fig.savefig(out / name, dpi=110)
    plt.close(fig)
    return name


def bars(ax, labels, means, stds, ylabel):
    ax.bar(range(len(labels)), means, yerr=stds if any(stds) else None, capsize=3)
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel(ylabel)


def retraining(runs) -> str:
    """How the study's retrained runs were retrained, in words (their stored recipe and budget)."""
    for r in runs:
        if r["kind"] == "prune" and r["retrained"] and "recipe" in r["metrics"]:
            return f"recovery recipe '{r['metrics']['recipe']}' ({r['metrics'].get('budget', '')})"
    return "retraining with the mask fixed"


def sparsity_panels(runs, panels) -> None:
    """Finish (axis, metric, y label) panels plotted against sparsity: the dense value as a
    dashed line, axis labels, legend."""
    for ax, metric, label in panels:
        d = dense_value(runs, metric)
        if d is not None:
            ax.axhline(d, color="k", ls="--", lw=1, label="dense")
        ax.set_xlabel("sparsity (% of weights removed)")
        ax.set_ylabel(label)
        ax.legend(fontsize=8)
