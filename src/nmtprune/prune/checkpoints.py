"""Pruning and inspecting checkpoint files.

``prune`` loads a checkpoint, computes masks (:func:`compute.compute_masks`),
zeroes the pruned weights and writes a pruned checkpoint directory: a plain
state dict plus ``model.masks.safetensors``. ``inspect`` reports what a
checkpoint's mask (or its exact zeros) removes per class, and its sizes.
"""
from __future__ import annotations

import logging
import time

from ..checkpoint.export import export_sizes
from ..checkpoint.load import load_checkpoint
from ..checkpoint.model_file import MODEL_FILE, Checkpoint, copy_tokenizers, masks_path, save_checkpoint
from ..data.corpus import Corpus
from ..data.prepared import Prepared
from ..errors import NmtpruneError, choose
from ..fileio import ensure_writable_dir, log_file, write_json
from ..model.masks import apply_masks, save_masks
from ..runtime import resolve_device
from .allocation import allocation_name
from .compute import check_sparsity, compute_masks
from .saliency import CRITERIA, NEEDS_DATA, ScoringData
from .stats import mask_stats

logger = logging.getLogger(__name__)
LOG_FILE = "prune.log"


def scoring_data(ck: Checkpoint, data: str | None, batches: int, batch_size: int, hessian: str,
                 seed: int, device, progress: bool = False, cache: str | None = None) -> ScoringData:
    """Training data for data-driven criteria: ``data`` or the checkpoint's prepared directory."""
    corpus: Corpus | None = None
    prep = ck.prepared_dir(data, "--data") if data or ck.prep else None
    if prep:
        p = Prepared(prep)
        corpus = p.load(p.cfg.train_split)
    return ScoringData(corpus, batches, batch_size, hessian, seed, device, progress=progress, cache=cache)


def prune(ckpt, criterion: str, allocation: str, sparsity: float, out, batches: int = 1,
          batch_size: int = 64, hessian: str = "fisher", seed: int = 0, include_biases: bool = False,
          data: str | None = None, only_classes: list[str] | None = None, device: str = "cpu",
          progress: bool = False, score_cache: str | None = None) -> dict:
    """Prune a checkpoint and write ``out/model.safetensors``, its mask, ``prune.json`` and
    ``prune.log``; returns the stats.

    ``progress``: a bar (on stderr) over the scoring batches of obd and snip.
    ``score_cache``: a directory keeping OBD/SNIP scores between calls (see ``score_cache``).
    """
    sparsity = check_sparsity(sparsity)
    choose("criterion", criterion, CRITERIA)
    allocation = allocation_name(allocation)
    dev = resolve_device(device)
    ck = load_checkpoint(ckpt, dev)
    sd = scoring_data(ck, data, batches, batch_size, hessian, seed, dev, progress, score_cache) \
        if criterion in NEEDS_DATA else ScoringData(seed=seed, device=dev)
    if criterion in NEEDS_DATA and sd.corpus is None:
        raise NmtpruneError(f"criterion {criterion!r} needs training data: {ck.path} records none; "
                            "pass --data PREPDIR")
    dest, out = out, ensure_writable_dir(out)
    with log_file(out / LOG_FILE, __package__):
        t0 = time.time()
        diag: dict = {}
        masks = compute_masks(ck.model, criterion, allocation, sparsity, sd, include_biases, only_classes,
                              start=ck.masks, diagnostics=diag)
        seconds = time.time() - t0
        if ck.masks is not None:   # pruning a pruned model: what was removed stays removed
            masks = {n: m & ck.masks[n] if n in ck.masks else m for n, m in masks.items()}
        pre = {n: p.detach().clone() for n, p in ck.model.named_parameters() if n in masks}
        apply_masks(ck.model, masks)
        stats = mask_stats(ck.model, masks, include_biases, pre)
        for cls, share in diag["zero_score_share"].items():
            stats["classes"][cls]["zero_score_share"] = share
        if "vocab_coverage" in diag:         # obd/snip: the vocabulary rows the scoring sentences reach
            stats["vocab_coverage"] = diag["vocab_coverage"]
        settings = {"criterion": criterion, "allocation": allocation, "sparsity": sparsity, "batches": batches,
                    "batch_size": batch_size, "hessian": hessian, "seed": seed, "include_biases": include_biases,
                    "only_classes": only_classes, "source": str(ck.path), "seconds": round(seconds, 3)}
        tokenizers = copy_tokenizers(ck.tokenizer_files, out)
        info = {**{k: v for k, v in ck.info.items() if k in ("src_lang", "tgt_lang", "preset")},
                "prune": settings, "max_pruned_abs": {c: s["max_pruned_abs"] for c, s in stats["classes"].items()},
                "zero_score_share": diag["zero_score_share"],
                **({"vocab_coverage": stats["vocab_coverage"]} if "vocab_coverage" in stats else {})}
        save_masks(masks_path(out / MODEL_FILE), masks)
        save_checkpoint(out / MODEL_FILE, ck.model, tokenizers, ck.prep, info)
        write_json(out / "prune.json", {"settings": settings, "stats": stats})
        logger.info(f"pruned {stats['pruned']} of {stats['params']} weights ({stats['sparsity']:.2%}) -> {dest}")
    return {"settings": settings, **stats}


def inspect(ckpt, device: str = "cpu", sizes: bool = True) -> dict:
    """Sparsity per weight class of a checkpoint (its mask, else its exact zeros), and
    its dense vs exported (.nmtz, fp32 values) size per class and in total."""
    ck = load_checkpoint(ckpt, device)
    stats = mask_stats(ck.model, ck.masks)
    mx, zero = ck.info.get("max_pruned_abs", {}), ck.info.get("zero_score_share", {})
    for cls, s in stats["classes"].items():
        s["max_pruned_abs"] = mx.get(cls)
        s["zero_score_share"] = zero.get(cls)          # of the scores the last prune used; None if unknown
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
    if "vocab_coverage" in ck.info:
        stats["vocab_coverage"] = ck.info["vocab_coverage"]
    return stats
