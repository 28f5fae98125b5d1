"""Saliency criteria: ``scores[name]`` has the parameter's shape; higher = keep.

A criterion is one function ``(model, names, ctx) -> Scores`` registered in
:data:`CRITERIA`. Turning scores into masks is :mod:`nmtprune.prune.allocation`'s job,
so every criterion works with every allocation.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
from tqdm import tqdm

from ..data.batching import collate
from ..data.corpus import Corpus
from ..errors import NmtpruneError
from ..model.seq2seq import Seq2Seq


@dataclass
class Scores:
    """Per-parameter scores, possibly lazy.

    ``tensors[name]`` holds the raw values and ``fn`` (if set) maps a chunk of
    raw values to scores. Magnitude pruning passes the weights themselves with
    ``fn = abs``, so no full copy of the model is ever made.
    """
    tensors: dict[str, torch.Tensor]
    fn: Callable[[torch.Tensor], torch.Tensor] | None = None
    # For class_distribution: the tensors whose spread defines sigma_c (See et al.: the weights).
    spread: dict[str, torch.Tensor] | None = None
    # Second key among equal scores (the weights, by |w|): OBD and SNIP give exactly 0 to every
    # weight without gradient on the scoring data; position must not decide which of those go.
    tiebreak: dict[str, torch.Tensor] | None = None

    def __getitem__(self, name: str) -> torch.Tensor:
        t = self.tensors[name]
        return self.fn(t) if self.fn is not None else t

    def __iter__(self):
        return iter(self.tensors)

    def items(self):
        return ((n, self[n]) for n in self.tensors)


@dataclass
class ScoringData:
    """Data for data-driven criteria: ``batches`` batches of ``batch_size`` sentences."""
    corpus: Corpus | None = None
    batches: int = 1
    batch_size: int = 64
    hessian: str = "fisher"            # obd: fisher | hutchinson
    seed: int = 0
    device: str | torch.device = "cpu"
    extra: dict = field(default_factory=dict)
    progress: bool = False             # a bar (on stderr) over the scoring batches
    # Where data-driven scores are kept between calls (see score_cache); None: always computed.
    cache: str | None = None

    def iter_batches(self):
        """``batches`` fixed, seeded random batches (the same sentences on every call)."""
        if self.corpus is None or len(self.corpus) == 0:
            raise NmtpruneError("this criterion needs training data (none recorded with the checkpoint; "
                                "pass --data)")
        if self.batches < 1 or self.batch_size < 1:
            raise NmtpruneError(f"--batches and --batch-size must be >= 1, got {self.batches}, "
                                f"{self.batch_size}")
        order = self.sentences()
        for b in tqdm(range(self.batches), desc="scoring", unit="batch", disable=not self.progress, leave=False):
            yield collate(self.corpus, order[b * self.batch_size:(b + 1) * self.batch_size]).to(self.device)

    def sentences(self) -> list[int]:
        """Indices of the ``batches * batch_size`` scoring sentences (seeded; repeats past the corpus)."""
        order = np.random.default_rng(self.seed).permutation(len(self.corpus)).tolist()
        need = self.batches * self.batch_size
        return (order * (need // len(order) + 1))[:need]

    def vocab_coverage(self, vocab: dict[str, int]) -> dict:
        """Share of each side's vocabulary (``{"src": V_src, "tgt": V_tgt}``) that occurs in the
        scoring sentences: the embedding and softmax rows the scores can see."""
        idx = sorted(set(self.sentences()))
        out: dict = {"sentences": len(idx)}
        for side in ("src", "tgt"):
            seqs = getattr(self.corpus, side)
            seen = np.unique(np.concatenate([np.asarray(seqs[i]) for i in idx])) if idx else []
            out[side] = round(len(seen) / vocab[side], 4)
        return out


def magnitude(model: Seq2Seq, names: list[str], data: ScoringData) -> Scores:
    """|w| (computed chunk by chunk by the allocation, never materialised)."""
    params = dict(model.named_parameters())
    w = {n: params[n].detach() for n in names}
    return Scores(w, torch.abs, spread=w)


def random(model: Seq2Seq, names: list[str], data: ScoringData) -> Scores:
    """Seeded uniform scores: the random-pruning baseline."""
    params = dict(model.named_parameters())
    g = torch.Generator().manual_seed(data.seed)
    return Scores({n: torch.rand(params[n].shape, generator=g) for n in names})


def _params(model, names):
    params = dict(model.named_parameters())
    return [params[n] for n in names]


def snip(model: Seq2Seq, names: list[str], data: ScoringData) -> Scores:
    """SNIP (Lee et al. 2019): |dL/dc| = |g * w| at c = 1, g summed over the scoring batches."""
    model.eval()
    ps = _params(model, names)
    grads = [torch.zeros_like(p) for p in ps]
    for batch in data.iter_batches():
        loss, _ = model.loss(batch)
        for acc, g in zip(grads, torch.autograd.grad(loss, ps, allow_unused=True)):
            if g is not None:
                acc += g
    return Scores({n: (g * p.detach()).abs_() for n, g, p in zip(names, grads, ps)})


def _fisher_diag(model, names, data) -> list[torch.Tensor]:
    """Mean over sentences of the per-sentence squared gradient (empirical Fisher)."""
    ps = _params(model, names)
    acc = [torch.zeros_like(p) for p in ps]
    count = 0
    for batch in data.iter_batches():
        for i in range(batch.src.size(0)):
            one = type(batch)(*(t[i:i + 1] for t in (batch.src, batch.src_len, batch.tgt_in, batch.tgt_out,
                                                     batch.index)))
            loss, _ = model.loss(one)
            for a, g in zip(acc, torch.autograd.grad(loss, ps, allow_unused=True)):
                if g is not None:
                    a.addcmul_(g, g)
            count += 1
    return [a / count for a in acc]


def _hutchinson_diag(model, names, data, samples: int = 1) -> list[torch.Tensor]:
    """E[z * Hz] with Rademacher z (Hessian-vector products by double backward)."""
    ps = _params(model, names)
    acc = [torch.zeros_like(p) for p in ps]
    gen = torch.Generator(device=ps[0].device).manual_seed(data.seed)
    n = 0
    for batch in data.iter_batches():
        loss, _ = model.loss(batch, twice_differentiable=True)
        loss = loss / batch.n_tokens
        grads = torch.autograd.grad(loss, ps, create_graph=True, allow_unused=True)
        live = [i for i, g in enumerate(grads) if g is not None and g.requires_grad]
        for _ in range(samples):
            zs = [torch.randint(0, 2, ps[i].shape, generator=gen, device=ps[i].device).mul_(2).sub_(1)
                  .to(ps[i].dtype) for i in live]
            hz = torch.autograd.grad([grads[i] for i in live], [ps[i] for i in live], grad_outputs=zs,
                                     retain_graph=True, allow_unused=True)
            for i, z, h in zip(live, zs, hz):
                if h is not None:
                    acc[i] += z * h
            n += 1
    return [a / n for a in acc]


HESSIANS = {"fisher": _fisher_diag, "hutchinson": _hutchinson_diag}


def obd(model: Seq2Seq, names: list[str], data: ScoringData) -> Scores:
    """Optimal Brain Damage (LeCun et al. 1989): s = 1/2 * h_ii * w_i^2.

    ``fisher`` estimates h_ii by the mean per-sentence squared gradient (not the
    square of a summed gradient, which is ~0 at convergence). ``hutchinson``
    uses E[z * Hz]; the fused LSTM supports double backward on CPU.
    """
    if data.hessian not in HESSIANS:
        raise NmtpruneError(f"unknown hessian {data.hessian!r}; valid: {', '.join(HESSIANS)}")
    model.eval()
    h = HESSIANS[data.hessian](model, names, data)
    ps = _params(model, names)
    # Hutchinson estimates can be negative; saliency uses the curvature's magnitude.
    return Scores({n: 0.5 * hd.abs() * p.detach() ** 2 for n, hd, p in zip(names, h, ps)})


CRITERIA: dict[str, Callable[[Seq2Seq, list[str], ScoringData], Scores]] = {
    "magnitude": magnitude,
    "random": random,
    "obd": obd,
    "snip": snip,
}
NEEDS_DATA = {"obd", "snip"}
