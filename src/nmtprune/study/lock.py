"""One driver per study directory: an OS file lock on ``<study>/.lock``, held for the whole study.

Two drivers on one directory would train into the same run directories, and
an attempt that restarts deletes its run directory, so one could wipe the
other's work. The lock is ``flock``: the kernel drops it when its holder
exits, however it exits (a SIGKILLed driver leaves no stale lock). The file
keeps who holds it (pid, host, start time, command) for the refusal message;
``study --status`` only reads the store and never takes the lock.
"""
from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import socket
import time
from pathlib import Path
from typing import Iterator

from ..errors import NmtpruneError

logger = logging.getLogger(__name__)
LOCK_FILE = ".lock"


def holder(path: Path) -> str:
    """Who holds the lock at ``path``, in words (from what the holder wrote there)."""
    try:
        info = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        info = {}
    if not info.get("pid"):
        return "a driver that is just starting"
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info.get("started", 0)))
    command = f": {info['command']}" if info.get("command") else ""
    return f"pid {info['pid']} on {info.get('host', '?')}, since {since}{command}"


@contextlib.contextmanager
def study_lock(out: Path, *, command: str | None = None) -> Iterator[None]:
    """Hold the lock of study directory ``out`` for the ``with`` block, or refuse at once."""
    try:
        import fcntl
    except ImportError:                 # no flock (Windows): one driver per directory is up to the user
        logger.warning("no OS file locks here: make sure only one study driver uses %s", out)
        yield
        return
    path = Path(out) / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES):
                raise NmtpruneError(f"{path}: cannot lock the study directory ({e.strerror})") from None
            raise NmtpruneError(f"{out} is in use by another study driver ({holder(path)}); "
                                "wait for it or stop it (its lock goes with it)") from None
        # Written in place, not by atomic rename: the lock belongs to this inode, and a
        # renamed-in file would be a new, unlocked one.
        info = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time(), "command": command or ""}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode("utf-8"), 0)
        yield
    finally:
        # Closing releases the lock. The file stays: unlinking a lock file races a driver
        # that has just opened it and would then lock a deleted inode.
        os.close(fd)
