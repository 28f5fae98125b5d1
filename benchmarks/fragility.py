"""Why one cut breaks a model: per weight class, what a class-blind magnitude cut removes, how
spread the class's magnitudes are, and what validation perplexity the cut of that class alone
(and the cut of every class but it) leaves.

    python benchmarks/fragility.py ../runs/small-xeon [--sparsities 0.8 0.9] [--split val]

Writes benchmarks/results/fragility.json (one entry per dense run given, keyed by its path) and
prints a table per run. A class-blind cut removes every weight below one global |w| threshold,
so a class whose weights are small as a whole (a narrow magnitude spread around a small median)
loses most of itself. "alone" prunes only that class (at the share the global cut gives it);
"spared" prunes every class but it: the class whose sparing restores the most perplexity is the
one whose loss breaks the model.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
from pathlib import Path

import torch

from results_io import ROOT, provenance, relative, save_result, tune_process

from nmtprune.checkpoint.load import load_checkpoint
from nmtprune.decode.evaluate import eval_corpus
from nmtprune.decode.metrics import perplexity
from nmtprune.model.masks import apply_masks
from nmtprune.model.seq2seq import build_model
from nmtprune.prune.compute import compute_masks, prunable_classes
from nmtprune.prune.pruning import Pruning


def flat(model, classes: dict[str, list[str]]) -> dict[str, torch.Tensor]:
    """Every prunable weight per class, flattened: ``{class: (n,)}``."""
    params = dict(model.named_parameters())
    return {c: torch.cat([params[n].detach().flatten().float() for n in names]) for c, names in classes.items()}


def magnitudes(model, classes: dict[str, list[str]]) -> dict[str, torch.Tensor]:
    """Every prunable weight's |w| per class, flattened: ``{class: (n,)}``."""
    return {c: w.abs() for c, w in flat(model, classes).items()}


def spread(w: torch.Tensor) -> dict:
    """Median, 10th/90th percentiles and the 90/10 ratio of one class's |w| (a sample of at most 2^20)."""
    if w.numel() > 2 ** 20:
        w = w[torch.randperm(w.numel(), generator=torch.Generator().manual_seed(0))[:2 ** 20]]
    p10, p50, p90 = (float(torch.quantile(w, q)) for q in (0.1, 0.5, 0.9))
    return {"median_abs": round(p50, 5), "p10_abs": round(p10, 5), "p90_abs": round(p90, 5),
            "p90_over_p10": round(p90 / max(p10, 1e-12), 1)}


def from_init(ck, run: str, classes: dict[str, list[str]]) -> dict[str, dict] | None:
    """Per class, how far training moved the weights from where they started: the correlation of
    |w| with |w0| (near 1: the magnitude ranking is mostly the initial draw's) and the median
    |w - w0| over the median |w0|. The initial weights are rebuilt from the run's model config
    and train seed (as the study's rewind arm does); None where the run records no seed."""
    cfg_file = next((d / "config.json" for d in (Path(run), Path(run).parent) if (d / "config.json").is_file()), None)
    seed = json.loads(cfg_file.read_text()).get("train", {}).get("seed") if cfg_file else None
    if seed is None:
        return None
    start, now = flat(build_model(ck.model.cfg, seed=seed), classes), flat(ck.model, classes)
    out = {}
    for c in classes:
        w, w0 = now[c], start[c]
        corr = float(torch.corrcoef(torch.stack([w.abs(), w0.abs()]))[0, 1])
        moved = float((w - w0).abs().median() / w0.abs().median().clamp_min(1e-12))
        out[c] = {"corr_abs_w_w0": round(corr, 3), "median_move_over_median_w0": round(moved, 3)}
    return out


def cut_ppl(ck, corpus, masks, keep_classes: set[str], classes: dict[str, list[str]]) -> float:
    """Validation perplexity after applying ``masks`` to every class except ``keep_classes``."""
    state = {k: v.clone() for k, v in ck.model.state_dict().items()}
    spared = {n for c in keep_classes for n in classes[c]}
    apply_masks(ck.model, {n: m for n, m in masks.items() if n not in spared})
    ppl = perplexity(ck.model, corpus)
    ck.model.load_state_dict(state)
    return round(ppl, 2) if math.isfinite(ppl) else ppl


def analyse(run: str, sparsities: list[float], split: str) -> dict:
    ck = load_checkpoint(run)
    corpus = eval_corpus(ck, split, None)
    classes = prunable_classes(ck.model)
    mags = magnitudes(ck.model, classes)
    out = {"run": run, "split": split, "dense_ppl": round(perplexity(ck.model, corpus), 3),
           "spread": {c: spread(w) for c, w in mags.items()}, "from_init": from_init(ck, run, classes), "cuts": []}
    for s in sparsities:
        cut = {"sparsity": s}
        for alloc in ("class_blind", "class_uniform"):
            masks = compute_masks(ck.model, Pruning(s, allocation=alloc))
            cut[f"{alloc}_ppl"] = cut_ppl(ck, corpus, masks, set(), classes)
        masks = compute_masks(ck.model, Pruning(s))                     # class-blind, the seed's
        removed = {c: 1 - float(torch.cat([masks[n].flatten().float() for n in names]).mean())
                   for c, names in classes.items()}
        cut["threshold_abs"] = round(max(float(mags[c][~torch.cat([masks[n].flatten() for n in names])].max())
                                         for c, names in classes.items() if removed[c] > 0), 5)
        cut["classes"] = {c: {"params": mags[c].numel(), "removed": round(removed[c], 4),
                              "alone_ppl": cut_ppl(ck, corpus, masks, set(classes) - {c}, classes),
                              "spared_ppl": cut_ppl(ck, corpus, masks, {c}, classes)} for c in classes}
        out["cuts"].append(cut)
        print(f"{run} {s:.0%}: done", file=sys.stderr)
    return out


def table(entry: dict) -> str:
    lines = [f"{entry['run']} ({entry['split']} perplexity, dense {entry['dense_ppl']})"]
    init = entry.get("from_init") or {}
    for cut in entry["cuts"]:
        lines.append(f"  {cut['sparsity']:.0%} cut: class-blind ppl {cut['class_blind_ppl']}, class-uniform "
                     f"ppl {cut['class_uniform_ppl']}, global |w| threshold {cut['threshold_abs']}")
        lines.append(f"  {'class':<12}{'params':>9}{'removed':>9}{'median|w|':>11}{'p90/p10':>9}"
                     f"{'alone ppl':>11}{'spared ppl':>12}{'corr|w|,|w0|':>14}{'moved':>7}")
        for c, x in cut["classes"].items():
            sp = entry["spread"][c]
            lines.append(f"  {c:<12}{x['params']:>9}{x['removed']:>9.1%}{sp['median_abs']:>11.4f}"
                         f"{sp['p90_over_p10']:>9.1f}{x['alone_ppl']:>11}{x['spared_ppl']:>12}"
                         f"{init.get(c, {}).get('corr_abs_w_w0', '-'):>14}{init.get(c, {}).get('median_move_over_median_w0', '-'):>7}")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", help="dense run directories (or checkpoints)")
    ap.add_argument("--sparsities", type=float, nargs="+", default=[0.8, 0.9])
    ap.add_argument("--split", default="val", help="a validation split (never a test set: this informs choices)")
    a = ap.parse_args()
    tune_process()
    path = ROOT / "benchmarks" / "results" / "fragility.json"
    old = json.loads(path.read_text()) if path.is_file() else {}
    runs = dict(old.get("runs", {}))
    for run in a.runs:
        entry = analyse(run, a.sparsities, a.split)
        prov = provenance()
        runs[relative(str(Path(run).resolve()))] = relative({**entry, "commit": prov["commit"], "utc": prov["utc"]})
        print(table(entry))
    save_result("fragility", {"schema": "fragility", "runs": runs})


if __name__ == "__main__":
    main()
