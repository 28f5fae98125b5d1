"""Token-budget batches with length bucketing, and padded tensors for the model."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .corpus import Corpus
from .tokenizers import BOS, EOS, PAD


@dataclass
class Batch:
    """A padded batch.

    Attributes:
        src: (B, S) source ids, PAD-padded, no BOS/EOS.
        src_len: (B,) true source lengths (>= 1; an empty source holds one EOS).
        tgt_in: (B, T) decoder inputs: BOS y_1 .. y_n, PAD-padded.
        tgt_out: (B, T) decoder targets: y_1 .. y_n EOS, PAD-padded.
        index: (B,) positions of the sentences in their corpus.
    """
    src: torch.Tensor
    src_len: torch.Tensor
    tgt_in: torch.Tensor
    tgt_out: torch.Tensor
    index: torch.Tensor

    @property
    def n_tokens(self) -> int:
        """Number of target tokens scored (EOS included)."""
        return int((self.tgt_out != PAD).sum())

    def to(self, device) -> "Batch":
        return Batch(*(t.to(device, non_blocking=True) for t in
                       (self.src, self.src_len, self.tgt_in, self.tgt_out, self.index)))


def pad_sources(seqs: list, *, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad source id sequences to (B, S); an empty source becomes a lone EOS so it is attendable."""
    seqs = [s if len(s) else [EOS] for s in seqs]
    lens = torch.tensor([len(s) for s in seqs], dtype=torch.long)
    out = torch.full((len(seqs), int(lens.max())), PAD, dtype=torch.long)
    for i, s in enumerate(seqs):
        out[i, :len(s)] = torch.as_tensor(np.asarray(s, dtype=np.int64))
    return out.to(device) if device is not None else out, lens


def collate(corpus: Corpus, idx: list[int]) -> Batch:
    src, src_len = pad_sources([corpus.src[i] for i in idx])
    tl = [len(corpus.tgt[i]) + 1 for i in idx]
    tgt_in = torch.full((len(idx), max(tl)), PAD, dtype=torch.long)
    tgt_out = torch.full_like(tgt_in, PAD)
    for r, i in enumerate(idx):
        t = torch.as_tensor(corpus.tgt[i].astype(np.int64))
        tgt_in[r, 0] = BOS
        tgt_in[r, 1:len(t) + 1] = t
        tgt_out[r, :len(t)] = t
        tgt_out[r, len(t)] = EOS
    return Batch(src, src_len, tgt_in, tgt_out, torch.tensor(idx, dtype=torch.long))


def make_batches(corpus: Corpus, max_tokens: int, *, shuffle: bool = False, seed: int = 0,
                 max_sents: int | None = None, multiple: int = 1) -> list[list[int]]:
    """Group sentence indices into batches of at most ``max_tokens`` padded tokens.

    A batch's cost is ``B * max(longest source, longest target + 1)``. Sentences
    are sorted by length (random tie order when ``shuffle``) so batches have
    little padding; with ``shuffle`` the batch order is permuted too. The result
    depends only on (corpus, max_tokens, shuffle, seed), which makes resuming
    mid-epoch exact. ``multiple``: a full batch holds a multiple of this many
    sentences (the rest start the next batch), so batch shapes repeat and compiled
    CPU kernels (oneDNN builds one per shape) are reused.
    """
    n = len(corpus)
    src_len = np.fromiter((len(s) for s in corpus.src), dtype=np.int64, count=n)
    tgt_len = np.fromiter((len(t) + 1 for t in corpus.tgt), dtype=np.int64, count=n)
    rng = np.random.default_rng(seed)
    order = rng.permutation(n) if shuffle else np.arange(n)
    order = order[np.lexsort((tgt_len[order], src_len[order]))]
    batches, cur, longest = [], [], 0
    for i in order.tolist():
        cost = max(int(src_len[i]), int(tgt_len[i]), 1)
        new_longest = max(longest, cost)
        if cur and (new_longest * (len(cur) + 1) > max_tokens or
                    (max_sents is not None and len(cur) >= max_sents)):
            keep = len(cur) - len(cur) % multiple if len(cur) > multiple else len(cur)
            batches.append(cur[:keep])
            cur = cur[keep:]
            new_longest = max([cost] + [max(int(src_len[j]), int(tgt_len[j]), 1) for j in cur])
        cur.append(i)
        longest = new_longest
    if cur:
        batches.append(cur)
    if shuffle:
        batches = [batches[j] for j in rng.permutation(len(batches))]
    return batches
