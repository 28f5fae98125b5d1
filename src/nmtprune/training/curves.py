"""Training curves for TensorBoard (``--tensorboard``): event files in ``<run dir>/tensorboard/``.

Per optimizer step: ``train/loss`` (per target token, as the epoch's train loss is),
``train/ppl`` (its exp), ``train/lr`` and ``train/sparsity`` (the share of masked weights;
0 for a dense run). Per epoch, at its last step: ``valid/ppl``. Writing them needs the
``tensorboard`` package, an extra: ``pip install 'nmtprune[tensorboard]'``.
"""
from __future__ import annotations

import math
from pathlib import Path

from ..errors import NmtpruneError

TB_DIR = "tensorboard"


def summary_writer():
    """torch's ``SummaryWriter`` class; a one-line error where the tensorboard package is missing
    (checked before a run starts, so a missing package never leaves a half-made run directory)."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise NmtpruneError("--tensorboard needs the tensorboard package: pip install 'nmtprune[tensorboard]'") \
            from None
    return SummaryWriter


class Curves:
    """The scalars of one run, written as TensorBoard events."""

    def __init__(self, rundir: Path):
        self.writer = summary_writer()(log_dir=str(Path(rundir) / TB_DIR))

    def step(self, step: int, loss: float, lr: float, sparsity: float) -> None:
        w = self.writer
        w.add_scalar("train/loss", loss, step)
        w.add_scalar("train/ppl", math.exp(min(loss, 50.0)), step)   # exp overflows past ~709
        w.add_scalar("train/lr", lr, step)
        w.add_scalar("train/sparsity", sparsity, step)

    def epoch(self, step: int, valid_ppl: float) -> None:
        self.writer.add_scalar("valid/ppl", valid_ppl, step)

    def close(self) -> None:
        self.writer.close()
