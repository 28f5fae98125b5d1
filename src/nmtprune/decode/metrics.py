"""Perplexity (exp of mean token NLL, per target subword piece) and sacreBLEU scores with their signatures."""
from __future__ import annotations

import math

import torch
from sacrebleu.metrics import BLEU, CHRF

from ..data.batching import collate, make_batches
from ..data.corpus import Corpus
from ..errors import NmtpruneError
from ..model.seq2seq import Seq2Seq


@torch.inference_mode()
def token_nll(model: Seq2Seq, corpus: Corpus, *, max_tokens: int = 8192,
              device: str | torch.device = "cpu") -> tuple[float, int]:
    """Summed target-token NLL (EOS included, no label smoothing) and the token count."""
    model.eval()
    total, count = 0.0, 0
    for idx in make_batches(corpus, max_tokens):
        batch = collate(corpus, idx).to(device)
        _, nll = model.loss(batch)
        total += float(nll)
        count += batch.n_tokens
    return total, count


def perplexity(model: Seq2Seq, corpus: Corpus, *, max_tokens: int = 8192,
               device: str | torch.device = "cpu") -> float:
    """exp(mean token NLL); ``inf`` if it overflows."""
    total, count = token_nll(model, corpus, max_tokens=max_tokens, device=device)
    try:
        return math.exp(total / max(count, 1))
    except OverflowError:
        return float("inf")


def bleu_chrf(hyps: list[str], refs: list[str]) -> dict:
    """Corpus BLEU (with brevity penalty) and chrF on detokenized text, with signatures."""
    bleu, chrf = BLEU(), CHRF()
    b = bleu.corpus_score(hyps, [refs])
    c = chrf.corpus_score(hyps, [refs])
    return {"bleu": round(b.score, 2), "chrf": round(c.score, 2), "bp": round(b.bp, 4),
            "signature": str(bleu.get_signature()), "chrf_signature": str(chrf.get_signature())}


def sentence_bleu(hyps: list[str], refs: list[str]) -> list[float]:
    """Per-sentence BLEU (effective order, as sacreBLEU recommends for single sentences).

    Raises if the lists differ in length: zip would silently score a shifted or truncated pairing.
    """
    if len(hyps) != len(refs):
        raise NmtpruneError(f"sentence BLEU: {len(hyps)} hypotheses for {len(refs)} references")
    bleu = BLEU(effective_order=True)
    return [bleu.sentence_score(h, [r]).score for h, r in zip(hyps, refs)]
