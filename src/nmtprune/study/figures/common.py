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
    """Runs whose spec matches every keyword (``only_classes=None`` means whole-model runs;
    ``granularity=None``, weight pruning: unit runs are drawn only where asked for)."""
    kw.setdefault("only_classes", None)
    kw.setdefault("granularity", None)
    return [r for r in runs if all(r.get(k) == v for k, v in kw.items())]


def curve(runs, metric: str, **kw):
    """x (sparsities), mean and std over seeds of ``metric``."""
    by_x: dict[float, list[float]] = {}
    for r in select(runs, **kw):
        if metric in r["metrics"]:
            by_x.setdefault(r["sparsity"], []).append(r["metrics"][metric])
    xs = sorted(by_x)
    return (np.array(xs), np.array([np.mean(by_x[x]) for x in xs]), np.array([np.std(by_x[x]) for x in xs]))


def dense_by_seed(runs, metric: str) -> dict[int, float]:
    """The dense baseline's ``metric`` per seed: a run's change is taken against its own seed's."""
    return {r["seed"]: r["metrics"][metric] for r in runs if r["kind"] == "dense" and metric in r["metrics"]}


def signed_log_axis(ax) -> None:
    """A y axis that is logarithmic away from 0 and linear near it (symlog), so improvements
    (negative changes) show below 0 instead of being clipped."""
    ax.set_yscale("symlog", linthresh=1.0)
    ax.axhline(0, color="k", lw=0.8)


def dense_value(runs, metric: str) -> float | None:
    vals = [r["metrics"][metric] for r in runs if r["kind"] == "dense" and metric in r["metrics"]]
    return float(np.mean(vals)) if vals else None


def budget(runs, label: str, **kw) -> str:
    """``"<label> N optimizer steps"`` (the range over runs) for the runs matching ``kw``; "" if none
    recorded them (runs stored before steps were)."""
    steps = sorted({r["metrics"]["steps"] for r in select(runs, **kw) if "steps" in r["metrics"]})
    if not steps:
        return ""
    n = f"{steps[0]:,}" if len(steps) == 1 else f"{steps[0]:,}–{steps[-1]:,}"
    return f"{label} {n} optimizer steps"


def budgets(runs, *parts: tuple[str, dict]) -> str:
    """A caption sentence stating the training budgets: the dense baseline's and each part's."""
    said = [b for b in [budget(runs, "dense baseline", kind="dense")] +
            [budget(runs, label, **kw) for label, kw in parts] if b]
    return f" Budgets: {'; '.join(said)}." if said else ""


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
