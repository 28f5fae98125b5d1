"""A lexical shortlist: the target words a batch may produce, from its source words.

Most of a decoding step's time over the vocabulary (the softmax layer's
product, the log-sum-exp, the search for the best candidates) is spent on
words no hypothesis of the batch will ever take. Marian's lexical shortlist
restricts each batch's softmax to the ``frequent`` most frequent target words
plus, for every source word in the batch, its ``per_word`` most likely
translations. Ours learns those from co-occurrence on the training pairs:
``p(t | s) = sentences with both s and t / sentences with s``, ranked among
the words not already in the frequent set (which would fill every list).

Scores are then exact over the shortlist (a log-softmax over fewer words), so
the search is the same beam search over a smaller vocabulary; a word outside
it can never be produced, which is the approximation whose BLEU cost
``benchmarks/decode_speed.py`` measures on the validation split.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..checkpoint.model_file import Checkpoint
from ..data.tokenizers import EOS
from ..errors import NmtpruneError

@dataclass(frozen=True)
class Shortlist:
    """``frequent``: (F,) target ids always kept (the specials first);
    ``table``: (Vs, per_word) target ids per source id, -1 where a word has fewer."""
    frequent: torch.Tensor
    table: torch.Tensor

    def ids_for(self, src: torch.Tensor) -> torch.Tensor:
        """Sorted target ids a batch may produce. src: (B, S) source ids (padding included:
        the pad id's row is empty) -> (V',) long, always holding EOS and the frequent words."""
        cand = self.table.index_select(0, src.reshape(-1).cpu().unique()).reshape(-1)
        ids = torch.cat([self.frequent, cand[cand >= 0]]).unique()   # sorted
        return ids.to(src.device)

    def save(self, path: str | Path) -> None:
        from safetensors.torch import save_file

        from ..fileio import atomic_path
        with atomic_path(path) as tmp:
            save_file({"frequent": self.frequent.int(), "table": self.table.int()}, str(tmp))

    @classmethod
    def load(cls, path: str | Path) -> "Shortlist":
        from safetensors.torch import load_file
        t = load_file(str(path))
        return cls(t["frequent"].long(), t["table"].long())


def cooccurrence(src: list[np.ndarray], tgt: list[np.ndarray], tgt_vocab: int) -> tuple[np.ndarray, np.ndarray]:
    """Sentence-level co-occurrence: unique keys ``s * tgt_vocab + t`` and how many pairs hold both."""
    keys = [np.add.outer(np.unique(s).astype(np.int64) * tgt_vocab, np.unique(t)).ravel()
            for s, t in zip(src, tgt)]
    return np.unique(np.concatenate(keys) if keys else np.zeros(0, np.int64), return_counts=True)


def build_shortlist(src: list[np.ndarray], tgt: list[np.ndarray], *, src_vocab: int, tgt_vocab: int,
                    frequent: int = 100, per_word: int = 50) -> Shortlist:
    """A shortlist from training pairs of token-id arrays (see the module docstring)."""
    if frequent < 1 or per_word < 1:
        raise NmtpruneError(f"shortlist sizes must be >= 1, got frequent={frequent}, per_word={per_word}")
    if len(src) != len(tgt) or not src:
        raise NmtpruneError("a shortlist needs a non-empty set of sentence pairs")
    counts = np.bincount(np.concatenate(tgt), minlength=tgt_vocab)
    counts[:EOS + 1] = np.iinfo(np.int64).max            # specials first, EOS always kept
    top = np.argsort(-counts, kind="stable")[:min(frequent, tgt_vocab)]
    keys, both = cooccurrence(src, tgt, tgt_vocab)
    s, t = keys // tgt_vocab, keys % tgt_vocab
    keep = ~np.isin(t, top)
    s, t, both = s[keep], t[keep], both[keep]
    # Within one source word, p(t | s) ranks like the joint count: sort by (s, -count, t).
    order = np.lexsort((t, -both, s))
    s, t = s[order], t[order]
    first = np.searchsorted(s, s, side="left")
    rank = np.arange(s.size) - first
    take = rank < per_word
    table = np.full((src_vocab, per_word), -1, np.int64)
    table[s[take], rank[take]] = t[take]
    return Shortlist(torch.from_numpy(np.sort(top)), torch.from_numpy(table))


# Chosen on the validation split (de->en, small): 100 frequent + 30 per source word left
# dense BLEU unchanged (40.43 vs 40.44) with ~1,950 of 8,000 words per 64-sentence batch.
FREQUENT, PER_WORD = 100, 30


def prepared_shortlist(prepared_dir: str | Path, *, src_vocab: int, tgt_vocab: int,
                       frequent: int = FREQUENT, per_word: int = PER_WORD) -> Shortlist:
    """The shortlist of a prepared directory's training split, built once (about a second
    for Multi30k) and cached there as ``shortlist.f{F}.k{K}.safetensors``."""
    from ..data.prepared import Prepared
    path = Path(prepared_dir) / f"shortlist.f{frequent}.k{per_word}.safetensors"
    if path.is_file():
        found = Shortlist.load(path)
        if found.table.size(0) == src_vocab and int(found.frequent.max()) < tgt_vocab:
            return found
    prep = Prepared(prepared_dir)
    corpus = prep.load(prep.cfg.train_split)
    shortlist = build_shortlist(corpus.src, corpus.tgt, src_vocab=src_vocab, tgt_vocab=tgt_vocab,
                                frequent=frequent, per_word=per_word)
    try:
        shortlist.save(path)
    except OSError:         # a read-only prepared directory: rebuild next time
        pass
    return shortlist


def checkpoint_shortlist(ck: Checkpoint) -> Shortlist:
    """A loaded checkpoint's shortlist, learnt from the prepared data it was trained on."""
    if not ck.prep or not (Path(ck.prep) / "prep.json").is_file():
        raise NmtpruneError(f"--shortlist is learnt from the model's prepared training data, and {ck.path} "
                            f"has none here ({ck.prep or 'none recorded'})")
    cfg = ck.model.cfg
    return prepared_shortlist(ck.prep, src_vocab=cfg.src_vocab, tgt_vocab=cfg.tgt_vocab)
