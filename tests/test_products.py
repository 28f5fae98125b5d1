"""Decoding products: every kernel computes x @ w.T + bias (+ add); auto's choice is the measured fastest."""
import pytest
import torch

from nmtprune.decode import products
from nmtprune.decode.kernels import EXACT_LOGITS, Stepper
from nmtprune.decode.products import PRODUCTS, fastest
from nmtprune.errors import NmtpruneError
from nmtprune.model.seq2seq import build_model

from helpers import tiny_config


@pytest.mark.parametrize("name, tol", [("dense", 1e-6), ("sparse", 1e-5), ("bf16", 2e-2), ("int8", 4e-2)])
@pytest.mark.parametrize("with_bias, with_add", [(False, False), (True, False), (True, True), (False, True)])
def test_every_kernel_is_the_same_product(name, tol, with_bias, with_add):
    g = torch.Generator().manual_seed(0)
    w = torch.randn(48, 32, generator=g) * (torch.rand(48, 32, generator=g) > 0.6)
    x = torch.randn(7, 32, generator=g)
    bias = torch.randn(48, generator=g) if with_bias else None
    add = torch.randn(7, 48, generator=g) if with_add else None
    want = x @ w.t() + (0 if bias is None else bias) + (0 if add is None else add)
    got = PRODUCTS[name](w, bias=bias, rows=8)(x, add)
    assert got.dtype == torch.float32 and got.shape == (7, 48)
    assert (got - want).abs().max() <= tol * want.abs().max()
    if name == "dense":
        assert torch.equal(got, want) or (got - want).abs().max() < 1e-5


def test_fastest_returns_the_measured_minimum(monkeypatch):
    times = iter([3e-3, 1e-3, 2e-3])          # dense, sparse, bf16 in the order measured
    monkeypatch.setattr(products, "time_call", lambda op, x: next(times))
    w, x = torch.randn(16, 8), torch.randn(2, 8)
    choice, op, ms = fastest(w, ("dense", "sparse", "bf16"), rows=4)
    assert choice == "sparse" and set(ms) == {"dense", "sparse", "bf16"} and ms["sparse"] == pytest.approx(1.0)
    assert torch.allclose(op(x), x @ w.t(), atol=1e-5)          # the op of the chosen kernel


@pytest.mark.parametrize("kernels, tol", [("auto", 3e-2), ("int8", 8e-2)])
def test_stepper_auto_and_int8_follow_the_training_step(kernels, tol):
    m = build_model(tiny_config(), seed=3).eval()
    src = torch.randint(4, 50, (3, 6))
    lens = torch.tensor([6, 4, 2])
    dense, other = Stepper(m, "dense"), Stepper(m, kernels, rows=15)
    with torch.inference_mode():
        memory, s1 = m.encode(src, lens)
        memory2, s2 = other.encode(src, lens)
        tokens = torch.full((3,), 2)
        for _ in range(4):
            a, s1 = dense(tokens, s1, memory)
            b, s2 = other(tokens, s2, memory2)
            assert (a - b).abs().max() <= tol * a.abs().max()
            tokens = a.argmax(-1)
    # the softmax layer keeps exact fp32 logits on every path
    assert other.report["out"]["kernel"] in EXACT_LOGITS
    if kernels == "auto":
        assert all({"dense_ms", "sparse_ms"} <= set(e) for e in other.report.values())
        assert all("bf16_ms" in e for n, e in other.report.items() if n != "out")
        chose_bf16 = any(e["kernel"] == "bf16" for e in other.report.values())
        assert (other.encoder_bf16 is not None) == chose_bf16
    else:
        assert {n: e["kernel"] for n, e in other.report.items()} == {
            "layer0": "int8", "layer1": "int8", "attn_out": "int8", "out": "dense"}


def test_unknown_kernels_are_refused():
    m = build_model(tiny_config(), seed=3).eval()
    with pytest.raises(NmtpruneError, match="unknown kernels 'fast'"):
        Stepper(m, "fast")
