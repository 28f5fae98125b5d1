"""Per weight class: the share of each class pruned, single-class sensitivity, largest |w| removed, masks."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ...model.masks import load_masks
from . import findings
from .common import LABELS, dense_by_seed, plt, save, select, signed_log_axis

ENC_MATRIX, DEC_MATRIX = "encoder.lstm.weight_hh_l0", "decoder.layers.0.weight_hh"


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
    fig.suptitle(findings.class_share(runs, s), fontsize=10)
    fig.tight_layout()
    return save(fig, out, "fig3_class_share.png"), (
        f"Share of each weight class pruned: class-blind vs class-distribution at {s['compare_at']:.0%}, and "
        f"class-blind magnitude, OBD and SNIP at {', '.join(f'{x:.0%}' for x in s['sparsities'])} (seed 0).")


def sensitivity_changes(runs, s, criterion: str, allocation: str) -> dict[str, float]:
    """Class -> mean over seeds of (perplexity with only that class pruned at ``s["sparsity"]``,
    no retraining) minus the same seed's dense perplexity."""
    dense = dense_by_seed(runs, "ppl")
    vals: dict[str, list[float]] = {}
    for r in runs:
        if (r["kind"] == "prune" and r["criterion"] == criterion and r["allocation"] == allocation
                and r["only_classes"] and r["sparsity"] == s["sparsity"] and not r["retrained"]
                and "ppl" in r["metrics"] and r["seed"] in dense):
            vals.setdefault(r["only_classes"][0], []).append(r["metrics"]["ppl"] - dense[r["seed"]])
    return {c: float(np.mean(v)) for c, v in vals.items()}


def fig_sensitivity(runs, out, s):
    groups = {label: sensitivity_changes(runs, s, crit, alloc)
              for label, crit, alloc in (("90% of the class (class-uniform)", "magnitude", "class_uniform"),
                                         ("global class-blind threshold", "magnitude", "class_blind"),
                                         ("class-distribution threshold", "magnitude", "class_distribution"),
                                         ("OBD, global threshold", "obd", "class_blind"))}
    fig, ax = plt.subplots(figsize=(9, 4))
    classes = sorted({c for g in groups.values() for c in g})
    w = 0.8 / len(groups)
    for i, (label, v) in enumerate(groups.items()):
        ax.bar(np.arange(len(classes)) + i * w, [v.get(c, 0.0) for c in classes], w, label=label)
    signed_log_axis(ax)
    ax.set_xticks(np.arange(len(classes)) + w * 1.5)
    ax.set_xticklabels(classes, rotation=45, ha="right", fontsize=8)
    ax.set_ylabel("perplexity change vs dense\n(per subword piece, symlog)")
    ax.legend(fontsize=7)
    ax.set_title(findings.sensitivity(groups["90% of the class (class-uniform)"], s["sparsity"]), fontsize=9)
    return save(fig, out, "fig4_sensitivity.png"), (
        f"Sensitivity: perplexity change when only one class is pruned at {s['sparsity']:.0%} (of the class, "
        "or the threshold the whole-model allocation would use), minus the dense perplexity of the same seed "
        "(symmetric log scale: below 0 the pruned model is better). Perplexity is per target subword piece.")


def max_pruned_points(runs, s) -> dict[str, dict[float, tuple[float, float]]]:
    """Class -> share pruned -> (largest |w| removed, perplexity change vs dense), pruning one class
    alone by class-uniform magnitude at each of ``s["sparsities"]`` (seed 0)."""
    dense = dense_by_seed(runs, "ppl")
    points: dict[str, dict[float, tuple[float, float]]] = {}
    for r in runs:
        if (r["kind"] == "prune" and r["allocation"] == "class_uniform" and r["only_classes"]
                and r["sparsity"] in s["sparsities"] and r["seed"] == 0 and r["criterion"] == "magnitude"
                and 0 in dense):
            c = r["only_classes"][0]
            points.setdefault(c, {})[r["sparsity"]] = (r["metrics"]["classes"][c]["max_pruned_abs"],
                                                        r["metrics"]["ppl"] - dense[0])
    return points


def fig_max_pruned(runs, out, s):
    points = max_pruned_points(runs, s)
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for c, by_share in sorted(points.items()):
        pts = sorted(by_share.values())
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=c)
    signed_log_axis(ax)
    ax.set_xlabel("largest |w| removed")
    ax.set_ylabel("perplexity change vs dense\n(per subword piece, symlog)")
    ax.legend(fontsize=7)
    ax.set_title(findings.wrapped(findings.max_pruned(points, max(s["sparsities"])), 80), fontsize=9)
    return save(fig, out, "fig5_max_pruned.png"), (
        "Perplexity change against the largest weight magnitude removed, pruning one class at a time "
        f"(class-uniform magnitude at {s['sparsities']}; seed 0, minus seed 0's dense perplexity; symmetric log "
        "scale: below 0 the pruned model is better).")


def _empty_rows(found: list[tuple[str, dict]]) -> str:
    """The heatmaps' finding: per criterion, the share of the two matrices' rows (hidden units'
    gate rows) it empties completely (structure a dense kernel could drop)."""
    said = []
    for crit, masks in found:
        rows = np.concatenate([~masks[n].numpy().any(axis=1) for n in (ENC_MATRIX, DEC_MATRIX)])
        said.append(f"{LABELS[(crit, 'class_blind')]} {rows.mean():.0%}")
    return "gate rows left empty: " + ", ".join(said)


def fig_mask_heatmaps(runs, out, s, study: Path):
    found = []
    for crit in ("magnitude", "obd", "snip"):
        rs = select(runs, kind="prune", criterion=crit, allocation="class_blind", sparsity=s["sparsity"],
                    retrained=False, seed=0)
        p = study / "runs" / rs[0]["id"] / "pruned" / "model.masks.safetensors" if rs else None
        if p is not None and p.is_file():
            found.append((crit, load_masks(p)))
    if not found:
        return None
    fig, axes = plt.subplots(2, len(found), figsize=(4 * len(found), 6), squeeze=False)
    for j, (crit, masks) in enumerate(found):
        for i, name in enumerate((ENC_MATRIX, DEC_MATRIX)):
            ax = axes[i][j]
            ax.imshow(masks[name].float().numpy(), cmap="gray", aspect="auto", interpolation="nearest")
            ax.set_title(f"{LABELS[(crit, 'class_blind')]}\n{name}", fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle(f"At {s['sparsity']:.0%}: " + _empty_rows(found), fontsize=10)
    return save(fig, out, "fig6_mask_heatmaps.png"), (
        f"Masks at {s['sparsity']:.0%} (white = kept, black = pruned) of the first encoder and decoder LSTM "
        "recurrent matrices (rows: the i, f, g, o gate blocks) for class-blind magnitude, OBD and SNIP.")
