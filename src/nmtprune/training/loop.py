"""The training loop shared by ``train``, ``retrain`` and sparse training.

Token-budget batches (order fixed by seed + epoch), Adam or SGD, gradient
clipping, optional fixed masks, validation perplexity after each epoch, best
checkpoint kept, lr decay on plateau, early stopping, a wall-clock budget.
:class:`Trainer` holds one run's parts, each readable at once: :meth:`~Trainer.step`
(one batch), :meth:`~Trainer.epoch`, :meth:`~Trainer.end_epoch` (validation, saving,
early stopping; the learning rate comes from :class:`~.schedules.LrPolicy`) and
:meth:`~Trainer.finish`. ``state.pt`` (:mod:`nmtprune.training.state`) is written after every
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
from ..prune.units import current_sparsity
from .config import TrainConfig
from .curves import Curves
from .distill import DistillLoss
from .distributed import all_sum, barrier, is_main, shard, world, wrap
from .gradual import cut, schedule_for
from .schedules import build_lr_policy
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


def fit(model: Seq2Seq, train: Corpus, valid: Corpus, cfg: TrainConfig, rundir: Path, *,
        tokenizers: dict[str, str], prep: str | None, masks: Masks | None = None,
        device: str | torch.device = "cpu", resume: dict | None = None, info: dict | None = None,
        progress: bool = True, teacher: Seq2Seq | None = None, curves: Curves | None = None) -> dict:
    """Train ``model`` in place; write checkpoints and logs into ``rundir``.

    Args:
        tokenizers, prep: what every checkpoint records (tokenizer files, prepared directory).
        masks: fixed masks; pruned weights stay exactly zero through every step.
        resume: a state loaded by :func:`nmtprune.training.state.load_training_state` to continue from.
        info: extra metadata stored in every checkpoint.
        teacher: a dense model to distil from (word-level KD, ``cfg.distill_*``).
        curves: where each step's loss, lr and sparsity and each epoch's validation go (TensorBoard).
    Returns:
        A summary: best validation perplexity, epochs, steps, wall time, why it stopped.
    """
    trainer = Trainer(model, train, valid, cfg, rundir, tokenizers=tokenizers, prep=prep, masks=masks,
                      device=device, resume=resume, info=info, progress=progress, teacher=teacher, curves=curves)
    return trainer.run()


class Trainer:
    """One training run: the model, its optimizer, masks, schedule and progress."""

    def __init__(self, model: Seq2Seq, train: Corpus, valid: Corpus, cfg: TrainConfig, rundir: Path, *,
                 tokenizers: dict[str, str], prep: str | None, masks: Masks | None, device, resume: dict | None,
                 info: dict | None, progress: bool, teacher: Seq2Seq | None, curves: Curves | None) -> None:
        self.model, self.train, self.valid, self.cfg, self.rundir = model, train, valid, cfg, rundir
        self.tokenizers, self.prep, self.device, self.curves = tokenizers, prep, device, curves
        model.to(device)
        self.opt = make_optimizer(model, cfg)
        self.gradual = schedule_for(cfg, train, masks, model=model)   # from the masks the run started with
        if resume is not None and "masks" in resume:        # gradual pruning: the masks of the moment
            masks = resume["masks"]
        if masks is not None:
            masks = {k: v.to(device) for k, v in masks.items()}
            apply_masks(model, masks)
            if is_main():
                save_masks(masks_path(rundir / MODEL_FILE), masks)
        self.masks = masks
        self.lr_policy = build_lr_policy(cfg)
        self.prog = {"epoch": 1, "batch": 0, "steps": 0, "best_ppl": math.inf, "bad_epochs": 0,
                     "lr": self.lr_policy.initial(), "elapsed": 0.0, "history": [], "nan_skipped": 0,
                     "stopped": None}
        if resume is not None:
            model.load_state_dict(resume["model"])
            self.opt.load_state_dict(resume["optimizer"])
            torch.set_rng_state(resume["torch_rng"])
            self.prog.update(resume["progress"])
            p = self.prog
            logger.info(f"resuming at epoch {p['epoch']}, batch {p['batch']} ({p['steps']} steps done)")
        else:
            torch.manual_seed(cfg.seed + world()[0])   # ranks draw different dropout masks
        distill = None
        if teacher is not None:
            distill = DistillLoss(model, teacher.to(device).eval(), cfg.distill_weight, cfg.distill_temperature)
        self.loss_fn = wrap(model, torch.device(device), loss_module=distill)
        self.autocast = torch.autocast(torch.device(device).type, dtype=torch.bfloat16,
                                       enabled=cfg.precision == "bf16")
        self.progress = progress and is_main()
        self.set_lr(self.prog["lr"])
        self.info = dict(info or {})
        # Only for the curves: the mask's sparsity, counted again only when gradual pruning changes it.
        self.sparsity = sparsity_of(masks) if curves is not None and masks is not None else 0.0
        self.start = time.time() - self.prog["elapsed"]
        self.budget = cfg.max_minutes * 60 if cfg.max_minutes > 0 else math.inf

    def set_lr(self, lr: float) -> None:
        for g in self.opt.param_groups:
            g["lr"] = lr

    def run(self) -> dict:
        """Epochs until the budget, early stopping or the clock ends the run; the summary."""
        while self.prog["stopped"] is None and self.prog["epoch"] <= self.cfg.epochs:
            self.epoch()
        return self.finish()

    def checkpoint_state(self) -> None:
        """``state.pt`` for ``--resume`` (with the masks of the moment while they change)."""
        self.prog["elapsed"] = time.time() - self.start
        save_state(self.rundir, self.model, self.opt, self.prog,
                   masks=self.masks if self.gradual is not None else None)

    def save_model(self, extra: dict) -> None:
        save_checkpoint(self.rundir / MODEL_FILE, self.model, self.tokenizers, self.prep, info={**self.info, **extra})
        # The mask changes while pruning: keep it beside its weights (from scratch, an epoch may
        # end before the first cut, when there is no mask yet: that checkpoint is dense).
        if self.gradual is not None and self.masks is not None:
            save_masks(masks_path(self.rundir / MODEL_FILE), self.masks)

    def epoch(self) -> None:
        """One pass over the training batches from where the run stands, then :meth:`end_epoch`."""
        cfg, prog = self.cfg, self.prog
        epoch = prog["epoch"]
        batches = make_batches(self.train, cfg.batch_tokens, shuffle=True, seed=cfg.seed + epoch,
                               multiple=cfg.batch_multiple)
        self.model.train()
        loss_sum, tok_sum, t_epoch = 0.0, 0, time.time()
        bar = tqdm(total=len(batches), initial=prog["batch"], desc=f"epoch {epoch}", unit="batch",
                   disable=not self.progress, leave=False, mininterval=2.0)
        while prog["batch"] < len(batches):
            loss_val, n_tok, bad, late = self.step(batches[prog["batch"]])
            if not bad:
                loss_sum += loss_val
                tok_sum += int(n_tok)
            prog["batch"] += 1
            prog["steps"] += 1
            if self.curves is not None and not bad:
                self.curves.step(prog["steps"], loss_val / max(n_tok, 1), prog["lr"], self.sparsity)
            bar.update(1)
            if tok_sum:
                bar.set_postfix(loss=f"{loss_sum / tok_sum:.3f}",
                                tok_s=f"{tok_sum / (time.time() - t_epoch):.0f}", refresh=False)
            if cfg.save_every and prog["steps"] % cfg.save_every == 0:
                self.checkpoint_state()
            if late:
                prog["stopped"] = "time"
                break
            if cfg.max_steps and prog["steps"] >= cfg.max_steps:
                prog["stopped"] = "steps"
                break
        bar.close()
        self.end_epoch(loss_sum / max(tok_sum, 1), tok_sum / max(time.time() - t_epoch, 1e-9))

    def step(self, batch_indices) -> tuple[float, float, float, float]:
        """One optimizer step on a batch (sentence indices); returns (summed loss, target tokens,
        non-finite flag, wall-clock-over flag), each summed over ranks."""
        cfg, model, masks = self.cfg, self.model, self.masks
        idx, weight = shard(batch_indices)
        batch = collate(self.train, idx).to(self.device)
        with self.autocast:
            loss, _ = self.loss_fn(batch, cfg.label_smoothing)
        # One collective per step: global token and sentence counts, loss, non-finite flag, wall-clock stop.
        n_tok, n_sent, loss_val, bad, late = all_sum(
            [batch.n_tokens * weight, batch.src.size(0) * weight, float(loss.detach()) * weight,
             float(not torch.isfinite(loss)), float(time.time() - self.start > self.budget)], self.device)
        self.opt.zero_grad(set_to_none=True)
        if bad:
            if cfg.nan_policy == "stop":
                raise NmtpruneError(f"non-finite loss at epoch {self.prog['epoch']}, batch {self.prog['batch']}; "
                                    f"stopped, last good checkpoint kept in {self.rundir}")
            self.prog["nan_skipped"] += 1
            return loss_val, n_tok, bad, late
        # DDP averages gradients over ranks, so scale by ranks / global tokens (or sentences).
        (loss * (weight * world()[1] / (n_sent if cfg.loss_norm == "sentences" else n_tok))).backward()
        if masks is not None:
            mask_grads(model, masks)
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip)
        self.opt.step()
        if masks is not None:
            apply_masks(model, masks)
        step = self.prog["steps"] + 1
        if self.gradual is not None and self.gradual.due(step):
            self.masks = cut(model, masks, self.gradual, step, self.train, self.device)
            self.sparsity = sparsity_of(self.masks) if self.curves is not None else 0.0
        return loss_val, n_tok, bad, late

    def end_epoch(self, train_loss: float, tok_s: float) -> None:
        """Validation, the best checkpoint, the next learning rate, early stopping, logs and state."""
        prog, epoch = self.prog, self.prog["epoch"]
        ppl = perplexity(self.model, self.valid, max_tokens=self.cfg.valid_batch_tokens, device=self.device)
        prog["history"].append({"epoch": epoch, "steps": prog["steps"], "train_loss": round(train_loss, 4),
                                "valid_ppl": round(ppl, 3), "lr": prog["lr"], "tgt_tok_per_s": round(tok_s),
                                "elapsed_s": round(time.time() - self.start, 1)})
        if self.curves is not None:
            self.curves.epoch(prog["steps"], ppl)
        if is_main():
            logger.info(f"epoch {epoch}: train loss {train_loss:.3f}, valid ppl {ppl:.2f}, lr {prog['lr']:.2g}, "
                        f"{tok_s:.0f} tgt tok/s")
        # While gradual pruning still removes weights the model is not yet the one asked for:
        # it is saved (the latest), and the best, plateau decay and early stopping start after.
        ramping = self.gradual is not None and not self.gradual.done(prog["steps"])
        if ramping or ppl < prog["best_ppl"]:
            if not ramping:
                prog["best_ppl"], prog["bad_epochs"] = ppl, 0
            if is_main():
                self.save_model({"epoch": epoch, "steps": prog["steps"], "valid_ppl": ppl})
        else:
            prog["bad_epochs"] += 1
        prog["lr"] = self.lr_policy.after_epoch(prog["lr"], epoch=epoch, bad_epochs=prog["bad_epochs"],
                                                ramping=ramping)
        self.set_lr(prog["lr"])
        if prog["stopped"] is None and self.cfg.early_stop and prog["bad_epochs"] >= self.cfg.early_stop:
            prog["stopped"] = "early_stop"
        prog["epoch"] += 1
        prog["batch"] = 0
        _write_log(self.rundir, prog["history"])
        self.checkpoint_state()

    def finish(self) -> dict:
        """Close the run: the last cut of a schedule stopped short, a checkpoint, the summary."""
        prog, gradual = self.prog, self.gradual
        if prog["stopped"] is None:
            prog["stopped"] = "epochs"
            self.checkpoint_state()
        if gradual is not None and (not gradual.done(prog["steps"]) or self.masks is None):
            # Stopped before the ramp's end (time, steps, early stop): the result still has exactly
            # the sparsity asked for, pruned in one last cut (not retrained after it).
            self.masks = cut(self.model, self.masks, gradual, gradual.end, self.train, self.device)
            if is_main():
                logger.warning(f"stopped before the pruning schedule ended: pruned to {gradual.target} in one cut")
                self.save_model({"epoch": prog["epoch"] - 1, "steps": prog["steps"], "cut_short": True})
            self.checkpoint_state()
        barrier()
        if is_main() and not (self.rundir / MODEL_FILE).is_file():  # zero epochs: still leave a usable checkpoint
            save_checkpoint(self.rundir / MODEL_FILE, self.model, self.tokenizers, self.prep,
                            info={**self.info, "epoch": 0})
        sparse = {"sparsity": round(sparsity_of(self.masks), 6)} if gradual is not None else {}
        if gradual is not None and gradual.pruning.granularity == "unit":
            sparse["unit_sparsity"] = round(current_sparsity(self.model, self.masks, "unit",
                                                             only=gradual.pruning.only_classes), 6)
        return {"best_valid_ppl": prog["best_ppl"], "epochs": len(prog["history"]), "steps": prog["steps"],
                **sparse, "wall_s": round(prog["elapsed"], 1), "stopped": prog["stopped"],
                "nan_skipped": prog["nan_skipped"], "config": dataclasses.asdict(self.cfg)}
