"""Study figures 6-11: masks, sentence BLEU, extreme sparsity, SNIP, attention."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .figures import LABELS, _plot, _save, curve, dense_value, plt, select

ENC_MATRIX, DEC_MATRIX = "encoder.lstm.weight_hh_l0", "decoder.layers.0.weight_hh"


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
    _bars(ax, labels, [dense] + [r[1] for r in rows], [0.0] + [r[2] for r in rows], "BLEU")
    nums = "; ".join(f"{l}: BLEU {b:.2f}, ppl {p:.2f}" for l, b, _, p in rows)
    return _save(fig, out, "fig0_headline.png"), (
        f"Headline: class-blind magnitude pruning of the dense baseline (BLEU {dense:.2f}, ppl "
        f"{dense_value(runs, 'ppl'):.2f}), without and with retraining. {nums}.")


def fig_mask_heatmaps(runs, out, s, study: Path):
    from .masks import load_masks
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
    return _save(fig, out, "fig6_mask_heatmaps.png"), (
        f"Masks at {s['sparsity']:.0%} (white = kept, black = pruned) of the first encoder and decoder LSTM "
        "recurrent matrices (rows: the i, f, g, o gate blocks) for class-blind magnitude, OBD and SNIP.")


def fig_sentence_bleu(runs, out, s, study: Path):
    data, labels = [], []
    dense = [r for r in runs if r["kind"] == "dense" and r["seed"] == 0]
    items = [("dense", dense)] + [(LABELS[k], select(runs, kind="prune", criterion=k[0], allocation=k[1],
                                                     sparsity=s["sparsity"], retrained=False, seed=0))
                                  for k in LABELS]
    for label, rs in items:
        if rs:
            base = study / "baseline-seed0" if label == "dense" else study / "runs" / rs[0]["id"] / "pruned"
            f = base / "sentence_bleu.json"
            if f.is_file():
                data.append(json.loads(f.read_text()))
                labels.append(label)
    if not data:
        return None
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.boxplot(data, showfliers=False)
    ax.set_xticks(range(1, len(labels) + 1))
    ax.set_xticklabels(labels, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("sentence BLEU")
    meds = ", ".join(f"{l}: {np.median(d):.1f}" for l, d in zip(labels, data))
    return _save(fig, out, "fig7_sentence_bleu.png"), (
        f"Sentence-level BLEU (median, quartiles, whiskers at 1.5 IQR) per method at {s['sparsity']:.0%} without "
        f"retraining. Medians: {meds}.")


def fig_extreme(runs, out, s):
    fig, ax = plt.subplots(figsize=(7, 4))
    for crit in ("magnitude", "random", "obd", "snip"):
        for rt, ls in ((False, "--"), (True, "-")):
            x, y, sd = curve(runs, "bleu", kind="prune", criterion=crit, allocation="class_blind", retrained=rt)
            keep = x >= min(s["sparsities"] + s["retrain_sparsities"]) - 1e-9
            _plot(ax, x[keep], y[keep], sd[keep], f"{LABELS[(crit, 'class_blind')]}"
                  f"{' + retrain' if rt else ''}", ls=ls)
    ax.set_xlabel("sparsity (%)")
    ax.set_ylabel("BLEU")
    ax.legend(fontsize=7)
    return _save(fig, out, "fig8_extreme.png"), (
        f"Extreme sparsity ({s['sparsities']}): BLEU with (solid) and without (dashed) retraining for "
        "class-blind magnitude, random, OBD and SNIP.")


def _bars(ax, labels, means, stds, ylabel):
    ax.bar(range(len(labels)), means, yerr=stds if any(stds) else None, capsize=3)
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel(ylabel)


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
    _bars(ax, labels, means, stds, "BLEU")
    return _save(fig, out, "fig9_snip_init.png"), (
        f"SNIP training at {s['sparsity']:.0%}: masks scored at initialisation ({s['batches']} batch) under each "
        "initialisation scheme, then trained with the mask fixed.")


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
    return _save(fig, out, "fig10_snip_batches.png"), (
        f"SNIP training at {s['sparsity']:.0%} ({s['init']} init): BLEU against the number of batches used to "
        "score the connections.")


def fig_attention(runs, out, s, study: Path):
    import torch
    from .checkpoint import load_checkpoint
    from .data import Prepared
    from .search import greedy_search
    from .batching import pad_sources, Batch
    from .vocab import BOS, EOS
    rs = select(runs, kind="prune", criterion="magnitude", allocation="class_blind", sparsity=s["sparsity"],
                retrained=True, seed=0)
    if not rs or not (study / "runs" / rs[0]["id"] / "retrained").is_dir():
        return None
    models = [("dense", study / "baseline-seed0"),
              (f"{s['sparsity']:.0%} pruned + retrained", study / "runs" / rs[0]["id"] / "retrained")]
    prep = Prepared(study / "prep")
    split = prep.load("test_2016_flickr" if "test_2016_flickr" in prep.splits else prep.cfg.valid_split)
    src_ids = split.src[s["sentence"]].tolist()
    src, lens = pad_sources([src_ids])
    fig, axes = plt.subplots(1, 2, figsize=(11, 5))
    for ax, (label, path) in zip(axes, models):
        ck = load_checkpoint(path)
        hyp = greedy_search(ck.model, src, lens)[0]
        tgt = torch.tensor([hyp + [EOS]])
        tin = torch.cat([torch.tensor([[BOS]]), tgt[:, :-1]], 1)
        with torch.no_grad():
            _, align = ck.model(Batch(src, lens, tin, tgt, torch.zeros(1)), return_align=True)
        ax.imshow(align[0].numpy(), cmap="viridis", aspect="auto")
        ax.set_xticks(range(len(src_ids)))
        ax.set_xticklabels([ck.src_tok.decode([i]) or "·" for i in src_ids], rotation=90, fontsize=7)
        ax.set_yticks(range(len(hyp) + 1))
        ax.set_yticklabels([ck.tgt_tok.decode([i]) or "·" for i in hyp] + ["</s>"], fontsize=7)
        ax.set_title(label, fontsize=9)
    return _save(fig, out, "fig11_attention.png"), (
        f"Attention alignments for test sentence {s['sentence']} (each model's own greedy translation): dense vs "
        f"{s['sparsity']:.0%} class-blind pruned and retrained.")
