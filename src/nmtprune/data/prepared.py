"""A prepared directory: what ``prepare`` writes and everything after it reads.

Training never reads raw text again: it loads ``{split}.ids.npz`` from the
prepared directory. Evaluation splits keep every line (so hypotheses stay
aligned with references) and a raw copy of both sides for BLEU.

Layout of a prepared directory::

    prep.json              settings, splits, statistics, tokenizer file names
    src.model, tgt.model   SentencePiece models (or *.words.json; joint: joint.model and
                           joint-{src,tgt}.side.npz, each side's share of it)
    {split}.ids.npz        token ids: src/tgt flat int32 arrays + offsets
    {split}.{lang}         raw text (evaluation splits), for references
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import NmtpruneError
from ..fileio import read_json, read_lines
from .corpus import Corpus
from .tokenizers import Tokenizer, load_tokenizer

FORMAT = 1


@dataclass
class PrepareConfig:
    """Settings of ``nmtprune prepare``."""
    src: str
    tgt: str
    tokenizer: str = "bpe"        # bpe | unigram | word
    vocab_size: int = 8000        # per side (or total when joint)
    joint: bool = False           # one tokenizer shared by both sides
    side_vocab: bool = True       # joint: each side's vocabulary keeps only the pieces it uses
    min_freq: int = 1             # word level: frequency cutoff
    max_len: int = 100            # train split: drop longer pairs (tokens, either side)
    train_split: str = "train"
    valid_split: str = "val"


def pack(seqs: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Token id lists -> one flat int32 array and (n + 1,) offsets."""
    lengths = np.array([len(s) for s in seqs], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    flat = np.fromiter((t for s in seqs for t in s), dtype=np.int32, count=int(offsets[-1]))
    return flat, offsets


def unpack(flat: np.ndarray, offsets: np.ndarray) -> list[np.ndarray]:
    """Inverse of :func:`pack`: views into ``flat``, one per sequence."""
    return [flat[offsets[i]:offsets[i + 1]] for i in range(len(offsets) - 1)]


class Prepared:
    """A prepared directory: its settings, tokenizers and splits."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        meta_path = self.path / "prep.json"
        if not meta_path.is_file():
            raise NmtpruneError(f"{self.path}: not a prepared directory (no prep.json); "
                                "run 'nmtprune prepare' first")
        self.meta = read_json(meta_path)
        if self.meta.get("format") != FORMAT:
            raise NmtpruneError(f"{meta_path}: unsupported format {self.meta.get('format')!r}")
        # Directories written before per-side vocabularies shared the joint one.
        self.cfg = PrepareConfig(**{"side_vocab": False, **self.meta["config"]})

    @property
    def splits(self) -> list[str]:
        return list(self.meta["splits"])

    def tokenizer(self, side: str) -> Tokenizer:
        return load_tokenizer(self.path / self.meta["tokenizers"][side])

    def load(self, split: str) -> Corpus:
        """Token ids (and raw text for evaluation splits) of ``split``."""
        if split not in self.meta["splits"]:
            raise NmtpruneError(f"split {split!r} is not in {self.path}; "
                                f"prepared: {', '.join(self.splits)}")
        with np.load(self.path / f"{split}.ids.npz") as z:
            corpus = Corpus(unpack(z["src"], z["src_off"]), unpack(z["tgt"], z["tgt_off"]), split)
        raw_src, raw_tgt = (self.path / f"{split}.{self.cfg.src}", self.path / f"{split}.{self.cfg.tgt}")
        if raw_src.is_file() and raw_tgt.is_file():
            corpus.raw_src, corpus.raw_tgt = read_lines(raw_src), read_lines(raw_tgt)
        return corpus
