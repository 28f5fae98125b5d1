"""Decoding steps with dense, sparse (CSR) or bfloat16 weight products, chosen per matrix.

A pruned model decodes with the same math; only ``x @ W.T`` changes. With
``kernels="sparse"`` every per-step weight matrix becomes a ``torch.sparse``
CSR matrix; with ``"auto"`` each matrix gets whichever kernel is faster on a
decoding-sized input, measured once at load time (the cut-over depends on the
shape and the sparsity, so it is measured, not guessed). ``"dense"`` is the
plain path used in training. ``"bf16"`` multiplies bfloat16 copies of the
weights by bfloat16 activations (fp32 accumulation, fp32 states; the softmax
layer's product and the log-softmax stay fp32, so logits are never rounded to bf16):
about 2.5x the fp32 matmul rate on CPUs with AVX512-BF16/AMX, at the cost of
bit-identical outputs (translations may differ in rare near-ties).
"""
from __future__ import annotations

import time
import warnings
from typing import Callable

import torch

from ..errors import NmtpruneError
from ..model.decoder import Memory, State
from ..model.seq2seq import Seq2Seq

KERNELS = ("dense", "sparse", "auto", "bf16")
GATE_TABLE_BYTES = 64 << 20      # bf16: precompute word x layer-0 gates up to this size


def dense_product(w: torch.Tensor) -> Callable[..., torch.Tensor]:
    """``op(x, bias=None)`` = ``x @ w.T (+ bias)`` as a dense product. x: (N, in) -> (N, out)."""
    wt = w.t()
    return lambda x, bias=None: x @ wt if bias is None else torch.addmm(bias, x, wt)


def sparse_product(w: torch.Tensor) -> Callable[..., torch.Tensor]:
    """``op(x, bias=None)`` = ``x @ w.T (+ bias)`` with ``w`` as a CSR matrix. x: (N, in) -> (N, out)."""
    with warnings.catch_warnings():     # local: importing or calling nmtprune leaves filters alone
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        csr = w.detach().to_sparse_csr()
    return lambda x, bias=None: (csr @ x.t()).t() if bias is None else (csr @ x.t()).t().add_(bias)


def _packed_bf16(w: torch.Tensor, rows: int,
                 bias: torch.Tensor | None) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """``x @ w.T (+ bias)`` on bfloat16 weights pre-packed in oneDNN's blocked layout (~15%
    faster than a plain bf16 matmul, which repacks them on every call; the bias is added to the
    fp32 accumulator before the one rounding to bf16), or None where torch lacks the op."""
    try:
        packed = torch.ops.mkldnn._reorder_linear_weight(w, rows)
        fn = lambda x: torch.ops.mkldnn._linear_pointwise(x, packed, bias, "none", [], "")  # noqa: E731
        x = torch.randn(3, w.size(1), dtype=torch.bfloat16, device=w.device)
        want = (x @ w.t()).float() + (0 if bias is None else bias.float())
        if torch.allclose(fn(x).float(), want, rtol=1e-2, atol=1e-2):
            return fn
    except (AttributeError, RuntimeError):
        pass
    return None


def _bf16(w: torch.Tensor, rows: int = 160, bias: torch.Tensor | None = None,
          row_multiple: int = 16) -> Callable[..., torch.Tensor]:
    """``op(x, add=None)`` = fp32 ``x @ w.T + bias (+ add)`` from bfloat16 products."""
    wb = w.detach().to(torch.bfloat16)
    bb = None if bias is None else bias.detach().to(torch.bfloat16)
    product = _packed_bf16(wb, rows, bb) if wb.device.type == "cpu" else None
    if product is None:
        wt = wb.t()
        product = (lambda x: x @ wt) if bb is None else (lambda x: torch.addmm(bb, x, wt))

    def _op(x: torch.Tensor, add: torch.Tensor | None = None) -> torch.Tensor:
        # Rows padded to a multiple of 16: oneDNN builds (JIT-compiles) a kernel per input
        # shape, and beam search shrinks the batch one sentence at a time; 16-row steps
        # cut the distinct shapes ~16-fold (the first pass over a test set was ~10% slower).
        n = x.size(0)
        xb = x.to(torch.bfloat16)
        if n % row_multiple:
            xb = torch.nn.functional.pad(xb, (0, 0, 0, row_multiple - n % row_multiple))
        y = product(xb)[:n].float()
        return y if add is None else y.add_(add)
    return _op


def time_call(fn: Callable[[torch.Tensor], object], x: torch.Tensor, *, reps: int = 5, rounds: int = 3) -> float:
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
    """``(tokens (N,), state, memory) -> (logits (N, V), state)`` for one decoding step.

    Outside ``"dense"`` each LSTM layer is one product with its input and
    recurrent matrices side by side (layer 0: ``[W_emb | W_feed | W_hh]`` times
    ``[embedding; fed h~; h]``): one larger GEMM runs faster than three small
    ones, and a CSR matrix of the joined weights is as sparse as its parts.
    Attention's own small matrices stay dense. ``bf16`` also looks up each
    word's share of layer 0's gates in a precomputed fp32 table (the product
    is then ``[W_feed | W_hh]`` only) and encodes with a bfloat16 copy of the
    encoder; the softmax layer (padded to 64 columns) stays an fp32 product.
    """

    def __init__(self, model: Seq2Seq, kernels: str = "dense", rows: int = 160):
        if kernels not in KERNELS:
            raise NmtpruneError(f"unknown kernels {kernels!r}; valid: {', '.join(KERNELS)}")
        self.model, dec = model, model.decoder
        self.dec = dec
        self.ops: dict[str, Callable] = {}
        self.report: dict[str, dict] = {}
        self.dense = kernels == "dense"
        self.encoder_bf16 = None
        if kernels == "bf16":
            import copy
            self.encoder_bf16 = copy.deepcopy(model.encoder).to(torch.bfloat16).eval()
        if self.dense:           # the plain path: nothing to measure or convert
            return
        self.gate_table = None
        with torch.inference_mode():
            l0 = dec.layers[0]
            # weight_ih of layer 0 is [W_emb | W_feed] already (the input is [embedding; h~]).
            mats = {"layer0": torch.cat([l0.weight_ih, l0.weight_hh], 1)}
            bias = [(l.bias_ih + l.bias_hh).detach() for l in dec.layers]
            E = dec.embed.weight
            if kernels == "bf16" and E.size(0) * l0.weight_ih.size(0) * 4 <= GATE_TABLE_BYTES:
                # Each target word's share of layer 0's gates, in fp32, once: a row lookup
                # replaces a third of layer 0's product at every step.
                self.gate_table = torch.addmm(bias[0], E, l0.weight_ih[:, :dec.emb_dim].t())
                mats["layer0"] = torch.cat([l0.weight_ih[:, dec.emb_dim:], l0.weight_hh], 1)
            for k in range(1, len(dec.layers)):
                mats[f"layer{k}"] = torch.cat([dec.layers[k].weight_ih, dec.layers[k].weight_hh], 1)
            mats["attn_out"], mats["out"] = dec.attn_out.weight, dec.out.weight
            out_bias = dec.out.bias.detach()
            V = mats["out"].size(0)
            if kernels == "bf16" and V % 64:
                # bf16 (AMX) products run ~25% faster with a multiple of 64 columns; the padding
                # columns get bias -inf, so they never win a search and add 0 to the softmax.
                pad = 64 - V % 64
                mats["out"] = torch.cat([mats["out"], mats["out"].new_zeros(pad, mats["out"].size(1))])
                out_bias = torch.cat([out_bias, out_bias.new_full((pad,), float("-inf"))])
            biases = {f"layer{k}": b for k, b in enumerate(bias)}
            biases["out"] = out_bias
            if self.gate_table is not None:
                biases.pop("layer0")        # already in the table
            # bf16 adds each constant bias inside its product; other kernels add it per call.
            fused = biases if kernels == "bf16" else {}
            self.add = {name: b for name, b in biases.items() if name not in fused}
            for name, w in mats.items():
                w = w.detach()
                density = float((w != 0).float().mean())
                choice = kernels
                entry = {"shape": list(w.shape), "density": round(density, 4)}
                if kernels == "auto":
                    x = torch.randn(rows, w.size(1), device=w.device)
                    td, ts = time_call(dense_product(w), x), time_call(sparse_product(w), x)
                    choice = "sparse" if ts < td else "dense"
                    entry.update(dense_ms=round(td * 1e3, 4), sparse_ms=round(ts * 1e3, 4))
                if choice == "bf16" and name == "out":
                    # The softmax layer stays fp32: a bf16 product rounds the logits to ~3 digits
                    # (steps of 1/16 at |logit| ~ 10) before the log-softmax, which then is not
                    # the fp32 one beam scores need. Its bias (with -inf padding) is added in fp32.
                    choice = "dense"
                    self.ops[name] = lambda x, add=None, wt=w.t(), b=fused[name]: torch.addmm(b, x, wt)
                elif choice == "bf16":      # constant biases go into the product; op(x) needs no add
                    self.ops[name] = _bf16(w, rows, fused.get(name))
                else:
                    self.ops[name] = {"sparse": sparse_product}.get(choice, dense_product)(w)
                entry["kernel"] = choice
                self.report[name] = entry

    def encode(self, src: torch.Tensor, src_len: torch.Tensor) -> tuple[Memory, State]:
        """The model's encoder; outside ``dense`` the memory also carries its additive score mask.
        ``bf16`` runs a bfloat16 copy of the encoder (~30% faster) and returns fp32 states."""
        if self.encoder_bf16 is not None:
            memory, state = self.model.encode(src, src_len, encoder=self.encoder_bf16)
        else:
            memory, state = self.model.encode(src, src_len)
        if not self.dense:
            bias = torch.zeros(memory.mask.shape, device=src.device).masked_fill_(~memory.mask, float("-inf"))
            memory = Memory(memory.values, memory.keys, memory.mask, bias.unsqueeze(1))
        return memory, state

    @staticmethod
    def _cell(gates: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """LSTM update from gates (N, 4H) = [i, f, g, o] and c (N, H). Six kernels: at decoding
        sizes each costs its dispatch more than its arithmetic (one sigmoid over all four gates)."""
        H = c.size(1)
        s = torch.sigmoid(gates)
        c = torch.addcmul(s[:, H:2 * H] * c, s[:, :H], torch.tanh(gates[:, 2 * H:3 * H]))
        return s[:, 3 * H:] * torch.tanh(c), c

    def __call__(self, tokens: torch.Tensor, state: State, memory: Memory):
        dec = self.dec
        if self.dense:
            h, state, _ = dec.step(dec.input_gates(tokens), state, memory)
            return dec.out(h), state
        op = self.ops
        add = self.add
        if self.gate_table is not None:
            x = [state.feed, state.h[0]] if dec.input_feed else [state.h[0]]
            gates = op["layer0"](torch.cat(x, 1), self.gate_table.index_select(0, tokens))
        else:
            x = [dec.embed(tokens), state.feed, state.h[0]] if dec.input_feed else [dec.embed(tokens), state.h[0]]
            gates = op["layer0"](torch.cat(x, 1), add.get("layer0"))
        h, c = self._cell(gates, state.c[0])
        hs, cs = [h], [c]
        for k in range(1, len(dec.layers)):
            h, c = self._cell(op[f"layer{k}"](torch.cat([h, state.h[k]], 1), add.get(f"layer{k}")), state.c[k])
            hs.append(h)
            cs.append(c)
        if memory.bias is not None and dec.attention.kind != "concat":
            # dot/general: masked scores in one product; (N, 1, S) -> softmax -> (N, 1, He).
            scores = torch.baddbmm(memory.bias, h.unsqueeze(1), memory.keys.transpose(1, 2))
            ctx = torch.bmm(torch.softmax(scores, 2), memory.values).squeeze(1)
        else:
            align = dec.attention(h, memory.keys, memory.mask, query_w=dec.attention.query_weight())
            ctx = torch.bmm(align.unsqueeze(1), memory.values).squeeze(1)
        h_tilde = torch.tanh(op["attn_out"](torch.cat([ctx, h], 1)))
        return op["out"](h_tilde, add.get("out")), State(hs, cs, h_tilde)
