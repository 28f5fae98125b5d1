"""Commands of the pruning workflow: prune, retrain (mask fixed), inspect."""
from __future__ import annotations

import json

from ..errors import NmtpruneError
from .options import (CONFIG_HELP, Names, command, number, quiet, show_progress, sparsity, train_args,
                      train_overrides)


def granularity(sub, *, default: str | None = "weight") -> None:
    """--granularity: single weights, or whole hidden units (and embedding dimensions)."""
    from ..prune.pruning import GRANULARITIES
    sub.add_argument("--granularity", default=default, choices=Names("granularity", GRANULARITIES),
                     help="what is removed: single weights, or whole LSTM hidden units and embedding dimensions "
                          "(then --sparsity is the share of units; export writes the smaller dense model)")


def _method(sub) -> None:
    """--criterion, --allocation and --granularity (prune, iterate)."""
    from ..prune.allocation import ALLOCATIONS
    from ..prune.saliency import CRITERIA
    sub.add_argument("--criterion", default="magnitude", choices=Names("criterion", CRITERIA),
                     help="what scores a weight (obd, snip: on training batches)")
    sub.add_argument("--allocation", default="class-blind", choices=Names("allocation", ALLOCATIONS, dashes=True),
                     help="how the pruned share is spread over weight classes")
    granularity(sub)


@command("prune", "prune a checkpoint: --criterion x --allocation at --sparsity")
def _prune(sub):
    from ..prune.saliency import HESSIANS
    sub.add_argument("checkpoint", help="checkpoint, its run directory, or an .nmtz file")
    _method(sub)
    sub.add_argument("--sparsity", required=True, type=sparsity("--sparsity"),
                     help="fraction of weights removed, in [0, 1)")
    sub.add_argument("--out", required=True, help="directory for the pruned checkpoint")
    sub.add_argument("--batches", type=number(int), default=1, help="obd/snip: scoring batches")
    sub.add_argument("--batch-size", type=number(int), default=64, help="obd/snip: sentences per batch")
    sub.add_argument("--hessian", default="fisher", choices=Names("hessian", HESSIANS),
                     help="obd: the Hessian diagonal's estimate")
    sub.add_argument("--seed", type=number(int), default=0, help="seed of random scores and of the scoring sentences")
    sub.add_argument("--include-biases", action="store_true", help="prune biases too")
    classes(sub)
    sub.add_argument("--data", help="prepared directory for obd/snip (default: the checkpoint's)")
    sub.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N | auto")
    quiet(sub)

    def run(a):
        from ..prune import Pruning, prune
        only = class_list(a.classes)
        pruning = Pruning(a.sparsity, criterion=a.criterion, allocation=a.allocation, batches=a.batches,
                          batch_size=a.batch_size, hessian=a.hessian, seed=a.seed, include_biases=a.include_biases,
                          only_classes=only, granularity=a.granularity)
        r = prune(a.checkpoint, pruning, a.out, data=a.data, device=a.device, progress=show_progress(a))
        # prune() logs "pruned N of M weights (S%) -> OUT" (on stderr, and into OUT/prune.log)
        print(json.dumps(r))
    return run


def classes(sub) -> None:
    """--classes: prune only some weight classes, or with --granularity unit some unit families."""
    sub.add_argument("--classes", help="prune only these weight classes (comma-separated); with --granularity "
                     "unit these unit families, e.g. dec_layer0,dec_layer1,attn_state (the decoder's)")


def class_list(value: str | None) -> list[str] | None:
    """``--classes``'s names (None when not given)."""
    return [c.strip() for c in value.split(",") if c.strip()] if value else None


def retrain_settings(a) -> dict:
    """:func:`nmtprune.api.retrain`'s settings: the ``--config`` file's, overridden by the options given.
    (A retrain's model is its checkpoint's: the file's ``model``, ``mask`` and ``snip`` are records.)"""
    from ..training.rundir import read_run_config
    f = read_run_config(a.config, "retrain") if a.config else {}
    ckpt = a.checkpoint or f.get("source")
    if not ckpt:
        raise NmtpruneError("retrain: give the CHECKPOINT, or a --config that names it (source)")
    t = {**(f.get("train") or {}), **train_overrides(a)}
    if a.granularity is not None:
        t["prune_granularity"] = a.granularity
    if a.classes:
        t["prune_classes"] = class_list(a.classes)
    if t.get("prune_granularity") == "unit":
        # units: the same share of every layer unless told (one threshold can empty a small layer)
        t.setdefault("prune_allocation", "class_uniform")
    return {"ckpt": ckpt, "out": a.out, "train_overrides": t, "data": a.data or f.get("prep"),
            "prune_to": a.prune_to if a.prune_to is not None else (t.get("prune_to") or None),
            "schedule": a.schedule or f.get("schedule") or "restart", "teacher": a.teacher or f.get("teacher")}


@command("retrain", "retrain a pruned checkpoint with its mask fixed (a dense one: prune it gradually with "
         "--prune-to, or just train it on)")
def _retrain(sub):
    from ..training.rundir import RUN_KEYS
    from ..training.schedules import SCHEDULES
    sub.add_argument("checkpoint", nargs="?",
                     help="pruned checkpoint, or a dense one (pruned gradually with --prune-to, else trained on "
                     "unpruned) (default: the --config file's source)")
    sub.add_argument("--config", metavar="FILE", help=CONFIG_HELP.format(keys=", ".join(RUN_KEYS["retrain"])))
    sub.add_argument("--data", help="prepared directory (default: the --config file's prep, else the checkpoint's)")
    sub.add_argument("--prune-to", type=sparsity("--prune-to", above_zero=True),
                     help="prune gradually to this sparsity while retraining (a dense checkpoint needs it)")
    sub.add_argument("--schedule", choices=Names("schedule", SCHEDULES),
                     help="learning rates: the preset's with plateau decay (restart), the dense run's last "
                          "(finetune), the dense run's last EPOCHS epochs replayed (rewind), or its whole "
                          "schedule compressed to EPOCHS epochs (replay) (default: the --config file's, "
                          "else restart)")
    granularity(sub, default=None)
    classes(sub)
    sub.add_argument("--teacher", help="dense checkpoint with the same tokenizers to distil from "
                                       "(train.distill_weight, train.distill_temperature)")
    train_args(sub, source="from the checkpoint's preset", epochs="two thirds of the preset's: 20 for small")

    def run(a):
        from ..api import retrain
        summary = retrain(**retrain_settings(a), resume=a.resume, device=a.device, progress=show_progress(a),
                          tensorboard=a.tensorboard)
        print(json.dumps(summary))
    return run


@command("iterate", "iterative pruning: rounds of pruning a share of the kept weights + retraining")
def _iterate(sub):
    sub.add_argument("checkpoint", help="dense (or pruned) checkpoint")
    sub.add_argument("--prune-to", type=sparsity("--prune-to", above_zero=True), required=True,
                     help="final sparsity, in (0, 1)")
    sub.add_argument("--rounds", type=number(int), default=3, help="each prunes the same share of what is left")
    _method(sub)
    sub.add_argument("--rewind-to", help="checkpoint whose weights the kept ones are reset to before each "
                                         "retraining (lottery ticket: an early checkpoint of the dense run)")
    train_args(sub, source="from the checkpoint's preset", epochs="2 per round")

    def run(a):
        from ..prune import Pruning
        from ..training.iterate import iterate
        overrides = train_overrides(a)
        epochs = overrides.pop("epochs", 2)
        r = iterate(a.checkpoint, a.out, Pruning(a.prune_to, criterion=a.criterion, allocation=a.allocation,
                                                 granularity=a.granularity),
                    rounds=a.rounds, epochs=epochs, rewind_to=a.rewind_to, train_overrides=overrides,
                    device=a.device, progress=show_progress(a), tensorboard=a.tensorboard)
        print(json.dumps(r))
    return run


@command("inspect", "sparsity per weight class of a checkpoint")
def _inspect(sub):
    sub.add_argument("checkpoint", help="checkpoint, its run directory, or an .nmtz file")
    sub.add_argument("--json", action="store_true", help="print one JSON object (last line)")

    def run(a):
        from ..prune import inspect
        r = inspect(a.checkpoint)
        if a.json:
            print(json.dumps(r))
            return
        print(f"{'class':<12} {'params':>10} {'pruned':>10} {'sparsity':>9} {'max|w| cut':>11} "
              f"{'dense MB':>9} {'.nmtz MB':>9} {'ratio':>6}")
        for cls, s in r["classes"].items():
            mx = "-" if s["max_pruned_abs"] is None else f"{s['max_pruned_abs']:.4f}"
            print(f"{cls:<12} {s['params']:>10} {s['pruned']:>10} {s['sparsity']:>9.2%} {mx:>11} "
                  f"{s['dense_bytes'] / 1e6:>9.2f} {s['export_bytes'] / 1e6:>9.2f} {s['export_ratio']:>6.3f}")
        print(f"{'total':<12} {r['params']:>10} {r['pruned']:>10} {r['sparsity']:>9.2%} {'':>11} "
              f"{r['dense_bytes'] / 1e6:>9.2f} {r['export_bytes'] / 1e6:>9.2f} {r['export_ratio']:>6.3f}")
        if "units" in r:
            print(f"\n{'units of':<12} {'units':>10} {'kept':>10} {'removed':>9}")
            for fam, u in r["units"].items():
                print(f"{fam:<12} {u['units']:>10} {u['kept']:>10} {1 - u['kept'] / u['units']:>9.2%}")
            print(f"{'all units':<12} {'':>10} {'':>10} {r['unit_sparsity']:>9.2%}")
    return run
