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
from ..errors import NmtpruneError
from ..fileio import ensure_writable_dir, log_file, write_json
from ..model.masks import apply_masks, save_masks
from ..model.units import removed_unit_keep
from ..runtime import resolve_device
from .compute import compute_masks
from .pruning import Pruning
from .saliency import ScoringData
from .units import unit_counts, unit_sparsity
from .stats import mask_stats

logger = logging.getLogger(__name__)
LOG_FILE = "prune.log"


def scoring_data(ck: Checkpoint, pruning: Pruning, *, data: str | None = None, device="cpu",
                 progress: bool = False, cache: str | None = None) -> ScoringData:
    """``pruning``'s scoring batches over ``data`` or the checkpoint's prepared training split."""
    corpus: Corpus | None = None
    prep = ck.prepared_dir(data=data, option="--data") if data or ck.prep else None
    if prep:
        p = Prepared(prep)
        corpus = p.load(p.cfg.train_split)
    return pruning.scoring_data(corpus, device, progress=progress, cache=cache)


def prune(ckpt, pruning: Pruning, out, *, data: str | None = None, device: str = "cpu",
          progress: bool = False, score_cache: str | None = None) -> dict:
    """Prune a checkpoint and write ``out/model.safetensors``, its mask, ``prune.json`` and
    ``prune.log``; returns the stats.

    Args:
        pruning: what to prune (validated when it was built).
        data: a prepared directory for OBD/SNIP scoring (default: the checkpoint's).
        progress: a bar (on stderr) over the scoring batches of obd and snip.
        score_cache: a directory keeping OBD/SNIP scores between calls (see ``score_cache``).

    Example:
        >>> prune("runs/small", Pruning(0.8), "runs/cb80")["sparsity"]      # doctest: +SKIP
        0.8
    """
    dev = resolve_device(device)
    ck = load_checkpoint(ckpt, device=dev)
    sd = scoring_data(ck, pruning, data=data, device=dev, progress=progress, cache=score_cache) \
        if pruning.needs_data else pruning.scoring_data(None, dev)
    if pruning.needs_data and sd.corpus is None:
        raise NmtpruneError(f"criterion {pruning.criterion!r} needs training data: {ck.path} records none; "
                            "pass --data PREPDIR")
    dest, out = out, ensure_writable_dir(out)
    with log_file(out / LOG_FILE, logger=__package__):
        t0 = time.time()
        diag: dict = {}
        masks = compute_masks(ck.model, pruning, data=sd, start=ck.masks, diagnostics=diag)
        seconds = time.time() - t0
        pre = {n: p.detach().clone() for n, p in ck.model.named_parameters() if n in masks}
        apply_masks(ck.model, masks)
        stats = mask_stats(ck.model, masks, include_biases=pruning.include_biases, pre_weights=pre)
        for cls, share in diag["zero_score_share"].items():
            stats["classes"][cls]["zero_score_share"] = share
        stats.update(removed_units(ck.model, masks))
        if "vocab_coverage" in diag:         # obd/snip: the vocabulary rows the scoring sentences reach
            stats["vocab_coverage"] = diag["vocab_coverage"]
        settings = {**pruning.settings(), "source": str(ck.path), "seconds": round(seconds, 3)}
        tokenizers = copy_tokenizers(ck.tokenizer_files, out)
        info = {**{k: v for k, v in ck.info.items() if k in ("src_lang", "tgt_lang", "preset")},
                "prune": settings, "max_pruned_abs": {c: s["max_pruned_abs"] for c, s in stats["classes"].items()},
                "zero_score_share": diag["zero_score_share"],
                **({"vocab_coverage": stats["vocab_coverage"]} if "vocab_coverage" in stats else {})}
        save_masks(masks_path(out / MODEL_FILE), masks)
        save_checkpoint(out / MODEL_FILE, ck.model, tokenizers, ck.prep, info=info)
        write_json(out / "prune.json", {"settings": settings, "stats": stats})
        logger.info(f"pruned {stats['pruned']} of {stats['params']} weights ({stats['sparsity']:.2%}) -> {dest}")
    return {"settings": settings, **stats}


def removed_units(model, masks) -> dict:
    """``{"units": per family {units, kept}, "unit_sparsity"}`` when ``masks`` remove whole hidden
    units (unit pruning, also under a weight pruning on top); else empty."""
    kept = removed_unit_keep(model, masks)
    return {} if kept is None else {"units": unit_counts(kept), "unit_sparsity": unit_sparsity(kept)}


def inspect(ckpt, *, device: str = "cpu", sizes: bool = True) -> dict:
    """Sparsity per weight class of a checkpoint (its mask, else its exact zeros), and
    its dense vs exported (.nmtz, fp32 values) size per class and in total."""
    ck = load_checkpoint(ckpt, device=device)
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
    stats.update(removed_units(ck.model, ck.masks))
    if "prune" in ck.info:
        stats["prune"] = ck.info["prune"]
    if "vocab_coverage" in ck.info:
        stats["vocab_coverage"] = ck.info["vocab_coverage"]
    return stats
