"""Where a run's messages go: its ``train.log``, and (or not) the console; its curves.

Training code logs through module loggers under ``nmtprune.training``; what
reaches the console is the caller's choice (the CLI prints them on stderr).
While a run lasts, :func:`run_log` also copies them into the run directory's
``train.log`` (appended to, so a resumed run continues its log), and with
``tensorboard`` gives the loop its :class:`~nmtprune.training.curves.Curves`.
"""
from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Iterator

from ..fileio import log_file
from .curves import Curves
from .distributed import is_main

LOG_FILE = "train.log"
_LOGGER = logging.getLogger(__package__)          # nmtprune.training: every training module's parent


@contextlib.contextmanager
def run_log(rundir: Path, *, tensorboard: bool = False) -> Iterator[Curves | None]:
    """Attach ``rundir/train.log`` to the training loggers for the duration of the run; with
    ``tensorboard``, yield the run's curves (closed at the end). Rank 0 only (others get None)."""
    if not is_main():
        yield None
        return
    curves = Curves(rundir) if tensorboard else None
    try:
        with log_file(rundir / LOG_FILE, logger=_LOGGER.name):
            yield curves
    finally:
        if curves is not None:
            curves.close()


@contextlib.contextmanager
def console_muted(*, names: tuple[str, ...] = (_LOGGER.name, "nmtprune.prune")) -> Iterator[None]:
    """Keep the messages of training and pruning off every handler above their loggers (the
    console); a run's own ``train.log`` or ``prune.log`` still receives them. The study uses
    it for its many short runs."""
    loggers = [logging.getLogger(n) for n in names]
    saved = [log.propagate for log in loggers]
    for log in loggers:
        log.propagate = False
    try:
        yield
    finally:
        for log, propagate in zip(loggers, saved):
            log.propagate = propagate
