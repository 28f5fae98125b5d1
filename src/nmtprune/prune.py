"""Pruning: criterion x allocation -> masks, applied to a checkpoint; inspection.

``compute_masks`` is the core (any criterion from :data:`saliency.CRITERIA`
with any policy from :data:`allocation.ALLOCATIONS`); ``prune`` loads a
checkpoint, prunes it and writes a pruned checkpoint directory.
"""
from __future__ import annotations

import math
import time
from pathlib import Path

import torch

from .allocation import ALLOCATIONS, allocation_name
from .checkpoint import MODEL_FILE, Checkpoint, copy_tokenizers, load_checkpoint, masks_path, save_checkpoint
from .data import Corpus, Prepared
from .errors import NmtpruneError, choose
from .fileio import ensure_writable_dir, write_json
from .masks import Masks, apply_masks, save_masks
from .model import Seq2Seq, weight_classes
from .saliency import CRITERIA, NEEDS_DATA, ScoringData


def check_sparsity(sparsity) -> float:
    try:
        x = float(sparsity)
    except (TypeError, ValueError):
        raise NmtpruneError(f"--sparsity must be a number in [0, 1), got {sparsity!r}") from None
    if not 0.0 <= x < 1.0 or math.isnan(x):
        raise NmtpruneError(f"--sparsity must be in [0, 1) (the fraction removed), got {sparsity}")
    return x


def prunable_classes(model: Seq2Seq, include_biases: bool = False) -> dict[str, list[str]]:
    """Weight classes restricted to prunable parameters (matrices; biases only if asked)."""
    params = dict(model.named_parameters())
    out = {}
    for cls, names in weight_classes(model).items():
        keep = [n for n in names if include_biases or params[n].dim() >= 2]
        if keep:
            out[cls] = keep
    return out


def compute_masks(model: Seq2Seq, criterion: str, allocation: str, sparsity: float,
                  data: ScoringData | None = None, include_biases: bool = False,
                  only_classes: list[str] | None = None) -> Masks:
    """Masks for every prunable parameter (True = keep).

    Args:
        only_classes: prune only these classes: the allocation runs over all
            classes (so class-blind keeps its global threshold) and the masks of
            every other class are reset to keep everything. With
            ``class_uniform`` this prunes ``sparsity`` of each listed class.
    """
    choose("criterion", criterion, CRITERIA)
    allocation = allocation_name(allocation)
    sparsity = check_sparsity(sparsity)
    data = data or ScoringData()
    if criterion in NEEDS_DATA and data.corpus is None:
        raise NmtpruneError(f"criterion {criterion!r} needs data: the checkpoint records no prepared "
                            "training data; pass --data PREPDIR")
    classes = prunable_classes(model, include_biases)
    if only_classes:
        for c in only_classes:
            choose("weight class", c, classes)
    names = [n for ns in classes.values() for n in ns]
    scores = CRITERIA[criterion](model, names, data)
    masks = ALLOCATIONS[allocation](scores, classes, sparsity)
    if only_classes:
        for cls, ns in classes.items():
            if cls not in only_classes:
                for n in ns:
                    masks[n] = torch.ones_like(masks[n])
    return masks


def mask_stats(model: Seq2Seq, masks: Masks | None, include_biases: bool = False,
               pre_weights: dict[str, torch.Tensor] | None = None) -> dict:
    """Per class and total: prunable weights, pruned count, sparsity, largest |w| removed, bytes.

    Without masks, exactly-zero weights count as pruned. ``max_pruned_abs`` needs
    the weights from before pruning (``pre_weights``); else it is None.
    """
    params = dict(model.named_parameters())
    classes = prunable_classes(model, include_biases or bool(masks and any(
        params[n].dim() < 2 for n in masks)))
    out, tot_p, tot_z, tot_b = {}, 0, 0, 0
    for cls, names in classes.items():
        n_p = n_z = n_b = 0
        mx = None
        for n in names:
            p = params[n].detach()
            pruned = ~masks[n] if masks is not None and n in masks else (p == 0)
            n_p += p.numel()
            n_z += int(pruned.sum())
            n_b += p.numel() * p.element_size()
            if pre_weights is not None and bool(pruned.any()):
                m = float(pre_weights[n][pruned.to(pre_weights[n].device)].abs().max())
                mx = m if mx is None else max(mx, m)
        out[cls] = {"params": n_p, "pruned": n_z, "sparsity": n_z / n_p if n_p else 0.0,
                    "max_pruned_abs": mx, "bytes": n_b}
        tot_p, tot_z, tot_b = tot_p + n_p, tot_z + n_z, tot_b + n_b
    return {"params": tot_p, "pruned": tot_z, "sparsity": tot_z / tot_p if tot_p else 0.0,
            "bytes": tot_b, "classes": out}


def scoring_data(ck: Checkpoint, data: str | None, batches: int, batch_size: int, hessian: str,
                 seed: int, device) -> ScoringData:
    """Training data for data-driven criteria: ``data`` or the checkpoint's prepared directory."""
    corpus: Corpus | None = None
    prep = data or ck.prep
    if prep:
        p = Prepared(prep)
        corpus = p.load(p.cfg.train_split)
    return ScoringData(corpus, batches, batch_size, hessian, seed, device)


def prune(ckpt, criterion: str, allocation: str, sparsity: float, out, batches: int = 1,
          batch_size: int = 64, hessian: str = "fisher", seed: int = 0, include_biases: bool = False,
          data: str | None = None, only_classes: list[str] | None = None, device: str = "cpu") -> dict:
    """Prune a checkpoint and write ``out/model.safetensors`` + its mask; returns the stats."""
    from .api import resolve_device
    sparsity = check_sparsity(sparsity)
    choose("criterion", criterion, CRITERIA)
    allocation = allocation_name(allocation)
    dev = resolve_device(device)
    ck = load_checkpoint(ckpt, dev)
    sd = scoring_data(ck, data, batches, batch_size, hessian, seed, dev) \
        if criterion in NEEDS_DATA else ScoringData(seed=seed, device=dev)
    if criterion in NEEDS_DATA and sd.corpus is None:
        raise NmtpruneError(f"criterion {criterion!r} needs training data: {ck.path} records none; "
                            "pass --data PREPDIR")
    out = ensure_writable_dir(out)
    t0 = time.time()
    masks = compute_masks(ck.model, criterion, allocation, sparsity, sd, include_biases, only_classes)
    seconds = time.time() - t0
    if ck.masks is not None:   # pruning a pruned model: what was removed stays removed
        masks = {n: m & ck.masks[n] if n in ck.masks else m for n, m in masks.items()}
    pre = {n: p.detach().clone() for n, p in ck.model.named_parameters() if n in masks}
    apply_masks(ck.model, masks)
    stats = mask_stats(ck.model, masks, include_biases, pre)
    settings = {"criterion": criterion, "allocation": allocation, "sparsity": sparsity, "batches": batches,
                "batch_size": batch_size, "hessian": hessian, "seed": seed, "include_biases": include_biases,
                "only_classes": only_classes, "source": str(ck.path), "seconds": round(seconds, 3)}
    tokenizers = copy_tokenizers(ck.tokenizer_files, out)
    info = {**{k: v for k, v in ck.info.items() if k in ("src_lang", "tgt_lang", "preset")},
            "prune": settings, "max_pruned_abs": {c: s["max_pruned_abs"] for c, s in stats["classes"].items()}}
    save_masks(masks_path(out / MODEL_FILE), masks)
    save_checkpoint(out / MODEL_FILE, ck.model, tokenizers, ck.prep, info)
    write_json(out / "prune.json", {"settings": settings, "stats": stats})
    return {"settings": settings, **stats}


def snip_masks(model: Seq2Seq, corpus: Corpus, snip: dict, device) -> Masks:
    """SNIP at initialisation (Lee et al.): one-shot class-blind masks from |g * w|."""
    data = ScoringData(corpus, int(snip.get("batches", 1)), int(snip.get("batch_size", 64)),
                       seed=int(snip.get("seed", 0)), device=device)
    model.to(device)
    return compute_masks(model, "snip", snip.get("allocation", "class_blind"), snip["sparsity"], data)


def inspect(ckpt, device: str = "cpu", sizes: bool = True) -> dict:
    """Sparsity per weight class of a checkpoint (its mask, else its exact zeros), and
    its dense vs exported (.nmtz, fp32 values) size per class and in total."""
    from .export import export_sizes
    ck = load_checkpoint(ckpt, device)
    stats = mask_stats(ck.model, ck.masks)
    mx = ck.info.get("max_pruned_abs", {})
    for cls, s in stats["classes"].items():
        s["max_pruned_abs"] = mx.get(cls)
    if sizes:
        es = export_sizes(ck.model, ck.masks)
        for cls, s in stats["classes"].items():
            s.update(dense_bytes=es[cls]["dense_bytes"], export_bytes=es[cls]["export_bytes"],
                     export_ratio=es[cls]["export_bytes"] / es[cls]["dense_bytes"])
        stats["dense_bytes"] = sum(c["dense_bytes"] for c in es.values())
        stats["export_bytes"] = sum(c["export_bytes"] for c in es.values())
        stats["export_ratio"] = stats["export_bytes"] / stats["dense_bytes"]
    stats["checkpoint"] = str(ck.path)
    stats["has_mask"] = ck.masks is not None
    if "prune" in ck.info:
        stats["prune"] = ck.info["prune"]
    return stats
