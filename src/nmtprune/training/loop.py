"""The training loop shared by ``train``, ``retrain`` and sparse training.

One straight loop: token-budget batches (order fixed by seed + epoch), Adam or
SGD, gradient clipping, optional fixed masks, validation perplexity after each
epoch, best checkpoint kept, lr decay on plateau, early stopping, a wall-clock
budget. ``state.pt`` (:mod:`nmtprune.training.state`) is written after every
epoch (and every ``save_every`` steps), so a killed run resumes exactly where
it stopped. Messages go to this module's logger (the run's ``train.log``).
"""
from __future__ import annotations

import dataclasses
import logging
import math
import time
from pathlib import Path

import torch
from tqdm import tqdm

from ..checkpoint.model_file import MODEL_FILE, masks_path, save_checkpoint
from ..data.batching import collate, make_batches
from ..data.corpus import Corpus
from ..decode.metrics import perplexity
from ..errors import NmtpruneError
from ..fileio import atomic_write
from ..model.masks import Masks, apply_masks, mask_grads, save_masks, sparsity_of
from ..model.seq2seq import Seq2Seq
from .config import TrainConfig
from .curves import Curves
from .distill import DistillLoss
from .distributed import all_sum, barrier, is_main, shard, world, wrap
from .gradual import prune_step, schedule_for, scoring
from .state import save_state

logger = logging.getLogger(__name__)
LOG_COLUMNS = ["epoch", "steps", "train_loss", "valid_ppl", "lr", "tgt_tok_per_s", "elapsed_s"]


def make_optimizer(model: Seq2Seq, cfg: TrainConfig) -> torch.optim.Optimizer:
    if cfg.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=cfg.lr)
    return torch.optim.SGD(model.parameters(), lr=cfg.lr)


def _write_log(rundir: Path, history: list[dict]) -> None:
    if not is_main():
        return
    lines = [",".join(LOG_COLUMNS)]
    lines += [",".join(str(h.get(c, "")) for c in LOG_COLUMNS) for h in history]
    atomic_write(rundir / "log.csv", "\n".join(lines) + "\n")


def fit(model: Seq2Seq, train: Corpus, valid: Corpus, cfg: TrainConfig, rundir: Path,
        tokenizers: dict[str, str], prep: str | None, masks: Masks | None = None,
        device: str | torch.device = "cpu", resume: dict | None = None, info: dict | None = None,
        progress: bool = True, teacher: Seq2Seq | None = None, curves: Curves | None = None) -> dict:
    """Train ``model`` in place; write checkpoints and logs into ``rundir``.

    Args:
        masks: fixed masks; pruned weights stay exactly zero through every step.
        resume: a state loaded by :func:`nmtprune.training.state.load_training_state` to continue from.
        info: extra metadata stored in every checkpoint.
        teacher: a dense model to distil from (word-level KD, ``cfg.distill_*``).
        curves: where each step's loss, lr and sparsity and each epoch's validation go (TensorBoard).
    Returns:
        A summary: best validation perplexity, epochs, steps, wall time, why it stopped.
    """
    model.to(device)
    opt = make_optimizer(model, cfg)
    gradual = schedule_for(cfg, train, masks)           # from the masks the run started with
    if resume is not None and "masks" in resume:      # gradual pruning: the masks of the moment
        masks = resume["masks"]
    if masks is not None:
        masks = {k: v.to(device) for k, v in masks.items()}
        apply_masks(model, masks)
        if is_main():
            save_masks(masks_path(rundir / MODEL_FILE), masks)
    prog = {"epoch": 1, "batch": 0, "steps": 0, "best_ppl": math.inf, "bad_epochs": 0,
            "lr": cfg.lr_epochs[0] if cfg.lr_epochs else cfg.lr,
            "elapsed": 0.0, "history": [], "nan_skipped": 0, "stopped": None}
    if resume is not None:
        model.load_state_dict(resume["model"])
        opt.load_state_dict(resume["optimizer"])
        torch.set_rng_state(resume["torch_rng"])
        prog.update(resume["progress"])
        logger.info(f"resuming at epoch {prog['epoch']}, batch {prog['batch']} ({prog['steps']} steps done)")
    else:
        torch.manual_seed(cfg.seed + world()[0])   # ranks draw different dropout masks
    distill = None
    if teacher is not None:
        distill = DistillLoss(model, teacher.to(device).eval(), cfg.distill_weight, cfg.distill_temperature)
    loss_fn = wrap(model, torch.device(device), distill)
    autocast = torch.autocast(torch.device(device).type, dtype=torch.bfloat16, enabled=cfg.precision == "bf16")
    progress = progress and is_main()
    for g in opt.param_groups:
        g["lr"] = prog["lr"]
    info = dict(info or {})
    # Only for the curves: the mask's sparsity, counted again only when gradual pruning changes it.
    sparsity = sparsity_of(masks) if curves is not None and masks is not None else 0.0
    start = time.time() - prog["elapsed"]
    budget = cfg.max_minutes * 60 if cfg.max_minutes > 0 else math.inf

    def checkpoint_state():
        prog["elapsed"] = time.time() - start
        save_state(rundir, model, opt, prog, masks if gradual is not None else None)

    def save_model(extra: dict):
        save_checkpoint(rundir / MODEL_FILE, model, tokenizers, prep, {**info, **extra})
        # The mask changes while pruning: keep it beside its weights (from scratch, an epoch may
        # end before the first cut, when there is no mask yet: that checkpoint is dense).
        if gradual is not None and masks is not None:
            save_masks(masks_path(rundir / MODEL_FILE), masks)

    while prog["stopped"] is None and prog["epoch"] <= cfg.epochs:
        epoch = prog["epoch"]
        batches = make_batches(train, cfg.batch_tokens, shuffle=True, seed=cfg.seed + epoch,
                               multiple=cfg.batch_multiple)
        model.train()
        loss_sum, tok_sum, t_epoch = 0.0, 0, time.time()
        bar = tqdm(total=len(batches), initial=prog["batch"], desc=f"epoch {epoch}", unit="batch",
                   disable=not progress, leave=False, mininterval=2.0)
        while prog["batch"] < len(batches):
            idx, weight = shard(batches[prog["batch"]])
            batch = collate(train, idx).to(device)
            with autocast:
                loss, _ = loss_fn(batch, cfg.label_smoothing)
            # One collective per step: global token and sentence counts, loss, non-finite flag,
            # wall-clock stop.
            n_tok, n_sent, loss_val, bad, late = all_sum(
                [batch.n_tokens * weight, batch.src.size(0) * weight, float(loss.detach()) * weight,
                 float(not torch.isfinite(loss)), float(time.time() - start > budget)], device)
            opt.zero_grad(set_to_none=True)
            if bad:
                if cfg.nan_policy == "stop":
                    raise NmtpruneError(f"non-finite loss at epoch {epoch}, batch {prog['batch']}; "
                                        f"stopped, last good checkpoint kept in {rundir}")
                prog["nan_skipped"] += 1
            else:
                # DDP averages gradients over ranks, so scale by ranks / global tokens (or sentences).
                (loss * (weight * world()[1] / (n_sent if cfg.loss_norm == "sentences" else n_tok))).backward()
                if masks is not None:
                    mask_grads(model, masks)
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip)
                opt.step()
                if masks is not None:
                    apply_masks(model, masks)
                if gradual is not None and gradual.due(prog["steps"] + 1):
                    masks = prune_step(model, masks, gradual.sparsity_at(prog["steps"] + 1),
                                       gradual.criterion, gradual.allocation, scoring(train, device))
                    sparsity = sparsity_of(masks) if curves is not None else 0.0
                loss_sum += loss_val
                tok_sum += int(n_tok)
            prog["batch"] += 1
            prog["steps"] += 1
            if curves is not None and not bad:
                curves.step(prog["steps"], loss_val / max(n_tok, 1), prog["lr"], sparsity)
            bar.update(1)
            if tok_sum:
                bar.set_postfix(loss=f"{loss_sum / tok_sum:.3f}",
                                tok_s=f"{tok_sum / (time.time() - t_epoch):.0f}", refresh=False)
            if cfg.save_every and prog["steps"] % cfg.save_every == 0:
                checkpoint_state()
            if late:
                prog["stopped"] = "time"
                break
            if cfg.max_steps and prog["steps"] >= cfg.max_steps:
                prog["stopped"] = "steps"
                break
        bar.close()
        train_loss = loss_sum / max(tok_sum, 1)
        tok_s = tok_sum / max(time.time() - t_epoch, 1e-9)
        ppl = perplexity(model, valid, cfg.valid_batch_tokens, device)
        entry = {"epoch": epoch, "steps": prog["steps"], "train_loss": round(train_loss, 4),
                 "valid_ppl": round(ppl, 3), "lr": prog["lr"], "tgt_tok_per_s": round(tok_s),
                 "elapsed_s": round(time.time() - start, 1)}
        prog["history"].append(entry)
        if curves is not None:
            curves.epoch(prog["steps"], ppl)
        if is_main():
            logger.info(f"epoch {epoch}: train loss {train_loss:.3f}, valid ppl {ppl:.2f}, lr {prog['lr']:.2g}, "
                        f"{tok_s:.0f} tgt tok/s")
        # While gradual pruning still removes weights the model is not yet the one asked for:
        # it is saved (the latest), and the best, plateau decay and early stopping start after.
        ramping = gradual is not None and not gradual.done(prog["steps"])
        if ramping or ppl < prog["best_ppl"]:
            if not ramping:
                prog["best_ppl"], prog["bad_epochs"] = ppl, 0
            if is_main():
                save_model({"epoch": epoch, "steps": prog["steps"], "valid_ppl": ppl})
        else:
            prog["bad_epochs"] += 1
        if cfg.lr_epochs:
            prog["lr"] = cfg.lr_epochs[min(epoch, len(cfg.lr_epochs) - 1)]
        elif ramping:
            pass
        elif cfg.optimizer == "sgd" and epoch >= cfg.sgd_decay_start:
            prog["lr"] *= cfg.lr_decay
        elif cfg.optimizer == "adam" and prog["bad_epochs"] > cfg.patience:
            prog["lr"] = max(prog["lr"] * cfg.lr_decay, cfg.min_lr)
        for g in opt.param_groups:
            g["lr"] = prog["lr"]
        if prog["stopped"] is None and cfg.early_stop and prog["bad_epochs"] >= cfg.early_stop:
            prog["stopped"] = "early_stop"
        prog["epoch"] += 1
        prog["batch"] = 0
        _write_log(rundir, prog["history"])
        checkpoint_state()
    if prog["stopped"] is None:
        prog["stopped"] = "epochs"
        checkpoint_state()
    if gradual is not None and not gradual.done(prog["steps"]):
        # Stopped before the ramp's end (time, steps, early stop): the result still has exactly
        # the sparsity asked for, pruned in one last cut (not retrained after it).
        masks = prune_step(model, masks, gradual.target, gradual.criterion, gradual.allocation,
                           scoring(train, device))
        if is_main():
            logger.warning(f"stopped before the pruning schedule ended: pruned to {gradual.target} in one cut")
            save_model({"epoch": prog["epoch"] - 1, "steps": prog["steps"], "cut_short": True})
        checkpoint_state()
    barrier()
    if is_main() and not (rundir / MODEL_FILE).is_file():  # zero epochs: still leave a usable checkpoint
        save_checkpoint(rundir / MODEL_FILE, model, tokenizers, prep, {**info, "epoch": 0})
    sparse = {"sparsity": round(sparsity_of(masks), 6)} if gradual is not None else {}
    return {"best_valid_ppl": prog["best_ppl"], "epochs": len(prog["history"]), "steps": prog["steps"], **sparse,
            "wall_s": round(prog["elapsed"], 1), "stopped": prog["stopped"],
            "nan_skipped": prog["nan_skipped"], "config": dataclasses.asdict(cfg)}
