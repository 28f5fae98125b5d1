"""The console: nmtprune's log messages as plain lines on stderr, above any progress bar.

The library only logs (module loggers under ``nmtprune``); the CLI decides that
its messages are shown, one line each with no prefix, as the commands always
printed them. Lines go through ``tqdm.write`` so a running progress bar is
redrawn below them instead of being broken.
"""
from __future__ import annotations

import logging
import sys

from tqdm import tqdm


class TqdmHandler(logging.Handler):
    """Write each record as one line on stderr with ``tqdm.write``."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            tqdm.write(self.format(record), file=sys.stderr)
        except Exception:                 # noqa: BLE001 - logging must never break the command
            self.handleError(record)


def log_to_console(*, level: int = logging.INFO) -> None:
    """Show nmtprune's messages at ``level`` and above on stderr (idempotent)."""
    logger = logging.getLogger("nmtprune")
    for h in list(logger.handlers):
        if isinstance(h, TqdmHandler):
            logger.removeHandler(h)
    handler = TqdmHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False          # not twice where the root logger has a handler too
