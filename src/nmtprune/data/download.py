"""Fetching a named corpus: streamed, hashed while it arrives, checked, then renamed into place.

Each file is written to a uniquely named ``.part`` file beside its target and only
``os.replace``-d over it once its length and SHA-256 are right, so an interrupted or
corrupted transfer never leaves a file that looks complete, and two processes
fetching the same corpus at once (pytest-xdist, two commands) cannot corrupt it:
the last rename wins and both wrote the same verified bytes.
"""
from __future__ import annotations

import hashlib
import http.client
import logging
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

from tqdm import tqdm

from ..errors import NmtpruneError, choose
from ..fileio import atomic_path, ensure_writable_dir
from .corpora import CORPORA, MIRROR_ENV, cache_dir, corpus_files, source_url

logger = logging.getLogger(__name__)

CHUNK = 1 << 16
TIMEOUT = 30.0      # seconds without a byte before a transfer counts as failed


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def is_verified(path: Path, sha: str) -> bool:
    """``path`` exists and has the expected SHA-256."""
    return path.is_file() and sha256_file(path) == sha


def _stream(url: str, tmp: Path, name: str, progress: bool, timeout: float) -> str:
    """Copy ``url`` into ``tmp``; return its SHA-256. Raises on an HTTP error or a short body."""
    h = hashlib.sha256()
    got = 0
    with urllib.request.urlopen(url, timeout=timeout) as r, open(tmp, "wb") as f:
        length = r.headers.get("Content-Length")
        expected = int(length) if length and length.isdigit() else None
        with tqdm(total=expected, desc=name, unit="B", unit_scale=True, unit_divisor=1024,
                  disable=not progress, leave=False) as bar:
            while block := r.read(CHUNK):
                f.write(block)
                h.update(block)
                got += len(block)
                bar.update(len(block))
        # urllib returns a short body without complaint when the server closes early.
        if expected is not None and got != expected:
            raise ConnectionError(f"transfer interrupted after {got} of {expected} bytes")
        f.flush()
        os.fsync(f.fileno())
    return h.hexdigest()


def fetch_file(url: str, target: Path, sha: str, *, progress: bool = False, timeout: float | None = None) -> Path:
    """Download ``url`` to ``target`` and check its SHA-256; nothing is left behind on failure."""
    hint = (f"check the network and retry; offline, set {MIRROR_ENV} to a server or directory holding "
            "<corpus>/<file>, or pass --data DIR with the raw files")
    with atomic_path(target, suffix=".part") as tmp:       # renamed over target only once verified
        try:
            got = _stream(url, tmp, target.name, progress, TIMEOUT if timeout is None else timeout)
        except urllib.error.HTTPError as e:
            raise NmtpruneError(f"cannot download {target.name} from {url} (HTTP {e.code} {e.reason}); "
                                f"{hint}") from None
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as e:
            reason = getattr(e, "reason", None) or e
            raise NmtpruneError(f"cannot download {target.name} from {url} ({reason}); {hint}") from None
        if got != sha:
            raise NmtpruneError(f"{target.name} from {url}: checksum mismatch (got sha256 {got[:12]}..., "
                                f"expected {sha[:12]}...); the file was not kept; {hint}")
    return target


def download(corpus: str, *, out: str | Path | None = None, langs=None, progress: bool | None = None) -> Path:
    """Make sure every file of ``corpus`` (of ``langs`` only, when given) is in ``out``, verified.

    Args:
        corpus: a registered name (see :data:`nmtprune.data.corpora.CORPORA`).
        out: target directory; default: the corpus's cache directory.
        langs: restrict to the files of these languages.
        progress: show a progress bar per file; default: when stderr is a terminal.
    Returns:
        the directory holding the files.
    """
    choose("corpus", corpus, CORPORA)
    files = corpus_files(corpus, langs=langs)
    out = ensure_writable_dir(cache_dir(corpus) if out is None else out)
    if progress is None:
        progress = sys.stderr.isatty()
    for name, sha in files.items():
        target = out / name
        if is_verified(target, sha):
            continue
        if target.exists():
            logger.warning(f"{target}: checksum mismatch, fetching it again")
        url = source_url(corpus, name)
        logger.info(f"downloading {url}")
        fetch_file(url, target, sha, progress=progress)
    return out
