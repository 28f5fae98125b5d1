"""A decoding step whose weight products use a kernel chosen per matrix.

A pruned model decodes with the same math; only ``x @ W.T`` changes (see
:mod:`.products`). ``"dense"`` is the plain path used in training.
``"sparse"``, ``"bf16"`` and ``"int8"`` use that kernel for every per-step
matrix; ``"auto"`` gives each matrix whichever of dense, sparse and bf16 is
fastest on a decoding-sized input, measured once at load time (the cut-overs
depend on the shape, the sparsity and the CPU, so they are measured, not
guessed): a unit-pruned (smaller dense) model, a sparse one and a dense one
each get their fastest path. The softmax layer's product and the log-softmax
stay fp32 on every path, so logits are never rounded to 8 bits (bf16/int8
change other products in the last digits: translations may differ in rare
near-ties; the BLEU effect is measured by ``benchmarks/decode_speed.py``).
"""
from __future__ import annotations

import copy
from typing import Callable

import torch

from ..errors import NmtpruneError
from ..model.decoder import Memory, State
from ..model.seq2seq import Seq2Seq
from .products import PRODUCTS, dense_product, fastest, sparse_product, time_call  # noqa: F401 (re-exported)

KERNELS = ("dense", "sparse", "auto", "bf16", "int8")
AUTO = ("dense", "sparse", "bf16")              # int8 rounds activations: chosen only by name
EXACT_LOGITS = ("dense", "sparse")              # kernels allowed for the softmax layer
GATE_TABLE_BYTES = 64 << 20      # precompute word x layer-0 gates up to this size


class Stepper:
    """``(tokens (N,), state, memory) -> (logits (N, V), state)`` for one decoding step.

    Outside ``"dense"`` each LSTM layer is one product with its input and
    recurrent matrices side by side (layer 0: ``[W_emb | W_feed | W_hh]`` times
    ``[embedding; fed h~; h]``): one larger GEMM runs faster than three small
    ones, and a CSR matrix of the joined weights is as sparse as its parts.
    Attention's own small matrices stay dense. Except ``sparse``, each target
    word's share of layer 0's gates is looked up in a precomputed fp32 table
    (the product is then ``[W_feed | W_hh]`` only). Where a matrix runs bf16,
    the encoder runs as a bfloat16 copy too. ``report`` records each matrix's
    shape, density, kernel and (``auto``) measured times.
    """

    def __init__(self, model: Seq2Seq, kernels: str = "dense", rows: int = 160):
        if kernels not in KERNELS:
            raise NmtpruneError(f"unknown kernels {kernels!r}; valid: {', '.join(KERNELS)}")
        self.model, dec = model, model.decoder
        if kernels == "int8" and dec.out.weight.device.type != "cpu":
            raise NmtpruneError("--kernels int8 runs on CPU only (fbgemm); use bf16 or auto on "
                                f"{dec.out.weight.device.type}")
        self.dec = dec
        self.ops: dict[str, Callable] = {}
        self.report: dict[str, dict] = {}
        self.dense = kernels == "dense"
        self.encoder_bf16 = None
        self.gate_table = None
        self.vocab: torch.Tensor | None = None      # shortlist ids (see narrow) or None: all words
        self.out_w, self.out_b = dec.out.weight.detach(), dec.out.bias.detach()
        self._out: Callable = dec.out
        if self.dense:           # the plain path: nothing to measure or convert
            return
        with torch.inference_mode():
            mats, biases = self._matrices(use_table=kernels != "sparse")
            for name, w in mats.items():
                self.ops[name], self.report[name] = _choose(name, w, biases.get(name), kernels, rows)
        if any(e["kernel"] == "bf16" for e in self.report.values()):
            # ~30% faster encoding; states come back fp32.
            self.encoder_bf16 = copy.deepcopy(model.encoder).to(torch.bfloat16).eval()
        self._out = self.ops["out"]

    def _matrices(self, *, use_table: bool) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """The per-step weight matrices (inputs side by side) and their constant biases."""
        dec = self.dec
        l0 = dec.layers[0]
        # weight_ih of layer 0 is [W_emb | W_feed] already (the input is [embedding; h~]).
        mats = {"layer0": torch.cat([l0.weight_ih, l0.weight_hh], 1)}
        bias = [(layer.bias_ih + layer.bias_hh).detach() for layer in dec.layers]
        E = dec.embed.weight
        biases = {f"layer{k}": b for k, b in enumerate(bias)}
        if use_table and E.size(0) * l0.weight_ih.size(0) * 4 <= GATE_TABLE_BYTES:
            # Each target word's share of layer 0's gates (and its bias), in fp32, once: a row
            # lookup replaces a third of layer 0's product at every step.
            self.gate_table = torch.addmm(bias[0], E, l0.weight_ih[:, :dec.emb_dim].t())
            mats["layer0"] = torch.cat([l0.weight_ih[:, dec.emb_dim:], l0.weight_hh], 1)
            biases.pop("layer0")
        for k in range(1, len(dec.layers)):
            mats[f"layer{k}"] = torch.cat([dec.layers[k].weight_ih, dec.layers[k].weight_hh], 1)
        mats["attn_out"], mats["out"] = dec.attn_out.weight, dec.out.weight
        biases["out"] = self.out_b
        return {k: w.detach() for k, w in mats.items()}, biases

    def narrow(self, ids: torch.Tensor | None) -> None:
        """Score only target words ``ids`` (sorted, (V',), holding EOS) from now on; None: all.
        Logits then have V' columns, column j standing for word ``ids[j]``."""
        self.vocab = ids
        if ids is None:
            self._out = self.ops.get("out", self.dec.out)
            return
        self._out = dense_product(self.out_w.index_select(0, ids), bias=self.out_b.index_select(0, ids))

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
            return self._out(h), state
        op = self.ops
        if self.gate_table is not None:
            x = [state.feed, state.h[0]] if dec.input_feed else [state.h[0]]
            gates = op["layer0"](torch.cat(x, 1), self.gate_table.index_select(0, tokens))
        else:
            x = [dec.embed(tokens), state.feed, state.h[0]] if dec.input_feed else [dec.embed(tokens), state.h[0]]
            gates = op["layer0"](torch.cat(x, 1))
        h, c = self._cell(gates, state.c[0])
        hs, cs = [h], [c]
        for k in range(1, len(dec.layers)):
            h, c = self._cell(op[f"layer{k}"](torch.cat([h, state.h[k]], 1)), state.c[k])
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
        return self._out(h_tilde), State(hs, cs, h_tilde)


def _choose(name: str, w: torch.Tensor, bias: torch.Tensor | None, kernels: str,
            rows: int) -> tuple[Callable, dict]:
    """One matrix's product op and its report entry. The softmax layer ("out") keeps an
    exact fp32 kernel: 8-bit logits (steps of 1/16 at |logit| ~ 10) would make the
    log-softmax that beam scores add up something other than the model's."""
    entry = {"shape": list(w.shape), "density": round(float((w != 0).float().mean()), 4)}
    allowed = EXACT_LOGITS if name == "out" else KERNELS
    if kernels == "auto":
        choice, op, ms = fastest(w, tuple(k for k in AUTO if k in allowed), bias=bias, rows=rows)
        entry.update({f"{k}_ms": round(v, 4) for k, v in ms.items()})
    else:
        choice = kernels if kernels in allowed else "dense"
        op = PRODUCTS[choice](w, bias=bias, rows=rows)
    entry["kernel"] = choice
    return op, entry
