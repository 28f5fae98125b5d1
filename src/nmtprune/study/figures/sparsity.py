"""Quality against sparsity: the headline, without and with retraining, extreme sparsity."""
from __future__ import annotations

from . import findings
from .common import LABELS, bars, budgets, curve, dense_value, line, plt, retraining, save, sparsity_panels


def fig_headline(runs, out, s):
    """Dense vs class-blind magnitude pruning at each sparsity, without and with retraining."""
    dense = dense_value(runs, "bleu")
    rows = []
    for x in s["sparsities"]:
        for rt in (False, True):
            _, y, sd = curve(runs, "bleu", kind="prune", criterion="magnitude", allocation="class_blind",
                             retrained=rt, sparsity=x)
            _, p, _ = curve(runs, "ppl", kind="prune", criterion="magnitude", allocation="class_blind",
                            retrained=rt, sparsity=x)
            if len(y):
                rows.append((f"{x:.0%}{' + retrain' if rt else ''}", y[0], sd[0], p[0]))
    if dense is None or not rows:
        return None
    labels = ["dense"] + [r[0] for r in rows]
    fig, ax = plt.subplots(figsize=(1.4 * len(labels) + 2, 3.5))
    bars(ax, labels, [dense] + [r[1] for r in rows], [0.0] + [r[2] for r in rows], "BLEU")
    ax.axhline(dense, ls="--", color="k", lw=1, label=f"dense ({dense:.2f})")
    ax.legend(fontsize=8, loc="upper right")
    ax.set_title(headline_finding(rows, dense), fontsize=10)
    nums = "; ".join(f"{l}: BLEU {b:.2f}, ppl {p:.2f}" for l, b, _, p in rows)
    return save(fig, out, "fig0_headline.png"), (
        f"Headline: class-blind magnitude pruning of the dense baseline (BLEU {dense:.2f}, ppl "
        f"{dense_value(runs, 'ppl'):.2f}), without retraining (one cut) and with retraining by the "
        f"{retraining(runs)}. {nums}.")


def headline_finding(rows: list[tuple], dense: float) -> str:
    """The headline's finding in a phrase: one cut against retrained, sparsity by sparsity."""
    bleu = {label: b for label, b, _, _ in rows}
    both = [label for label in bleu if f"{label} + retrain" in bleu]
    if not both:
        return f"Class-blind magnitude pruning against the dense model (BLEU {dense:.1f})"
    cut = " / ".join(f"{bleu[x]:.1f}" for x in both)
    kept = " / ".join(f"{bleu[x + ' + retrain']:.1f}" for x in both)
    return (f"At {' / '.join(both)} of weights removed: one cut {cut} BLEU, retrained {kept} "
            f"(dense {dense:.1f})")


def fig_no_retrain(runs, out, s):
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    for key, label in list(LABELS.items())[:4]:
        line(a, *curve(runs, "bleu", kind="prune", criterion=key[0], allocation=key[1], retrained=False), label)
        line(b, *curve(runs, "ppl", kind="prune", criterion=key[0], allocation=key[1], retrained=False), label)
    sparsity_panels(runs, ((a, "bleu", "BLEU"), (b, "ppl", "perplexity per subword piece (log scale)")))
    b.set_yscale("log")
    fig.suptitle(findings.no_retrain(runs, s), fontsize=10)
    return save(fig, out, "fig1_no_retrain.png"), (
        "BLEU and perplexity against sparsity without retraining: magnitude pruning with class-blind, "
        f"class-uniform and class-distribution thresholds, and random pruning, at {s['sparsities']}.")


def fig_retrain(runs, out, s):
    fig, ax = plt.subplots(figsize=(6.5, 4))
    line(ax, *curve(runs, "bleu", kind="prune", criterion="magnitude", allocation="class_blind", retrained=False),
          "class-blind, pruned")
    line(ax, *curve(runs, "bleu", kind="prune", criterion="magnitude", allocation="class_blind", retrained=True),
          "class-blind, pruned + retrained")
    line(ax, *curve(runs, "bleu", kind="prune", criterion="random", allocation="class_blind", retrained=True),
          "random, pruned + retrained")
    line(ax, *curve(runs, "bleu", kind="scratch"), f"sparse from scratch (same masks, re-initialised: {s['init']})")
    line(ax, *curve(runs, "bleu", kind="rewind"), "rewind to the original init (same masks, lottery ticket)",
         ls="--")
    d = dense_value(runs, "bleu")
    if d is not None:
        ax.axhline(d, color="k", ls="--", lw=1, label="dense")
    ax.set_xlabel("sparsity (% of weights removed)")
    ax.set_ylabel("BLEU")
    ax.legend(fontsize=8)
    ax.set_title(findings.wrapped(findings.retrain(runs, s), 80), fontsize=9)
    return save(fig, out, "fig2_retrain.png"), (
        f"Retraining: class-blind pruned only vs pruned and retrained (the study's {retraining(runs)}), random pruning "
        "with retraining; training with the same class-blind masks from a fresh initialisation "
        f"({s['init']}, its own seed: See et al.'s sparse from scratch) and from the dense baseline's own "
        "initial weights (rewind to the original init, Frankle & Carbin's lottery ticket)."
        + budgets(runs, ("sparse from scratch", {"kind": "scratch"}), ("rewind", {"kind": "rewind"}),
                  ("retraining", {"kind": "prune", "retrained": True})))


def fig_extreme(runs, out, s):
    fig, ax = plt.subplots(figsize=(7, 4))
    for crit in ("magnitude", "random", "obd", "snip"):
        for rt, ls in ((False, "--"), (True, "-")):
            x, y, sd = curve(runs, "bleu", kind="prune", criterion=crit, allocation="class_blind", retrained=rt)
            keep = x >= min(s["sparsities"] + s["retrain_sparsities"]) - 1e-9
            line(ax, x[keep], y[keep], sd[keep], f"{LABELS[(crit, 'class_blind')]}"
                  f"{' + retrain' if rt else ''}", ls=ls)
    d = dense_value(runs, "bleu")
    if d is not None:
        ax.axhline(d, color="k", ls="--", lw=1, label="dense")
    ax.set_xlabel("sparsity (% of weights removed)")
    ax.set_ylabel("BLEU")
    ax.legend(fontsize=7)
    ax.set_title(findings.wrapped(findings.extreme(runs, s), 85), fontsize=9)
    return save(fig, out, "fig8_extreme.png"), (
        f"Extreme sparsity ({s['sparsities']}): BLEU with (solid) and without (dashed) retraining for "
        f"class-blind magnitude, random, OBD and SNIP (retraining: the study's {retraining(runs)}).")
