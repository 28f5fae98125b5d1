"""A corpus in memory: token ids of one split (and its raw text), and raw parallel files."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import NmtpruneError
from ..fileio import read_lines


@dataclass
class Corpus:
    """Token ids of one split. ``src[i]``/``tgt[i]`` are int32 arrays without BOS/EOS."""
    src: list[np.ndarray]
    tgt: list[np.ndarray]
    name: str = ""
    raw_src: list[str] = field(default_factory=list)
    raw_tgt: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.src)


def find_splits(data_dir: Path, src: str, tgt: str) -> dict[str, tuple[Path, Path]]:
    """All ``{split}.{lang}[.gz]`` pairs present in ``data_dir`` for both languages."""
    if not data_dir.is_dir():
        # Callers resolve corpus names first (resolve.resolve_data); this is the same message.
        from .resolve import no_such_data
        raise no_such_data(data_dir)
    pat = re.compile(rf"^(.+)\.({re.escape(src)}|{re.escape(tgt)})(\.gz)?$")
    found: dict[str, dict[str, Path]] = {}
    for p in sorted(data_dir.iterdir()):
        m = pat.match(p.name)
        if m and p.is_file():
            found.setdefault(m.group(1), {}).setdefault(m.group(2), p)
    return {s: (d[src], d[tgt]) for s, d in found.items() if src in d and tgt in d}


def read_pair(src_path: Path, tgt_path: Path) -> tuple[list[str], list[str]]:
    """Both sides of a raw parallel corpus as lines; their line counts must match."""
    src, tgt = read_lines(src_path), read_lines(tgt_path)
    if len(src) != len(tgt):
        raise NmtpruneError(f"line counts differ: {src_path} has {len(src)} lines, "
                            f"{tgt_path} has {len(tgt)}")
    return src, tgt
