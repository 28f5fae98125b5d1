"""Translate raw text with a loaded model: tokenize, batch by length, decode, detokenize."""
from __future__ import annotations

from typing import Callable

import torch
from tqdm import tqdm

from ..data.batching import pad_sources
from ..data.tokenizers import Tokenizer
from ..errors import NmtpruneError
from ..model.seq2seq import Seq2Seq
from .kernels import Stepper
from .search import beam_search, greedy_search
from .shortlist import Shortlist
from .workers import check_workers, resolve_workers, run_forked

ENCODE_BATCHES = 8          # decoding batches encoded per encoder call


def check_decoding(beam: int, workers: int) -> None:
    """Reject a bad ``--beam`` or ``--workers`` before anything is loaded."""
    if beam < 1 or beam > 100:
        raise NmtpruneError(f"--beam must be between 1 and 100, got {beam}")
    check_workers(workers)


def translate_ids(model: Seq2Seq, sources: list[list[int]], *, beam: int = 5, batch_size: int = 64,
                  alpha: float = 1.0, max_len_a: float = 2.0, max_len_b: int = 10,
                  device: str | torch.device = "cpu", progress: bool = False,
                  kernels: str = "dense", workers: int = 0,
                  shortlist: Shortlist | None = None, stepper: Stepper | None = None) -> list[list[int]]:
    """Decode token-id sources (order preserved). ``beam`` 1 is greedy search.

    Sources are sorted by length and cut into batches of ``batch_size``.
    ``kernels``: ``dense``, ``sparse`` (CSR products), ``auto`` (measured per matrix)
    or ``bf16``. ``workers``: processes decoding every W-th batch (0 = one per CPU
    thread; see :mod:`nmtprune.decode.workers`); each batch decodes the same in any worker.
    ``shortlist``: score only each batch's shortlisted target words (see :mod:`.shortlist`).
    ``stepper``: a :class:`Stepper` of ``model`` built earlier (e.g. by a server decoding one
    request at a time), so its weights are not converted and its kernels not measured again;
    ``kernels`` is then ignored.
    """
    if beam < 1:
        raise ValueError(f"beam must be >= 1, got {beam}")
    model.eval()
    stepper = stepper or Stepper(model, kernels, rows=batch_size * beam)
    order = sorted(range(len(sources)), key=lambda i: len(sources[i]))
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    n_workers = resolve_workers(workers, device, len(batches))

    def decode(idx: list[int], report) -> list[list[int]]:
        return _decode_sorted(model, stepper, [sources[i] for i in idx], beam=beam, batch_size=batch_size,
                              alpha=alpha, max_len_a=max_len_a, max_len_b=max_len_b, device=device, report=report,
                              shortlist=shortlist)

    out: list[list[int]] = [[] for _ in sources]
    bar = tqdm(total=len(order), desc="translate", unit="sent", disable=not progress, leave=False)
    # Worker j takes batches j, j+W, ...: lengths interleave, so the shards take about equally long.
    shards = [[i for b in batches[j::n_workers] for i in b] for j in range(n_workers)]
    if n_workers == 1:
        results = [decode(shards[0], bar.update)]
    else:
        results = run_forked(decode, shards, progress=bar.update)
    for shard, hyps in zip(shards, results):
        for i, h in zip(shard, hyps):
            out[i] = h
    bar.close()
    return out


def _decode_sorted(model: Seq2Seq, stepper: Stepper, sources: list[list[int]], *, beam: int, batch_size: int,
                   alpha: float, max_len_a: float, max_len_b: int, device: str | torch.device,
                   report: Callable[[int], object], shortlist: Shortlist | None = None) -> list[list[int]]:
    """Decode sources already sorted by length, in consecutive batches of ``batch_size``."""
    out: list[list[int]] = []
    # The encoder runs over several decoding batches at once: a packed LSTM pays a fixed
    # cost per time step, so fewer, wider calls are cheaper (test set: 0.22 -> 0.19 s).
    chunk = batch_size * ENCODE_BATCHES
    for c0 in range(0, len(sources), chunk):
        csrc, clen = pad_sources(sources[c0:c0 + chunk])
        with torch.inference_mode():
            memory, state = stepper.encode(csrc.to(device), clen.to(device))
        for start in range(0, csrc.size(0), batch_size):
            rows = torch.arange(start, min(start + batch_size, csrc.size(0)))
            src_len = clen[rows]
            S = int(src_len.max())
            src, src_len = csrc[rows, :S].to(device), src_len.to(device)
            rows = rows.to(device)
            enc = (memory.index_select(rows, length=S), state.index_select(rows))
            if shortlist is not None:
                stepper.narrow(shortlist.ids_for(src))
            if beam == 1:
                hyps = greedy_search(model, src, src_len, max_len_a=max_len_a, max_len_b=max_len_b,
                                     stepper=stepper, encoded=enc)
            else:
                hyps = beam_search(model, src, src_len, beam=beam, alpha=alpha, max_len_a=max_len_a,
                                   max_len_b=max_len_b, stepper=stepper, encoded=enc)
            out.extend(hyps)
            report(len(hyps))
    return out


def translate_lines(model: Seq2Seq, src_tok: Tokenizer, tgt_tok: Tokenizer, lines: list[str], *,
                    beam: int = 5, batch_size: int = 64, device: str | torch.device = "cpu",
                    progress: bool = False, **kw) -> list[str]:
    """Translate raw sentences to detokenized text.

    ``kw``: further :func:`translate_ids` settings (``alpha``, ``kernels``, ``workers``, ...).
    """
    ids = [src_tok.encode(line) for line in lines]
    hyps = translate_ids(model, ids, beam=beam, batch_size=batch_size, device=device, progress=progress, **kw)
    return [tgt_tok.decode(h) for h in hyps]
