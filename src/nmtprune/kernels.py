"""Decoding steps with dense or sparse (CSR) weight products, chosen per matrix.

A pruned model decodes with the same math; only ``x @ W.T`` changes. With
``kernels="sparse"`` every per-step weight matrix becomes a ``torch.sparse``
CSR matrix; with ``"auto"`` each matrix gets whichever kernel is faster on a
decoding-sized input, measured once at load time (the cut-over depends on the
shape and the sparsity, so it is measured, not guessed). ``"dense"`` is the
plain path used in training.
"""
from __future__ import annotations

import time
import warnings
from typing import Callable

import torch

from .decoder import Memory, State
from .model import Seq2Seq

KERNELS = ("dense", "sparse", "auto")
warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")


def _dense(w: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    wt = w.t()
    return lambda x: x @ wt


def _sparse(w: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    csr = w.detach().to_sparse_csr()
    return lambda x: (csr @ x.t()).t()


def _time(fn, x, reps: int = 5, rounds: int = 3) -> float:
    """Seconds per call: the best of ``rounds`` rounds of ``reps`` calls (a single
    round is at the mercy of one scheduler hiccup and flips the per-matrix choice)."""
    fn(x)
    best = float("inf")
    for _ in range(rounds):
        t = time.perf_counter()
        for _ in range(reps):
            fn(x)
        best = min(best, (time.perf_counter() - t) / reps)
    return best


class Stepper:
    """``(tokens (N,), state, memory) -> (logits (N, V), state)`` for one decoding step."""

    def __init__(self, model: Seq2Seq, kernels: str = "dense", rows: int = 160):
        if kernels not in KERNELS:
            from .errors import NmtpruneError
            raise NmtpruneError(f"unknown kernels {kernels!r}; valid: {', '.join(KERNELS)}")
        dec = self.dec = model.decoder
        E = dec.emb_dim
        l0 = dec.layers[0]
        mats = {"emb": l0.weight_ih[:, :E], "hh0": l0.weight_hh, "attn_out": dec.attn_out.weight,
                "out": dec.out.weight}
        if dec.input_feed:
            mats["feed"] = l0.weight_ih[:, E:]
        for k in range(1, len(dec.layers)):
            mats[f"ih{k}"], mats[f"hh{k}"] = dec.layers[k].weight_ih, dec.layers[k].weight_hh
        if dec.attention.kind == "concat":
            mats["query"] = dec.attention.query_weight()
        self.ops: dict[str, Callable] = {}
        self.report: dict[str, dict] = {}
        self.dense = kernels == "dense"
        if self.dense:           # the plain path: nothing to measure or convert
            return
        with torch.inference_mode():
            for name, w in mats.items():
                w = w.detach()
                density = float((w != 0).float().mean())
                choice = kernels
                entry = {"shape": list(w.shape), "density": round(density, 4)}
                if kernels == "auto":
                    x = torch.randn(rows, w.size(1), device=w.device)
                    td, ts = _time(_dense(w), x), _time(_sparse(w), x)
                    choice = "sparse" if ts < td else "dense"
                    entry.update(dense_ms=round(td * 1e3, 4), sparse_ms=round(ts * 1e3, 4))
                self.ops[name] = _sparse(w) if choice == "sparse" else _dense(w)
                entry["kernel"] = choice
                self.report[name] = entry

    @staticmethod
    def _cell(gates: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        i, f, g, o = gates.chunk(4, 1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c

    def __call__(self, tokens: torch.Tensor, state: State, memory: Memory):
        dec = self.dec
        if self.dense:
            h, state, _ = dec.step(dec.input_gates(tokens), state, memory)
            return dec.out(h), state
        op = self.ops
        l0 = dec.layers[0]
        gates = op["emb"](dec.embed(tokens)) + l0.bias_ih + op["hh0"](state.h[0]) + l0.bias_hh
        if dec.input_feed:
            gates = gates + op["feed"](state.feed)
        h, c = self._cell(gates, state.c[0])
        hs, cs = [h], [c]
        for k in range(1, len(dec.layers)):
            lk = dec.layers[k]
            h, c = self._cell(op[f"ih{k}"](h) + lk.bias_ih + op[f"hh{k}"](state.h[k]) + lk.bias_hh, state.c[k])
            hs.append(h)
            cs.append(c)
        align = dec.attention(h, memory.keys, memory.mask, self.dec.attention.query_weight())
        ctx = torch.bmm(align.unsqueeze(1), memory.values).squeeze(1)
        h_tilde = torch.tanh(op["attn_out"](torch.cat([ctx, h], 1)))
        return op["out"](h_tilde) + dec.out.bias, State(hs, cs, h_tilde)
