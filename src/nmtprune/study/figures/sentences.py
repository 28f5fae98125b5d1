"""Per sentence: sentence-BLEU distributions and attention alignments."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from . import findings
from .common import LABELS, plt, save, select

ATTENTION_FILE = "attention.json"      # written by the study runner (nmtprune.study.attention)


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
    ax.set_title(findings.wrapped(f"At {s['sparsity']:.0%} without retraining, "
                                  + findings.sentence_bleu(labels, [float(np.median(d)) for d in data])), fontsize=9)
    return save(fig, out, "fig7_sentence_bleu.png"), (
        f"Sentence-level BLEU (median, quartiles, whiskers at 1.5 IQR) per method at {s['sparsity']:.0%} without "
        f"retraining. Medians: {meds}.")


def fig_attention(runs, out, s, study: Path):
    """Alignments stored by :func:`nmtprune.study.attention.collect_attention` (no model is loaded here)."""
    f = study / ATTENTION_FILE
    data = json.loads(f.read_text(encoding="utf-8")) if f.is_file() else None
    if not data or data["settings"] != {"sparsity": s["sparsity"], "sentence": s["sentence"]}:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(11, 5))
    for ax, m in zip(axes, data["models"]):
        ax.imshow(np.asarray(m["align"], dtype=np.float32), cmap="viridis", aspect="auto")
        ax.set_xticks(range(len(m["src"])))
        ax.set_xticklabels(m["src"], rotation=90, fontsize=7)
        ax.set_yticks(range(len(m["hyp"])))
        ax.set_yticklabels(m["hyp"], fontsize=7)
        ax.set_title(m["label"], fontsize=9)
    fig.suptitle(f"Where the dense and the {s['sparsity']:.0%} pruned + retrained model attend "
                 f"(sentence {s['sentence']}, each model's own translation)", fontsize=10)
    return save(fig, out, "fig11_attention.png"), (
        f"Attention alignments for sentence {s['sentence']} of `{data.get('split', 'test_2016_flickr')}` "
        "(each model's own greedy translation): dense vs "
        f"{s['sparsity']:.0%} class-blind pruned and retrained.")
