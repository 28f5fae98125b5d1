"""Tokenizers: SentencePiece (default) or word-level with a frequency cutoff.

Both share the special ids below so models and batches never care which one
produced the ids. A tokenizer is saved as one file: ``*.model`` for
SentencePiece, ``*.words.json`` for word level, ``*.side.npz`` for one side's
share of a joint SentencePiece model (:class:`SideTokenizer`).
"""
from __future__ import annotations

import io
import json
import re
from collections import Counter
from pathlib import Path
from typing import Iterable, Protocol

import numpy as np
import sentencepiece as spm

from ..errors import NmtpruneError
from ..fileio import atomic_write

PAD, UNK, BOS, EOS = 0, 1, 2, 3
SPECIALS = ["<pad>", "<unk>", "<s>", "</s>"]
TOKENIZERS = ("bpe", "unigram", "word")       # the kinds train_tokenizer makes


class Tokenizer(Protocol):
    size: int

    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: list[int]) -> str: ...


class SpmTokenizer:
    """SentencePiece subwords; ``decode`` gives detokenized text."""

    def __init__(self, model_proto: bytes):
        self.proto = model_proto
        self.sp = spm.SentencePieceProcessor(model_proto=model_proto)
        self.size = self.sp.get_piece_size()

    def encode(self, text: str) -> list[int]:
        return self.sp.encode(text)

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        return self.sp.encode(texts)

    def decode(self, ids: list[int]) -> str:
        return self.sp.decode([i for i in ids if i > EOS])


class SideTokenizer:
    """One side's vocabulary of a joint SentencePiece model: only the pieces that
    occur in that side's training text, renumbered compactly (others -> <unk>).

    A joint model segments both languages alike, but the English side uses only
    about half of a de+en 8k vocabulary; a softmax over pieces the target never
    shows wastes half the output layer (OpenNMT-py builds its vocabularies per
    side the same way).
    """

    def __init__(self, model_proto: bytes, keep: Iterable[int]):
        self.base = SpmTokenizer(model_proto)
        self.keep = np.asarray(sorted(set(keep) | set(range(len(SPECIALS)))), dtype=np.int64)
        if self.keep[-1] >= self.base.size:
            raise NmtpruneError(f"piece id {int(self.keep[-1])} is outside the SentencePiece model "
                                f"({self.base.size} pieces)")
        to_compact = np.full(self.base.size, UNK, dtype=np.int64)
        to_compact[self.keep] = np.arange(len(self.keep))
        self._to_compact = to_compact.tolist()
        self._to_base = self.keep.tolist()
        self.size = len(self.keep)

    def encode(self, text: str) -> list[int]:
        m = self._to_compact
        return [m[i] for i in self.base.encode(text)]

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        m = self._to_compact
        return [[m[i] for i in ids] for ids in self.base.encode_batch(texts)]

    def decode(self, ids: list[int]) -> str:
        b = self._to_base
        return self.base.decode([b[i] for i in ids])

    def save(self, path: Path) -> None:
        buf = io.BytesIO()
        np.savez(buf, proto=np.frombuffer(self.base.proto, dtype=np.uint8), keep=self.keep)
        atomic_write(path, buf.getvalue())


def side_tokenizer(tok: Tokenizer, lines: list[str], path: Path) -> tuple[Tokenizer, Path]:
    """The share of joint SentencePiece tokenizer ``tok`` used by ``lines``, saved to ``path``."""
    if not isinstance(tok, SpmTokenizer):
        raise NmtpruneError("per-side vocabularies need a SentencePiece tokenizer (bpe or unigram)")
    seen = {i for ids in tok.encode_batch(lines) for i in ids}
    side = SideTokenizer(tok.proto, seen)
    side.save(path)
    return side, path


# Word level splits punctuation off words so "Büsche." and "Büsche" share an entry.
_WORD_RE = re.compile(r"\w+(?:[-']\w+)*|[^\w\s]", re.UNICODE)
_NO_SPACE_BEFORE = re.compile(r" ([.,!?;:%)\]}])")
_NO_SPACE_AFTER = re.compile(r"([(\[{]) ")


class WordTokenizer:
    """Word-level vocabulary (See et al.-style); words below the cutoff map to <unk>."""

    def __init__(self, words: list[str]):
        self.words = words
        self.index = {w: i for i, w in enumerate(words)}
        self.size = len(words)

    def encode(self, text: str) -> list[int]:
        return [self.index.get(w, UNK) for w in _WORD_RE.findall(text)]

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        return [self.encode(t) for t in texts]

    def decode(self, ids: list[int]) -> str:
        text = " ".join(self.words[i] for i in ids if i > EOS)
        return _NO_SPACE_AFTER.sub(r"\1", _NO_SPACE_BEFORE.sub(r"\1", text))


def train_tokenizer(kind: str, lines: list[str], vocab_size: int, min_freq: int,
                    path_prefix: Path) -> tuple[Tokenizer, Path]:
    """Train a tokenizer on ``lines`` and save it next to ``path_prefix``.

    Args:
        kind: ``bpe``, ``unigram`` (SentencePiece) or ``word``.
        vocab_size: upper bound on the vocabulary (SentencePiece treats it as soft
            so tiny corpora still train).
        min_freq: word level only: words seen fewer times become <unk>.
    Returns:
        The tokenizer and the file it was saved to.
    """
    if kind == "word":
        counts = Counter(w for line in lines for w in _WORD_RE.findall(line))
        kept = [w for w, c in sorted(counts.items(), key=lambda x: (-x[1], x[0])) if c >= min_freq]
        words = SPECIALS + kept[: max(0, vocab_size - len(SPECIALS))]
        path = path_prefix.with_suffix(".words.json")
        atomic_write(path, json.dumps(words, ensure_ascii=False))
        return WordTokenizer(words), path
    if kind not in TOKENIZERS:
        raise NmtpruneError(f"unknown tokenizer {kind!r}; valid: {', '.join(TOKENIZERS)}")
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter([line for line in lines if line.strip()]), model_writer=model,
        vocab_size=vocab_size, model_type=kind, character_coverage=1.0, hard_vocab_limit=False,
        pad_id=PAD, unk_id=UNK, bos_id=BOS, eos_id=EOS, num_threads=2, minloglevel=2,
        input_sentence_size=0)
    path = path_prefix.with_suffix(".model")
    atomic_write(path, model.getvalue())
    return SpmTokenizer(model.getvalue()), path


def load_tokenizer(path: str | Path) -> Tokenizer:
    """Load a tokenizer saved by :func:`train_tokenizer`."""
    path = Path(path)
    if not path.is_file():
        raise NmtpruneError(f"{path}: tokenizer file not found")
    if path.name.endswith(".words.json"):
        return WordTokenizer(json.loads(path.read_text(encoding="utf-8")))
    if path.name.endswith(".side.npz"):
        try:
            with np.load(path) as z:
                return SideTokenizer(z["proto"].tobytes(), z["keep"].tolist())
        except (OSError, ValueError, KeyError, RuntimeError) as e:
            raise NmtpruneError(f"{path}: not a per-side tokenizer file ({e})") from None
    try:
        return SpmTokenizer(path.read_bytes())
    except RuntimeError as e:
        raise NmtpruneError(f"{path}: not a SentencePiece model ({e})") from None
