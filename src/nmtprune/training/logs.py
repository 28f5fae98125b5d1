"""Where a run's messages go: its ``train.log``, and (or not) the console.

Training code logs through module loggers under ``nmtprune.training``; what
reaches the console is the caller's choice (the CLI prints them on stderr).
While a run lasts, :func:`run_log` also copies them into the run directory's
``train.log`` (appended to, so a resumed run continues its log).
"""
from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Iterator

from .distributed import is_main

LOG_FILE = "train.log"
_LOGGER = logging.getLogger(__package__)          # nmtprune.training: every training module's parent
_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@contextlib.contextmanager
def run_log(rundir: Path) -> Iterator[None]:
    """Attach ``rundir/train.log`` to the training loggers for the duration of the run (rank 0)."""
    if not is_main():
        yield
        return
    handler = logging.FileHandler(rundir / LOG_FILE, encoding="utf-8")
    handler.setFormatter(logging.Formatter(_FORMAT))
    handler.setLevel(logging.INFO)
    level = _LOGGER.level
    # INFO records must be created for the file even where nobody configured logging
    # (the default threshold is WARNING); the console still shows only what its handlers allow.
    if _LOGGER.getEffectiveLevel() > logging.INFO:
        _LOGGER.setLevel(logging.INFO)
    _LOGGER.addHandler(handler)
    try:
        yield
    finally:
        _LOGGER.removeHandler(handler)
        handler.close()
        _LOGGER.setLevel(level)


@contextlib.contextmanager
def console_muted() -> Iterator[None]:
    """Keep training messages off every handler above ``nmtprune.training`` (the console);
    a run's own ``train.log`` still receives them. The study uses it for its many short runs."""
    propagate = _LOGGER.propagate
    _LOGGER.propagate = False
    try:
        yield
    finally:
        _LOGGER.propagate = propagate
