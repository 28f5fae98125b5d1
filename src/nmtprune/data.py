"""``prepare``: raw parallel text -> tokenizers + token ids in a prepared directory.

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

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .errors import NmtpruneError
from .fileio import atomic_path, atomic_write, ensure_writable_dir, read_json, read_lines, write_json
from .vocab import Tokenizer, load_tokenizer, side_tokenizer, train_tokenizer

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
        raise NmtpruneError(f"{data_dir}: data directory not found")
    pat = re.compile(rf"^(.+)\.({re.escape(src)}|{re.escape(tgt)})(\.gz)?$")
    found: dict[str, dict[str, Path]] = {}
    for p in sorted(data_dir.iterdir()):
        m = pat.match(p.name)
        if m and p.is_file():
            found.setdefault(m.group(1), {}).setdefault(m.group(2), p)
    return {s: (d[src], d[tgt]) for s, d in found.items() if src in d and tgt in d}


def _read_pair(src_path: Path, tgt_path: Path) -> tuple[list[str], list[str]]:
    src, tgt = read_lines(src_path), read_lines(tgt_path)
    if len(src) != len(tgt):
        raise NmtpruneError(f"line counts differ: {src_path} has {len(src)} lines, "
                            f"{tgt_path} has {len(tgt)}")
    return src, tgt


def _pack(seqs: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    lengths = np.array([len(s) for s in seqs], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    flat = np.fromiter((t for s in seqs for t in s), dtype=np.int32, count=int(offsets[-1]))
    return flat, offsets


def _unpack(flat: np.ndarray, offsets: np.ndarray) -> list[np.ndarray]:
    return [flat[offsets[i]:offsets[i + 1]] for i in range(len(offsets) - 1)]


def prepare(out: str | Path, cfg: PrepareConfig, data_dir: str | Path | None = None,
            files: dict[str, tuple[str, str]] | None = None, log=print) -> Path:
    """Build a prepared directory from raw parallel text.

    Args:
        out: the prepared directory to write.
        cfg: languages, tokenizer and filtering settings.
        data_dir: a directory of ``{split}.{lang}[.gz]`` files (every pair found is prepared).
        files: explicit ``{split: (src_file, tgt_file)}``, added to / overriding ``data_dir``.
    Returns:
        ``out`` as a Path.
    """
    splits: dict[str, tuple[Path, Path]] = {}
    if data_dir is not None:
        splits.update(find_splits(Path(data_dir), cfg.src, cfg.tgt))
    for name, (s, t) in (files or {}).items():
        splits[name] = (Path(s), Path(t))
    for need, opt in ((cfg.train_split, "--train-split"), (cfg.valid_split, "--valid-split")):
        if need not in splits:
            where = f"in {data_dir}" if data_dir is not None else "among the given files"
            raise NmtpruneError(f"split {need!r} ({opt}) not found {where} for {cfg.src}-{cfg.tgt}; "
                                f"found: {', '.join(sorted(splits)) or 'none'}")
    raw = {name: _read_pair(*paths) for name, paths in splits.items()}
    out = ensure_writable_dir(out)

    train_src, train_tgt = raw[cfg.train_split]
    if not any(s.strip() and t.strip() for s, t in zip(train_src, train_tgt)):
        raise NmtpruneError(f"training split {cfg.train_split!r} ({splits[cfg.train_split][0]}) "
                            "has no non-empty sentence pairs")
    if cfg.joint:
        tok, path = train_tokenizer(cfg.tokenizer, train_src + train_tgt, cfg.vocab_size,
                                    cfg.min_freq, out / "joint")
        src_tok = tgt_tok = tok
        tok_files = {"src": path.name, "tgt": path.name}
        if cfg.side_vocab:
            src_tok, sp = side_tokenizer(tok, train_src, out / "joint-src.side.npz")
            tgt_tok, tp = side_tokenizer(tok, train_tgt, out / "joint-tgt.side.npz")
            tok_files = {"src": sp.name, "tgt": tp.name}
    else:
        src_tok, sp = train_tokenizer(cfg.tokenizer, train_src, cfg.vocab_size, cfg.min_freq, out / "src")
        tgt_tok, tp = train_tokenizer(cfg.tokenizer, train_tgt, cfg.vocab_size, cfg.min_freq, out / "tgt")
        tok_files = {"src": sp.name, "tgt": tp.name}

    stats = {}
    for name, (src_lines, tgt_lines) in raw.items():
        src_ids, tgt_ids = src_tok.encode_batch(src_lines), tgt_tok.encode_batch(tgt_lines)
        entry = {"lines": len(src_lines)}
        if name == cfg.train_split:
            keep = [i for i in range(len(src_ids))
                    if src_ids[i] and tgt_ids[i] and src_lines[i].strip() and tgt_lines[i].strip()]
            empty = len(src_ids) - len(keep)
            keep = [i for i in keep if len(src_ids[i]) <= cfg.max_len and len(tgt_ids[i]) <= cfg.max_len]
            too_long = len(src_ids) - empty - len(keep)
            if not keep:
                raise NmtpruneError(f"training split {cfg.train_split!r}: every pair was dropped "
                                    f"(empty: {empty}, longer than --max-len {cfg.max_len}: {too_long})")
            src_ids, tgt_ids = [src_ids[i] for i in keep], [tgt_ids[i] for i in keep]
            entry.update(kept=len(keep), dropped_empty=empty, dropped_too_long=too_long)
            log(f"{name}: kept {len(keep)} of {len(src_lines)} pairs "
                f"(dropped {empty} empty, {too_long} longer than {cfg.max_len} tokens)")
        else:
            for side, lines in (("src", src_lines), ("tgt", tgt_lines)):
                atomic_write(out / f"{name}.{getattr(cfg, side)}", "".join(l + "\n" for l in lines))
            log(f"{name}: {len(src_lines)} pairs")
        entry["src_tokens"] = sum(map(len, src_ids))
        entry["tgt_tokens"] = sum(map(len, tgt_ids))
        (sf, so), (tf, to) = _pack(src_ids), _pack(tgt_ids)
        with atomic_path(out / f"{name}.ids.npz") as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, src=sf, src_off=so, tgt=tf, tgt_off=to)
        stats[name] = entry

    meta = {"format": FORMAT, "config": asdict(cfg), "tokenizers": tok_files,
            "vocab_sizes": {"src": src_tok.size, "tgt": tgt_tok.size},
            "splits": sorted(raw), "sources": {k: [str(a.resolve()), str(b.resolve())] for k, (a, b) in splits.items()},
            "stats": stats}
    write_json(out / "prep.json", meta)
    return out


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
            corpus = Corpus(_unpack(z["src"], z["src_off"]), _unpack(z["tgt"], z["tgt_off"]), split)
        raw_src, raw_tgt = (self.path / f"{split}.{self.cfg.src}", self.path / f"{split}.{self.cfg.tgt}")
        if raw_src.is_file() and raw_tgt.is_file():
            corpus.raw_src, corpus.raw_tgt = read_lines(raw_src), read_lines(raw_tgt)
        return corpus
