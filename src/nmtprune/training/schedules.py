"""Retraining schedules: which learning rate each retraining epoch uses.

After Renda, Frankle & Carbin (2020): *fine-tuning* continues at the dense
run's final learning rate; *learning-rate rewinding* replays the dense run's
own per-epoch schedule from ``epochs`` before its end, so the pruned model
gets the large early rates that move it back into a good region before the
rates decay again. *replay* plays the dense run's whole schedule, compressed
to the retraining's epochs (rewinding to the start of training when fewer
epochs are spent than the dense run took): large rates while the model
relearns, the dense run's final rates at its end. *restart* is the preset's
learning rate with the usual plateau decay (See et al. restarted SGD at half
the rate). The dense run's
schedule is read from its ``log.csv``, found by following the checkpoint's
provenance (retrained from -> pruned from -> trained).
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

from ..checkpoint.model_file import read_metadata, resolve
from ..errors import NmtpruneError
from ..fileio import read_json
from .config import TrainConfig

# restart is the default: on `small` it beat replay and rewind on the validation split at 80% and 90%
# (benchmarks/results/recovery.json).
SCHEDULES = ("restart", "finetune", "rewind", "replay")


def dense_run(path: Path, info: dict) -> Path | None:
    """The directory of the training run (``config.json`` of kind ``train``) the checkpoint at
    ``path`` descends from, following its provenance (retrained from -> pruned from -> trained);
    None when the chain ends without one (a checkpoint copied away from its run)."""
    d = path.parent
    for _ in range(8):
        cfg = d / "config.json"
        if cfg.is_file() and read_json(cfg).get("kind") == "train":
            return d
        src = info.get("retrained_from") or (info.get("prune") or {}).get("source")
        if not src:
            return None
        p = resolve(src)
        info, d = json.loads(read_metadata(p).get("info", "{}")), p.parent
    return None


def dense_lrs(path: Path, info: dict) -> list[float]:
    """Per-epoch learning rates of the training run the checkpoint at ``path`` descends from."""
    d = dense_run(path, info)
    if d is not None and (d / "log.csv").is_file():
        with open(d / "log.csv", newline="") as f:
            lrs = [float(r["lr"]) for r in csv.DictReader(f) if r.get("lr")]
        if lrs:
            return lrs
    raise NmtpruneError(f"{path}: cannot find the log.csv of the dense training run it comes from "
                        "(needed by --schedule finetune/rewind/replay); use --schedule restart or --set lr_epochs=[...]")


# Settings that are the dense run's own (how it computed, what loss it learned), kept by a
# retraining unless it is told otherwise: a bf16 run retrains in bf16.
INHERITED = ("precision", "label_smoothing", "loss_norm", "batch_tokens", "batch_multiple", "clip")


def inherited_settings(path: Path, info: dict) -> dict:
    """The :data:`INHERITED` train settings of the run the checkpoint at ``path`` descends
    from (empty when that run cannot be found)."""
    d = dense_run(path, info)
    train = read_json(d / "config.json").get("train", {}) if d is not None else {}
    return {k: train[k] for k in INHERITED if k in train}


def schedule_lrs(name: str, epochs: int, history: list[float]) -> list[float]:
    """``lr_epochs`` for a retraining of ``epochs`` epochs under schedule ``name``."""
    if name == "finetune":
        return [history[-1]]
    if name == "replay":
        return [history[min(len(history) - 1, e * len(history) // epochs)] for e in range(epochs)]
    if name == "rewind":
        tail = history[-epochs:] if epochs <= len(history) else history
        return [history[0]] * max(0, epochs - len(history)) + tail
    return []


class LrPolicy:
    """The learning rate of each epoch of a run, decided after the epoch before.

    In order of precedence: an explicit per-epoch list (``lr_epochs``: finetune, rewind,
    replay); unchanged while gradual pruning still ramps (the model is not yet the one
    asked for, so a plateau means nothing); SGD halves every epoch from
    ``sgd_decay_start`` on (Luong et al.); Adam decays on a validation plateau longer
    than ``patience`` epochs, down to ``min_lr``.
    """

    def __init__(self, cfg: TrainConfig) -> None:
        self.cfg = cfg

    def initial(self) -> float:
        return self.cfg.lr_epochs[0] if self.cfg.lr_epochs else self.cfg.lr

    def after_epoch(self, lr: float, *, epoch: int, bad_epochs: int, ramping: bool) -> float:
        """The rate for epoch ``epoch + 1``, given the current one and the plateau count."""
        cfg = self.cfg
        if cfg.lr_epochs:
            return cfg.lr_epochs[min(epoch, len(cfg.lr_epochs) - 1)]
        if ramping:
            return lr
        if cfg.optimizer == "sgd" and epoch >= cfg.sgd_decay_start:
            return lr * cfg.lr_decay
        if cfg.optimizer == "adam" and bad_epochs > cfg.patience:
            return max(lr * cfg.lr_decay, cfg.min_lr)
        return lr


def build_lr_policy(cfg: TrainConfig) -> LrPolicy:
    """The learning-rate policy of a run's settings."""
    return LrPolicy(cfg)
