"""``state.pt``: everything a killed run needs to resume exactly where it stopped.

Weights, optimizer, torch RNG and the position in the epoch (``progress``),
written atomically by rank 0 after every epoch (and every ``save_every`` steps).
"""
from __future__ import annotations

from pathlib import Path

import torch

from ..errors import NmtpruneError
from ..fileio import atomic_path
from .distributed import is_main

STATE_FILE = "state.pt"


def save_state(rundir: Path, model, opt, progress: dict, *, masks: dict | None = None) -> None:
    """Write ``rundir/state.pt`` (rank 0 only); ``masks`` when gradual pruning changes them."""
    if not is_main():
        return
    state = {"model": model.state_dict(), "optimizer": opt.state_dict(),
             "torch_rng": torch.get_rng_state(), "progress": progress}
    if masks is not None:
        state["masks"] = {k: v.cpu() for k, v in masks.items()}
    with atomic_path(rundir / STATE_FILE) as tmp:
        torch.save(state, tmp)


def load_training_state(rundir: Path) -> dict | None:
    """The state saved in ``rundir`` (None if there is none)."""
    p = rundir / STATE_FILE
    if not p.is_file():
        return None
    try:
        return torch.load(p, map_location="cpu", weights_only=False)
    except Exception as e:  # a torn file cannot happen (atomic writes) but a foreign one can
        raise NmtpruneError(f"{p}: cannot read training state ({e})") from None
