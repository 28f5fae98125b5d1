"""Weight products for decoding: ``op(x, add=None)`` = fp32 ``x @ w.T + bias (+ add)``.

One builder per kernel, all with the same signature, so a decoding step can
pick a kernel per matrix (``PRODUCTS[name](w, bias=b)``). ``add`` is a
per-call term: a vector, or an (N, out) matrix such as looked-up gate rows.

- ``dense``: the fp32 matmul (bit-identical to training's forward).
- ``sparse``: ``w`` as a CSR matrix; wins only at high sparsity on large matrices.
- ``bf16``: bfloat16 weights pre-packed for oneDNN, bf16 activations, fp32
  accumulation; ~2.5x the fp32 rate on CPUs with AVX512-BF16/AMX, and a slow
  emulation elsewhere (so ``auto`` measures rather than assumes).
- ``int8``: per-row int8 weights (one fp32 scale per output row, as ``.nmtz``
  stores them) times dynamically quantized activations (fbgemm); ~2.5x fp32 on
  AVX512-VNNI, but activations are rounded to 8 bits per call.
"""
from __future__ import annotations

import time
import warnings
from typing import Callable

import torch

Op = Callable[..., torch.Tensor]


def _finish(y: torch.Tensor, bias: torch.Tensor | None, add: torch.Tensor | None) -> torch.Tensor:
    if bias is not None:
        y = y.add_(bias)
    return y if add is None else y.add_(add)


def dense_product(w: torch.Tensor, *, bias: torch.Tensor | None = None, rows: int = 160) -> Op:
    """fp32 ``x @ w.T + bias (+ add)``. x: (N, in) -> (N, out)."""
    wt = w.detach().t()

    def op(x: torch.Tensor, add: torch.Tensor | None = None) -> torch.Tensor:
        if add is None:
            return x @ wt if bias is None else torch.addmm(bias, x, wt)
        y = torch.addmm(add, x, wt)
        return y if bias is None else y.add_(bias)
    return op


def sparse_product(w: torch.Tensor, *, bias: torch.Tensor | None = None, rows: int = 160) -> Op:
    """``x @ w.T + bias (+ add)`` with ``w`` as a CSR matrix. x: (N, in) -> (N, out)."""
    with warnings.catch_warnings():     # local: importing or calling nmtprune leaves filters alone
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        csr = w.detach().to_sparse_csr()
    return lambda x, add=None: _finish((csr @ x.t()).t(), bias, add)


def _packed_bf16(w: torch.Tensor, rows: int, bias: torch.Tensor | None) -> Op | None:
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


def bf16_product(w: torch.Tensor, *, bias: torch.Tensor | None = None, rows: int = 160,
                 row_multiple: int = 16) -> Op:
    """fp32 ``x @ w.T + bias (+ add)`` from bfloat16 products (the bias added inside)."""
    wb = w.detach().to(torch.bfloat16)
    bb = None if bias is None else bias.detach().to(torch.bfloat16)
    product = _packed_bf16(wb, rows, bb) if wb.device.type == "cpu" else None
    if product is None:
        wt = wb.t()
        product = (lambda x: x @ wt) if bb is None else (lambda x: torch.addmm(bb, x, wt))

    def op(x: torch.Tensor, add: torch.Tensor | None = None) -> torch.Tensor:
        # Rows padded to a multiple of 16: oneDNN builds (JIT-compiles) a kernel per input
        # shape, and beam search shrinks the batch one sentence at a time; 16-row steps
        # cut the distinct shapes ~16-fold (the first pass over a test set was ~10% slower).
        n = x.size(0)
        xb = x.to(torch.bfloat16)
        if n % row_multiple:
            xb = torch.nn.functional.pad(xb, (0, 0, 0, row_multiple - n % row_multiple))
        y = product(xb)[:n].float()
        return y if add is None else y.add_(add)
    return op


def int8_product(w: torch.Tensor, *, bias: torch.Tensor | None = None, rows: int = 160) -> Op:
    """fp32 ``x @ w.T + bias (+ add)`` from per-row int8 weights and dynamically quantized
    activations (fbgemm). A weight matrix read from an int8 ``.nmtz`` re-quantizes to its
    stored values (the same per-row maxima give the same scales)."""
    w = w.detach().float().cpu()
    scale = (w.abs().amax(1) / 127.0).clamp(min=1e-12).double()
    with warnings.catch_warnings():     # torch's eager quantized tensors are deprecated, not gone (2.13)
        warnings.filterwarnings("ignore", message="torch.quantize_per_tensor")
        q = torch.quantize_per_channel(w, scale, torch.zeros(w.size(0), dtype=torch.long), 0, torch.qint8)
    packed = torch.ops.quantized.linear_prepack(q, None if bias is None else bias.detach().float().cpu())
    return lambda x, add=None: _finish(torch.ops.quantized.linear_dynamic(x.contiguous(), packed, True), None, add)


PRODUCTS: dict[str, Callable[..., Op]] = {
    "dense": dense_product, "sparse": sparse_product, "bf16": bf16_product, "int8": int8_product}


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


def fastest(w: torch.Tensor, candidates: tuple[str, ...], *, bias: torch.Tensor | None = None,
            rows: int = 160) -> tuple[str, Op, dict[str, float]]:
    """The candidate kernel with the fastest product on a decoding-sized input (rows, in),
    measured here: the cut-overs depend on the shape, the sparsity and the CPU."""
    x = torch.randn(rows, w.size(1), device=w.device)
    ops = {name: PRODUCTS[name](w, bias=bias, rows=rows) for name in candidates}
    ms = {name: time_call(op, x) * 1e3 for name, op in ops.items()}
    best = min(ms, key=ms.get)
    return best, ops[best], ms
