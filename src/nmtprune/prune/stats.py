"""Counting what a mask removes: per weight class and in total."""
from __future__ import annotations

import torch

from ..model.masks import Masks
from ..model.seq2seq import Seq2Seq
from .compute import prunable_classes


def mask_stats(model: Seq2Seq, masks: Masks | None, *, include_biases: bool = False,
               pre_weights: dict[str, torch.Tensor] | None = None) -> dict:
    """Per class and total: prunable weights, pruned count, sparsity, largest |w| removed, bytes.

    Without masks, exactly-zero weights count as pruned. ``max_pruned_abs`` needs
    the weights from before pruning (``pre_weights``); else it is None.
    """
    params = dict(model.named_parameters())
    classes = prunable_classes(model, include_biases=include_biases or bool(masks and any(
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
