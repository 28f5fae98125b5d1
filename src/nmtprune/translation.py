"""Translate raw text with a loaded model: tokenize, batch by length, decode, detokenize."""
from __future__ import annotations

import torch
from tqdm import tqdm

from .batching import pad_sources
from .kernels import Stepper
from .model import Seq2Seq
from .search import beam_search, greedy_search
from .vocab import Tokenizer


def translate_ids(model: Seq2Seq, sources: list[list[int]], beam: int = 5, batch_size: int = 64,
                  alpha: float = 1.0, max_len_a: float = 2.0, max_len_b: int = 10,
                  device: str | torch.device = "cpu", progress: bool = False,
                  kernels: str = "dense") -> list[list[int]]:
    """Decode token-id sources (order preserved). ``beam`` 1 is greedy search.

    ``kernels``: ``dense``, ``sparse`` (CSR products) or ``auto`` (measured per matrix).
    """
    if beam < 1:
        raise ValueError(f"beam must be >= 1, got {beam}")
    model.eval()
    stepper = Stepper(model, kernels, rows=batch_size * beam)
    order = sorted(range(len(sources)), key=lambda i: len(sources[i]))
    out: list[list[int]] = [[] for _ in sources]
    starts = range(0, len(order), batch_size)
    for start in tqdm(starts, desc="translate", unit="batch", disable=not progress, leave=False):
        idx = order[start:start + batch_size]
        src, src_len = pad_sources([sources[i] for i in idx])
        src = src.to(device)
        if beam == 1:
            hyps = greedy_search(model, src, src_len.to(device), max_len_a, max_len_b, stepper)
        else:
            hyps = beam_search(model, src, src_len.to(device), beam, alpha, max_len_a, max_len_b, stepper)
        for i, h in zip(idx, hyps):
            out[i] = h
    return out


def translate_lines(model: Seq2Seq, src_tok: Tokenizer, tgt_tok: Tokenizer, lines: list[str],
                    beam: int = 5, batch_size: int = 64, device: str | torch.device = "cpu",
                    progress: bool = False, **kw) -> list[str]:
    """Translate raw sentences to detokenized text."""
    ids = [src_tok.encode(line) for line in lines]
    hyps = translate_ids(model, ids, beam, batch_size, device=device, progress=progress, **kw)
    return [tgt_tok.decode(h) for h in hyps]
