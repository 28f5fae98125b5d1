"""Reading corpora (plain or gzip, strict UTF-8) and writing files atomically.

Every file nmtprune writes goes through :func:`atomic_write` (or
:func:`atomic_path`): the data lands in a temporary file in the same directory
and is renamed over the target, so a kill never leaves a half-written file and
an existing output is only replaced by a complete new one. The one exception is
a run's log (:func:`log_file`), which grows line by line while the run lasts.
"""
from __future__ import annotations

import contextlib
import gzip
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Iterator

from .errors import NmtpruneError

_UMASK = os.umask(0)
os.umask(_UMASK)
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def read_lines(path: str | os.PathLike) -> list[str]:
    """Read a text file (``.gz`` transparently) as a list of lines without newlines.

    Raises:
        NmtpruneError: the file is missing, unreadable or not valid UTF-8 (naming
            the file and the 1-based line).
    """
    path = Path(path)
    if not path.is_file():
        raise NmtpruneError(f"{path}: no such file")
    try:
        with open(path, "rb") as f:
            raw = f.read()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError) as e:
        raise NmtpruneError(f"{path}: cannot read ({e})") from None
    lines = raw.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    out = []
    for i, line in enumerate(lines, 1):
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as e:
            raise NmtpruneError(f"{path}:{i}: invalid UTF-8 at byte {e.start}") from None
        out.append(text.rstrip("\r"))
    return out


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike, *, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path next to ``target``; rename it over ``target`` on success.

    On an exception the temporary file is removed and ``target`` is untouched.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=suffix)
    os.close(fd)
    tmp = Path(tmp)
    os.chmod(tmp, 0o666 & ~_UMASK)   # mkstemp makes 0600; outputs should look like normal files
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def atomic_write(target: str | os.PathLike, data: str | bytes) -> None:
    """Write ``data`` (text is UTF-8 encoded) to ``target`` atomically."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    with atomic_path(target) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())


def write_json(target: str | os.PathLike, obj) -> None:
    """Write ``obj`` as indented JSON, atomically."""
    atomic_write(target, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def read_json(path: str | os.PathLike) -> dict:
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NmtpruneError(f"{path}: no such file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise NmtpruneError(f"{path}: not valid JSON ({e})") from None


def ensure_writable_dir(path: str | os.PathLike) -> Path:
    """Create ``path`` if needed and check we can write there (clear error if not)."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise NmtpruneError(f"{path}: cannot create output directory ({e.strerror})") from None
    if not os.access(path, os.W_OK):
        raise NmtpruneError(f"{path}: output directory is not writable")
    return path


@contextlib.contextmanager
def log_file(path: str | os.PathLike, *, logger: str = "nmtprune") -> Iterator[None]:
    """Copy the messages of ``logger`` and its children (INFO and above) into ``path`` while
    the block runs. Appended to, so a resumed run continues its log."""
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.setLevel(logging.INFO)
    log = logging.getLogger(logger)
    level = log.level
    # INFO records must be created for the file even where nobody configured logging
    # (the default threshold is WARNING); the console still shows only what its handlers allow.
    if log.getEffectiveLevel() > logging.INFO:
        log.setLevel(logging.INFO)
    log.addHandler(handler)
    try:
        yield
    finally:
        log.removeHandler(handler)
        handler.close()
        log.setLevel(level)
