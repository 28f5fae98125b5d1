"""Recovery recipes: ways to turn a dense model into one at a target sparsity that
translates as well, each one function ``(dense, out, sparsity, criterion, allocation,
settings) -> model directory`` in :data:`RECIPES`.

All spend the same retraining budget (``settings["epochs"]`` epochs, or
``max_steps``), so the study compares them at equal optimizer steps; ``gradual_kd``
also runs the teacher's forward pass at each step (about a third more compute).
``settings`` are train settings (see :class:`~nmtprune.training.config.TrainConfig`)
plus ``schedule`` (learning rates, :mod:`.schedules`) and, for ``iterative``,
``rounds``; keyword arguments go to ``prune`` (scoring data, seed, device), and
``progress`` to the training loops.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from ..prune.checkpoints import prune
from .iterate import iterate
from .run import retrain


def split_settings(settings: dict) -> tuple[str, dict]:
    """(schedule, train settings): the recipe-level keys taken out."""
    rest = dict(settings)
    rest.pop("rounds", None)
    rest.pop("recipe", None)
    return rest.pop("schedule", "restart"), rest


def oneshot(dense: Path, out: Path, sparsity: float, criterion: str, allocation: str, settings: dict,
            **kw) -> Path:
    """See et al.: prune once to the target, then retrain with the mask fixed."""
    schedule, train = split_settings(settings)
    progress = kw.pop("progress", False)
    prune(dense, criterion, allocation, sparsity, out / "pruned", **kw)
    retrain(out / "pruned", out / "model", train, schedule=schedule, device=kw.get("device", "cpu"),
            progress=progress)
    return out / "model"


def gradual(dense: Path, out: Path, sparsity: float, criterion: str, allocation: str, settings: dict,
            teacher: bool = False, **kw) -> Path:
    """Zhu & Gupta: retrain the dense model while pruning it on a cubic schedule."""
    schedule, train = split_settings(settings)
    train = {**train, "prune_criterion": criterion, "prune_allocation": allocation.replace("-", "_")}
    retrain(dense, out / "model", train, prune_to=sparsity, schedule=schedule,
            teacher=str(dense) if teacher else None, device=kw.get("device", "cpu"),
            progress=kw.get("progress", False))
    return out / "model"


def gradual_kd(dense: Path, out: Path, sparsity: float, criterion: str, allocation: str, settings: dict,
               **kw) -> Path:
    """Gradual pruning with word-level distillation from the dense model (Kim & Rush)."""
    return gradual(dense, out, sparsity, criterion, allocation, settings, teacher=True, **kw)


def iterative(dense: Path, out: Path, sparsity: float, criterion: str, allocation: str, settings: dict,
              **kw) -> Path:
    """Han et al.: ``rounds`` rounds of pruning a share of the kept weights + retraining,
    the epochs split evenly over the rounds."""
    rounds = int(settings.get("rounds", 3))
    schedule, train = split_settings(settings)
    epochs = max(1, int(train.pop("epochs", rounds)) // rounds)
    if train.get("max_steps"):
        train["max_steps"] = max(1, train["max_steps"] // rounds)
    r = iterate(dense, out / "iterative", sparsity, rounds, epochs, criterion, allocation,
                train_overrides=train, device=kw.get("device", "cpu"), progress=kw.get("progress", False),
                schedule=schedule)
    return Path(r["final"])


RECIPES: dict[str, Callable[..., Path]] = {
    "oneshot": oneshot,
    "gradual": gradual,
    "gradual_kd": gradual_kd,
    "iterative": iterative,
}

# What each recipe is, for captions and tables.
DESCRIPTIONS = {
    "oneshot": "one cut, then retraining with the mask fixed",
    "gradual": "gradual pruning while retraining the dense model",
    "gradual_kd": "gradual pruning with distillation from the dense model",
    "iterative": "rounds of pruning a share of the kept weights + retraining",
}
