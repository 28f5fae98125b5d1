"""The train command."""
from __future__ import annotations

import json

from ..errors import NmtpruneError
from .options import (CONFIG_HELP, Names, command, key_values, number, show_progress, sparsity, train_args,
                      train_overrides)


def train_settings(a) -> dict:
    """:func:`nmtprune.api.train`'s settings: the ``--config`` file's, overridden by the options given."""
    from ..training.rundir import read_run_config
    f = read_run_config(a.config, "train") if a.config else {}
    snip = f.get("snip")
    if a.snip_sparsity is not None:
        snip = {"sparsity": a.snip_sparsity, "batches": a.snip_batches, "batch_size": a.snip_batch_size}
    prep = a.prep or f.get("prep")
    if not prep:
        raise NmtpruneError("train: give the prepared directory (PREP), or a --config that names it (prep)")
    return {"prep_dir": prep, "out": a.out, "preset": a.preset or f.get("preset") or "small",
            "model_overrides": {**(f.get("model") or {}), **key_values(a.model, "--model")},
            "train_overrides": {**(f.get("train") or {}), **train_overrides(a)},
            "mask": a.mask or f.get("mask"), "init": a.init, "snip": snip, "prune_to": a.prune_to}


@command("train", "train a model on a prepared directory")
def _train(sub):
    from ..model.init import INIT_SCHEMES
    from ..training.presets import PRESETS
    from ..training.rundir import RUN_KEYS
    sub.add_argument("prep", nargs="?", help="prepared directory (default: the --config file's prep)")
    sub.add_argument("--config", metavar="FILE", help=CONFIG_HELP.format(keys=", ".join(RUN_KEYS["train"])))
    sub.add_argument("--preset", choices=Names("preset", PRESETS),
                     help="model and training settings (default: the --config file's, else small)")
    sub.add_argument("--model", action="append", metavar="KEY=VALUE",
                     help="model setting, e.g. --model attention=dot (repeatable)")
    sub.add_argument("--init", choices=Names("init", INIT_SCHEMES),
                     help="initialisation scheme (default: the preset's)")
    sub.add_argument("--mask", help="mask file: sparse training from scratch with this fixed mask")
    sub.add_argument("--snip-sparsity", type=sparsity("--snip-sparsity"), help="SNIP-prune at init to this sparsity")
    sub.add_argument("--snip-batches", type=number(int), default=1, help="SNIP: scoring batches")
    sub.add_argument("--snip-batch-size", type=number(int), default=64, help="SNIP: sentences per batch")
    sub.add_argument("--prune-to", type=sparsity("--prune-to", above_zero=True),
                     help="prune gradually to this sparsity while training (train.prune_* settings)")
    train_args(sub)

    def run(a):
        from ..api import train
        summary = train(**train_settings(a), resume=a.resume, device=a.device, progress=show_progress(a),
                        tensorboard=a.tensorboard)
        print(json.dumps(summary))
    return run
