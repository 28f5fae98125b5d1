"""A whole training run: ``train`` (from a prepared directory) and ``retrain`` (a pruned checkpoint).

Both check the run directory (new, or ``--resume`` with the same settings),
write its config and tokenizers, run :func:`nmtprune.training.loop.fit` with
the run's ``train.log`` attached, and write ``summary.json``.
"""
from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

from ..checkpoint.load import load_checkpoint
from ..checkpoint.model_file import MODEL_FILE, Checkpoint, masks_path
from ..data.prepared import Prepared
from ..errors import NmtpruneError, choose
from ..fileio import write_json
from ..model.masks import Masks, check_masks, load_masks
from ..model.seq2seq import build_model
from ..prune.compute import snip_masks
from ..prune.pruning import check_sparsity
from ..runtime import resolve_device, resolve_precision
from .distill import check_teacher
from .distributed import barrier, init_from_env, is_main
from .curves import summary_writer
from .logs import run_log
from .loop import fit
from .presets import configs, retrain_config
from .rundir import prior_state, start_rundir
from .schedules import SCHEDULES, dense_lrs, inherited_settings, schedule_lrs

logger = logging.getLogger(__name__)


def check_prune_to(prune_to) -> float:
    """A gradual-pruning target (``--prune-to``): the one sparsity rule, 0 excluded."""
    return check_sparsity(prune_to, option="--prune-to", above_zero=True)


def train(prep_dir, out, *, preset: str = "small", model_overrides: dict | None = None,
          train_overrides: dict | None = None, resume: bool = False, device: str = "cpu",
          mask: str | None = None, init: str | None = None, snip: dict | None = None,
          progress: bool = True, prune_to: float | None = None, tensorboard: bool = False) -> dict:
    """Train a model on a prepared directory; returns the run summary.

    Args:
        mask: a mask file: sparse training from scratch (re-initialised, mask fixed).
        init: initialisation scheme overriding the preset's.
        snip: ``{"sparsity", "batches", "batch_size"}``: SNIP-prune at initialisation, then train.
        prune_to: prune gradually to this sparsity while training (Zhu & Gupta 2017; the
            schedule is ``train.prune_*``).
        tensorboard: also write the run's curves as TensorBoard events (:mod:`.curves`).
    """
    if tensorboard:
        summary_writer()
    if prune_to is not None:
        # From scratch, pruning starts once the weights mean something (Zhu & Gupta's GNMT run:
        # steps 40k-190k of 340k); a trained model (retrain) is pruned from its first step.
        train_overrides = {"prune_start": 0.1, "prune_end": 0.6, **(train_overrides or {}),
                           "prune_to": check_prune_to(prune_to)}
    prep = Prepared(prep_dir)
    overrides = dict(model_overrides or {})
    if init is not None:
        overrides["init"] = init
    mcfg, tcfg = configs(preset, overrides, train_overrides)
    tcfg.precision = resolve_precision(tcfg.precision, resolve_device(device))    # recorded resolved
    mcfg.src_vocab, mcfg.tgt_vocab = prep.meta["vocab_sizes"]["src"], prep.meta["vocab_sizes"]["tgt"]
    mcfg.validate()
    if mask is not None and snip is not None:
        raise NmtpruneError("--mask and --snip-sparsity cannot be combined")
    rundir = Path(out)
    run_cfg = {"kind": "train", "preset": preset, "model": dataclasses.asdict(mcfg),
               "train": dataclasses.asdict(tcfg), "prep": str(prep.path.resolve()),
               "mask": str(Path(mask).resolve()) if mask else None, "snip": snip}
    state = prior_state(rundir, run_cfg, resume)
    dev = init_from_env(resolve_device(device))
    barrier()          # every rank has checked the run directory before rank 0 writes to it
    model = build_model(mcfg, seed=tcfg.seed)
    masks: Masks | None = None
    if mask is not None:
        masks = load_masks(mask)
        check_masks(model, masks, source=mask)
    train_c, valid_c = prep.load(prep.cfg.train_split), prep.load(prep.cfg.valid_split)
    if snip is not None and state is None:
        masks = snip_masks(model, train_c, snip, dev, progress=progress and is_main())
    elif snip is not None:
        masks = load_masks(masks_path(rundir / MODEL_FILE))
    tok_files = {s: prep.path / prep.meta["tokenizers"][s] for s in ("src", "tgt")}
    tokenizers = start_rundir(rundir, run_cfg, tok_files)
    info = {"src_lang": prep.cfg.src, "tgt_lang": prep.cfg.tgt, "preset": preset}
    with run_log(rundir, tensorboard=tensorboard) as curves:
        summary = fit(model, train_c, valid_c, tcfg, rundir, tokenizers=tokenizers, prep=str(prep.path.resolve()),
                      masks=masks, device=dev, resume=state, info=info, progress=progress, curves=curves)
    if is_main():
        write_json(rundir / "summary.json", summary)
    return summary


def _teacher(spec: str, ck: Checkpoint) -> Checkpoint:
    """Load a distillation teacher; it must share the student's tokenizers (same files)."""
    t = load_checkpoint(spec, device="cpu")
    same = all(Path(t.tokenizer_files[s]).read_bytes() == Path(ck.tokenizer_files[s]).read_bytes()
               for s in ("src", "tgt"))
    check_teacher(ck.model, t.model, same, spec)
    return t


def _history(schedule: str, ck: Checkpoint) -> list[float]:
    """The dense run's per-epoch learning rates, where the schedule needs them."""
    return [] if schedule == "restart" else dense_lrs(ck.path, ck.info)


def retrain(ckpt, out, *, train_overrides: dict | None = None, resume: bool = False, device: str = "cpu",
            data: str | None = None, progress: bool = True, prune_to: float | None = None,
            schedule: str = "restart", teacher: str | None = None, tensorboard: bool = False) -> dict:
    """Continue training a checkpoint with its mask fixed (pruned weights stay exactly 0).

    The settings are the preset's retraining ones (:func:`.presets.retrain_config`) with the
    dense run's own :data:`.schedules.INHERITED` settings (precision, label smoothing, ...),
    then ``train_overrides``.

    Args:
        prune_to: prune gradually to this sparsity while retraining (Zhu & Gupta); a pruned
            checkpoint prunes further among the weights it keeps. Without it a dense checkpoint
            just trains on (the equal-compute dense control of a recipe).
        schedule: learning rates: ``restart`` (the preset's, plateau decay; the default),
            ``finetune`` (the
            dense run's final rate), ``rewind`` (the dense run's last ``epochs`` epochs replayed)
            or ``replay`` (the dense run's whole schedule compressed to ``epochs`` epochs).
        teacher: a dense checkpoint with the same tokenizers to distil from.
        tensorboard: also write the run's curves as TensorBoard events (:mod:`.curves`).
    """
    choose("schedule", schedule, SCHEDULES)
    if tensorboard:
        summary_writer()
    if prune_to is not None:
        prune_to = check_prune_to(prune_to)
    dev = init_from_env(resolve_device(device))
    ck = load_checkpoint(ckpt, device="cpu")
    if ck.masks is None and prune_to is None:
        # A dense checkpoint without a target: training simply continues (the equal-compute
        # control of a recipe, or a user adding epochs), with the same settings a recipe gets.
        logger.info("%s is dense and no --prune-to is given: continuing its training, nothing pruned", ck.path)
    teacher_ck = _teacher(teacher, ck) if teacher else None
    prep = Prepared(ck.prepared_dir(data=data, option="--data"))
    overrides = dict(train_overrides or {})
    if prune_to is not None:
        overrides["prune_to"] = prune_to
    inherited = inherited_settings(ck.path, ck.info)
    tcfg = retrain_config(ck.info.get("preset"), {**inherited, **overrides})
    tcfg.precision = resolve_precision(tcfg.precision, dev)
    history = _history(schedule, ck)
    if schedule != "restart" and "lr_epochs" not in overrides:
        tcfg.lr_epochs = schedule_lrs(schedule, tcfg.epochs, history)
    rundir = Path(out)
    run_cfg = {"kind": "retrain", "source": str(ck.path.resolve()), "model": dataclasses.asdict(ck.model.cfg),
               "train": dataclasses.asdict(tcfg), "prep": str(prep.path.resolve()), "mask": None, "snip": None,
               "schedule": schedule, "teacher": str(teacher_ck.path.resolve()) if teacher_ck else None}
    state = prior_state(rundir, run_cfg, resume)
    barrier()
    tokenizers = start_rundir(rundir, run_cfg, ck.tokenizer_files)
    info = {**ck.info, "retrained_from": str(ck.path)}
    info.pop("epoch", None)
    with run_log(rundir, tensorboard=tensorboard) as curves:
        summary = fit(ck.model, prep.load(prep.cfg.train_split), prep.load(prep.cfg.valid_split), tcfg, rundir,
                      tokenizers=tokenizers, prep=str(prep.path.resolve()), masks=ck.masks, device=dev,
                      resume=state, info=info, progress=progress,
                      teacher=teacher_ck.model if teacher_ck else None, curves=curves)
    if is_main():
        write_json(rundir / "summary.json", summary)
    return summary
