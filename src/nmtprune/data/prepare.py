"""``prepare``: raw parallel text -> tokenizers + token ids in a prepared directory.

The directory's layout is described in :mod:`nmtprune.data.prepared`.
"""
from __future__ import annotations

import logging
from dataclasses import asdict
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..errors import NmtpruneError
from ..fileio import atomic_path, atomic_write, ensure_writable_dir, write_json
from .corpus import find_splits, read_pair
from .prepared import FORMAT, PrepareConfig, pack
from .resolve import resolve_data
from .tokenizers import Tokenizer, side_tokenizer, train_tokenizer

logger = logging.getLogger(__name__)
ENCODE_CHUNK = 10000          # lines per tokenizer call: the progress bar moves, the batch call stays cheap


def _encode(tok, lines: list[str], bar: tqdm) -> list[list[int]]:
    """``tok.encode_batch(lines)``, in chunks that advance ``bar``."""
    out: list[list[int]] = []
    for i in range(0, len(lines), ENCODE_CHUNK):
        out += tok.encode_batch(lines[i:i + ENCODE_CHUNK])
        bar.update(len(lines[i:i + ENCODE_CHUNK]))
    return out


def prepare(out: str | Path, cfg: PrepareConfig, *, data_dir: str | Path | None = None,
            files: dict[str, tuple[str, str]] | None = None, progress: bool = False) -> Path:
    """Build a prepared directory from raw parallel text.

    Args:
        out: the prepared directory to write.
        cfg: languages, tokenizer and filtering settings.
        data_dir: a directory of ``{split}.{lang}[.gz]`` files (every pair found is prepared),
            or a registered corpus name such as ``multi30k`` (fetched into the cache on first use).
        files: explicit ``{split: (src_file, tgt_file)}``, added to / overriding ``data_dir``.
        progress: bars on stderr: tokenizers trained (SentencePiece reports nothing finer), lines tokenized.
    Returns:
        ``out`` as a Path.
    """
    splits = _find_splits(cfg, data_dir, files)
    raw = {name: read_pair(*paths) for name, paths in splits.items()}
    out = ensure_writable_dir(out)

    train_src, train_tgt = raw[cfg.train_split]
    if not any(s.strip() and t.strip() for s, t in zip(train_src, train_tgt)):
        raise NmtpruneError(f"training split {cfg.train_split!r} ({splits[cfg.train_split][0]}) "
                            "has no non-empty sentence pairs")
    src_tok, tgt_tok, tok_files = _train_tokenizers(cfg, train_src, train_tgt, out, progress)
    stats = _tokenize_splits(out, cfg, raw, (src_tok, tgt_tok), progress)

    meta = {"format": FORMAT, "config": asdict(cfg), "tokenizers": tok_files,
            "vocab_sizes": {"src": src_tok.size, "tgt": tgt_tok.size},
            "splits": sorted(raw), "sources": {k: [str(a.resolve()), str(b.resolve())] for k, (a, b) in splits.items()},
            "stats": stats}
    write_json(out / "prep.json", meta)
    return out


def _find_splits(cfg: PrepareConfig, data_dir: str | Path | None,
                 files: dict[str, tuple[str, str]] | None) -> dict[str, tuple[Path, Path]]:
    """``{split: (src_file, tgt_file)}`` from ``data_dir`` and ``files`` (which wins); raises when
    the training or validation split is missing."""
    splits: dict[str, tuple[Path, Path]] = {}
    if data_dir is not None:
        data_dir = resolve_data(data_dir, langs=(cfg.src, cfg.tgt))
        splits.update(find_splits(data_dir, cfg.src, cfg.tgt))
    for name, (s, t) in (files or {}).items():
        splits[name] = (Path(s), Path(t))
    for need, opt in ((cfg.train_split, "--train-split"), (cfg.valid_split, "--valid-split")):
        if need not in splits:
            where = f"in {data_dir}" if data_dir is not None else "among the given files"
            raise NmtpruneError(f"split {need!r} ({opt}) not found {where} for {cfg.src}-{cfg.tgt}; "
                                f"found: {', '.join(sorted(splits)) or 'none'}")
    return splits


def _train_tokenizers(cfg: PrepareConfig, train_src: list[str], train_tgt: list[str], out: Path,
                      progress: bool) -> tuple[Tokenizer, Tokenizer, dict[str, str]]:
    """Train the source and target tokenizers (or one joint one) into ``out``.

    Returns:
        the source tokenizer, the target tokenizer and ``{"src": file name, "tgt": file name}``.
    """
    bar = tqdm(total=1 if cfg.joint else 2, desc="train tokenizers", unit="tokenizer", disable=not progress,
               leave=False)
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
        bar.update(1)
        tgt_tok, tp = train_tokenizer(cfg.tokenizer, train_tgt, cfg.vocab_size, cfg.min_freq, out / "tgt")
        tok_files = {"src": sp.name, "tgt": tp.name}
    bar.update(1)
    bar.close()
    return src_tok, tgt_tok, tok_files


def _tokenize_splits(out: Path, cfg: PrepareConfig, raw: dict[str, tuple[list[str], list[str]]],
                     toks: tuple[Tokenizer, Tokenizer], progress: bool) -> dict[str, dict]:
    """Tokenize every split into ``{split}.ids.npz`` (the training split filtered, the others'
    raw text copied beside them for scoring); returns the per-split statistics."""
    src_tok, tgt_tok = toks
    stats = {}
    bar = tqdm(total=sum(len(s) + len(t) for s, t in raw.values()), desc="tokenize", unit="line",
               disable=not progress, leave=False)
    for name, (src_lines, tgt_lines) in raw.items():
        src_ids, tgt_ids = _encode(src_tok, src_lines, bar), _encode(tgt_tok, tgt_lines, bar)
        entry = {"lines": len(src_lines)}
        if name == cfg.train_split:
            src_ids, tgt_ids, counts = _filter_train(cfg, src_ids, tgt_ids, src_lines, tgt_lines)
            entry.update(counts)
        else:
            for side, lines in (("src", src_lines), ("tgt", tgt_lines)):
                atomic_write(out / f"{name}.{getattr(cfg, side)}", "".join(l + "\n" for l in lines))
            logger.info(f"{name}: {len(src_lines)} pairs")
        entry["src_tokens"] = sum(map(len, src_ids))
        entry["tgt_tokens"] = sum(map(len, tgt_ids))
        _save_ids(out / f"{name}.ids.npz", src_ids, tgt_ids)
        stats[name] = entry
    bar.close()
    return stats


def _filter_train(cfg: PrepareConfig, src_ids: list[list[int]], tgt_ids: list[list[int]],
                  src_lines: list[str], tgt_lines: list[str]) -> tuple[list[list[int]], list[list[int]], dict]:
    """The training pairs kept: non-empty on both sides and at most ``cfg.max_len`` tokens each.

    Returns:
        the kept source ids, the kept target ids and ``{"kept", "dropped_empty", "dropped_too_long"}``.
    """
    keep = [i for i in range(len(src_ids))
            if src_ids[i] and tgt_ids[i] and src_lines[i].strip() and tgt_lines[i].strip()]
    empty = len(src_ids) - len(keep)
    keep = [i for i in keep if len(src_ids[i]) <= cfg.max_len and len(tgt_ids[i]) <= cfg.max_len]
    too_long = len(src_ids) - empty - len(keep)
    if not keep:
        raise NmtpruneError(f"training split {cfg.train_split!r}: every pair was dropped "
                            f"(empty: {empty}, longer than --max-len {cfg.max_len}: {too_long})")
    logger.info(f"{cfg.train_split}: kept {len(keep)} of {len(src_lines)} pairs "
                f"(dropped {empty} empty, {too_long} longer than {cfg.max_len} tokens)")
    return ([src_ids[i] for i in keep], [tgt_ids[i] for i in keep],
            {"kept": len(keep), "dropped_empty": empty, "dropped_too_long": too_long})


def _save_ids(path: Path, src_ids: list[list[int]], tgt_ids: list[list[int]]) -> None:
    """Write a split's packed token ids (``src``, ``src_off``, ``tgt``, ``tgt_off``) atomically."""
    (sf, so), (tf, to) = pack(src_ids), pack(tgt_ids)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, src=sf, src_off=so, tgt=tf, tgt_off=to)
