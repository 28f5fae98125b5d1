"""Translate raw text with a loaded model: tokenize, batch by length, decode, detokenize."""
from __future__ import annotations

import torch
from tqdm import tqdm

from .batching import pad_sources
from .kernels import Stepper
from .model import Seq2Seq
from .search import beam_search, greedy_search
from .vocab import Tokenizer

ENCODE_BATCHES = 8          # decoding batches encoded per encoder call


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
    bar = tqdm(total=len(order), desc="translate", unit="sent", disable=not progress, leave=False)
    # The encoder runs over several decoding batches at once: a packed LSTM pays a fixed
    # cost per time step, so fewer, wider calls are cheaper (test set: 0.22 -> 0.19 s).
    chunk = batch_size * ENCODE_BATCHES
    for c0 in range(0, len(order), chunk):
        cidx = order[c0:c0 + chunk]
        csrc, clen = pad_sources([sources[i] for i in cidx])
        with torch.inference_mode():
            memory, state = stepper.encode(csrc.to(device), clen.to(device))
        for start in range(0, len(cidx), batch_size):
            rows = torch.arange(start, min(start + batch_size, len(cidx)))
            src_len = clen[rows]
            S = int(src_len.max())
            src, src_len = csrc[rows, :S].to(device), src_len.to(device)
            rows = rows.to(device)
            enc = (memory.index_select(rows, S), state.index_select(rows))
            if beam == 1:
                hyps = greedy_search(model, src, src_len, max_len_a, max_len_b, stepper, enc)
            else:
                hyps = beam_search(model, src, src_len, beam, alpha, max_len_a, max_len_b, stepper, encoded=enc)
            for i, h in zip(cidx[start:start + batch_size], hyps):
                out[i] = h
            bar.update(len(hyps))
    bar.close()
    return out


def translate_lines(model: Seq2Seq, src_tok: Tokenizer, tgt_tok: Tokenizer, lines: list[str],
                    beam: int = 5, batch_size: int = 64, device: str | torch.device = "cpu",
                    progress: bool = False, **kw) -> list[str]:
    """Translate raw sentences to detokenized text."""
    ids = [src_tok.encode(line) for line in lines]
    hyps = translate_ids(model, ids, beam, batch_size, device=device, progress=progress, **kw)
    return [tgt_tok.decode(h) for h in hyps]
