"""The train command."""
from __future__ import annotations

import json

from .options import Names, command, key_values, number, train_args, train_overrides


@command("train", "train a model on a prepared directory")
def _train(sub):
    from ..model.init import INIT_SCHEMES
    from ..training.presets import PRESETS
    sub.add_argument("prep", help="prepared directory")
    sub.add_argument("--preset", default="small", choices=Names("preset", PRESETS),
                     help="model and training settings")
    sub.add_argument("--model", action="append", metavar="KEY=VALUE",
                     help="model setting, e.g. --model attention=dot (repeatable)")
    sub.add_argument("--init", choices=Names("init", INIT_SCHEMES),
                     help="initialisation scheme (default: the preset's)")
    sub.add_argument("--mask", help="mask file: sparse training from scratch with this fixed mask")
    sub.add_argument("--snip-sparsity", type=number(float), help="SNIP-prune at init to this sparsity")
    sub.add_argument("--snip-batches", type=number(int), default=1, help="SNIP: scoring batches")
    sub.add_argument("--snip-batch-size", type=number(int), default=64, help="SNIP: sentences per batch")
    sub.add_argument("--prune-to", type=number(float),
                     help="prune gradually to this sparsity while training (train.prune_* settings)")
    train_args(sub)

    def run(a):
        from ..api import train
        snip = None
        if a.snip_sparsity is not None:
            snip = {"sparsity": a.snip_sparsity, "batches": a.snip_batches, "batch_size": a.snip_batch_size}
        summary = train(a.prep, a.out, a.preset, key_values(a.model, "--model"), train_overrides(a), a.resume,
                        a.device, a.mask, a.init, snip, progress=not a.quiet, prune_to=a.prune_to)
        print(json.dumps(summary))
    return run
