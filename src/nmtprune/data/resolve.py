"""What a ``--data`` value names: a directory of raw files, or a registered corpus.

An existing directory always wins, so a local folder that happens to be called
``multi30k`` is used as is; only a value that is not a directory is looked up
in the registry (and fetched into the cache on first use).
"""
from __future__ import annotations

import os
from pathlib import Path

from ..errors import NmtpruneError
from .corpora import CORPORA, cache_dir, corpus_files
from .download import download, is_verified


def no_such_data(spec: str | os.PathLike) -> NmtpruneError:
    """The one-line error for a ``--data`` that is neither a directory nor a corpus name."""
    names = ", ".join(CORPORA)
    return NmtpruneError(f"{spec}: data directory not found, and not a registered corpus "
                         f"(registered: {names}); pass a directory of {{split}}.{{lang}}[.gz] files, "
                         f"or a name such as --data {next(iter(CORPORA))} (fetched on first use; "
                         f"`nmtprune download NAME` fetches ahead)")


def resolve_data(spec: str | os.PathLike, *, langs=None, progress: bool | None = None) -> Path:
    """The directory of raw files that ``spec`` stands for.

    Args:
        spec: a directory, or a registered corpus name such as ``multi30k``.
        langs: the languages needed; a corpus fetches only their files.
        progress: progress bars while downloading (default: when stderr is a terminal).
    Raises:
        NmtpruneError: ``spec`` is neither, or its download failed.
    """
    path = Path(spec).expanduser()
    if path.is_dir():
        return path
    name = str(spec)
    if name not in CORPORA:
        raise no_such_data(spec)
    out = cache_dir(name)
    files = corpus_files(name, langs=langs)
    if all(is_verified(out / f, sha) for f, sha in files.items()):
        return out
    return download(name, out=out, langs=langs, progress=progress)
