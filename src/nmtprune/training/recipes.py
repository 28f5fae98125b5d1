"""Recovery recipes: ways to turn a dense model into one at a target sparsity that
translates as well, each one :class:`Recipe` in :data:`RECIPES`: a function
``(dense, out, pruning, settings, *, device, progress) -> model directory`` and what it is.

All spend the same retraining budget (``settings["epochs"]`` epochs, or
``max_steps``), so the study compares them at equal optimizer steps; ``gradual_kd``
also runs the teacher's forward pass at each step (about a third more compute).
``pruning`` (:class:`~nmtprune.prune.pruning.Pruning`) is the target and how it is cut;
``settings`` are train settings (see :class:`~nmtprune.training.config.TrainConfig`)
plus ``schedule`` (learning rates, :mod:`.schedules`) and, for ``iterative``,
``rounds``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..prune.checkpoints import prune
from ..prune.pruning import Pruning
from .iterate import iterate
from .run import retrain


def split_settings(settings: dict) -> tuple[str, dict]:
    """(schedule, train settings): the recipe-level keys taken out."""
    rest = dict(settings)
    rest.pop("rounds", None)
    rest.pop("recipe", None)
    return rest.pop("schedule", "restart"), rest


def gradual_settings(pruning: Pruning) -> dict:
    """The train settings that make a run prune gradually to ``pruning``."""
    only = {"prune_classes": list(pruning.only_classes)} if pruning.only_classes else {}
    return {"prune_to": pruning.sparsity, "prune_criterion": pruning.criterion,
            "prune_allocation": pruning.allocation, "prune_granularity": pruning.granularity, **only}


def oneshot(dense: Path, out: Path, pruning: Pruning, settings: dict, *, device: str = "cpu",
            progress: bool = False) -> Path:
    """See et al.: prune once to the target, then retrain with the mask fixed."""
    schedule, train = split_settings(settings)
    prune(dense, pruning, out / "pruned", device=device)
    retrain(out / "pruned", out / "model", train_overrides=train, schedule=schedule, device=device,
            progress=progress)
    return out / "model"


def gradual(dense: Path, out: Path, pruning: Pruning, settings: dict, *, device: str = "cpu",
            progress: bool = False, teacher: bool = False) -> Path:
    """Zhu & Gupta: retrain the dense model while pruning it on a cubic schedule."""
    schedule, train = split_settings(settings)
    train = {**train, **gradual_settings(pruning)}
    retrain(dense, out / "model", train_overrides=train, prune_to=pruning.sparsity, schedule=schedule,
            teacher=str(dense) if teacher else None, device=device, progress=progress)
    return out / "model"


def gradual_kd(dense: Path, out: Path, pruning: Pruning, settings: dict, *, device: str = "cpu",
               progress: bool = False) -> Path:
    """Gradual pruning with word-level distillation from the dense model (Kim & Rush)."""
    return gradual(dense, out, pruning, settings, device=device, progress=progress, teacher=True)


def iterative(dense: Path, out: Path, pruning: Pruning, settings: dict, *, device: str = "cpu",
              progress: bool = False) -> Path:
    """Han et al.: ``rounds`` rounds of pruning a share of the kept weights + retraining,
    the epochs split evenly over the rounds."""
    rounds = int(settings.get("rounds", 3))
    schedule, train = split_settings(settings)
    epochs = max(1, int(train.pop("epochs", rounds)) // rounds)
    if train.get("max_steps"):
        train["max_steps"] = max(1, train["max_steps"] // rounds)
    r = iterate(dense, out / "iterative", pruning, rounds=rounds, epochs=epochs, train_overrides=train,
                device=device, progress=progress, schedule=schedule)
    return Path(r["final"])


@dataclass(frozen=True)
class Recipe:
    """A recovery recipe: the function that runs it and what it is (for captions and tables)."""
    run: Callable[..., Path]
    description: str


RECIPES: dict[str, Recipe] = {
    "oneshot": Recipe(oneshot, "one cut, then retraining with the mask fixed"),
    "gradual": Recipe(gradual, "gradual pruning while retraining the dense model"),
    "gradual_kd": Recipe(gradual_kd, "gradual pruning with distillation from the dense model"),
    "iterative": Recipe(iterative, "rounds of pruning a share of the kept weights + retraining"),
}
