"""Data-driven scores kept on disk, so a study scores each baseline once per setting.

OBD and SNIP scores depend only on the weights, the scoring sentences and the
scoring settings, not on the sparsity or the allocation; the study asks for the
same scores of the same baseline at many sparsities (the quick study: 12 OBD runs,
~50 s of scoring each at 32 x 64 sentences). The key hashes everything the scores
depend on, so a changed model, corpus or setting never reuses a stale file; files
are written atomically (concurrent runs computing the same key both write the
same bytes).
"""
from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from ..fileio import atomic_path
from ..model.seq2seq import Seq2Seq
from .saliency import Scores, ScoringData

logger = logging.getLogger(__name__)


def score_key(criterion: str, model: Seq2Seq, names: list[str], data: ScoringData) -> str:
    """SHA-256 over the criterion, the scoring settings, the weights and the scoring sentences."""
    h = hashlib.sha256()
    h.update(repr((criterion, data.hessian, data.batches, data.batch_size, data.seed,
                   torch.device(data.device).type, names)).encode())
    params = dict(model.named_parameters())
    for n in names:
        h.update(params[n].detach().cpu().contiguous().numpy().tobytes())
    for i in data.sentences():
        for side in ("src", "tgt"):
            h.update(np.asarray(getattr(data.corpus, side)[i], dtype=np.int64).tobytes())
    return h.hexdigest()[:32]


def cached_scores(criterion: str, fn: Callable[[Seq2Seq, list[str], ScoringData], Scores], model: Seq2Seq,
                  names: list[str], data: ScoringData) -> Scores:
    """``fn(model, names, data)``, read from ``data.cache`` when computed before (plain score
    tensors only: the data-driven criteria have no lazy ``fn`` and no separate spread)."""
    path = Path(data.cache) / f"{criterion}-{score_key(criterion, model, names, data)}.safetensors"
    if path.is_file():
        logger.debug(f"scores from {path}")
        dev = torch.device(data.device)
        return Scores({n: t.to(dev) for n, t in load_file(str(path)).items()})
    scores = fn(model, names, data)
    if scores.fn is None and scores.spread is None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            save_file({n: t.detach().cpu().contiguous() for n, t in scores.tensors.items()}, str(tmp))
    return scores
