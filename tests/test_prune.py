import dataclasses

import pytest
import torch

from nmtprune.prune.pruning import Pruning
from nmtprune.prune.allocation import ALLOCATIONS, class_distribution, class_std
from nmtprune.errors import NmtpruneError
from nmtprune.model.masks import apply_masks, load_masks, mask_grads, save_masks
from nmtprune.model.seq2seq import build_model
from nmtprune.prune import compute_masks
from nmtprune.prune.compute import prunable_classes
from nmtprune.prune.saliency import CRITERIA, ScoringData, magnitude, snip
from nmtprune.prune.selection import kth_smallest, masks_below

from helpers import tiny_config

SPARSITIES = [0.0, 0.3, 0.8, 0.95]


@pytest.fixture(scope="module")
def setup(prepared):
    model = build_model(tiny_config(prepared, dropout=0.0), seed=0)
    data = ScoringData(prepared.load("train"), batches=2, batch_size=3, seed=1)
    return model, data


def _pruned(masks, names):
    return sum(int((~masks[n]).sum()) for n in names), sum(masks[n].numel() for n in names)


@pytest.mark.parametrize("criterion", sorted(CRITERIA))
@pytest.mark.parametrize("allocation", sorted(ALLOCATIONS))
@pytest.mark.parametrize("sparsity", SPARSITIES)
def test_exact_sparsity_and_determinism(setup, criterion, allocation, sparsity):
    model, data = setup
    masks = compute_masks(model, Pruning(sparsity, criterion=criterion, allocation=allocation), data=data)
    classes = prunable_classes(model)
    assert set(masks) == {n for ns in classes.values() for n in ns}
    assert all(n.endswith("weight") or "weight_" in n for n in masks)      # biases untouched by default
    if allocation == "class_uniform":
        for names in classes.values():
            pruned, total = _pruned(masks, names)
            assert pruned == round(sparsity * total)
    else:
        pruned, total = _pruned(masks, list(masks))
        assert pruned == round(sparsity * total)
    again = compute_masks(model, Pruning(sparsity, criterion=criterion, allocation=allocation), data=data)
    assert all(torch.equal(masks[n], again[n]) for n in masks)


@pytest.mark.parametrize("criterion", sorted(CRITERIA))
def test_higher_score_is_kept(setup, criterion):
    model, data = setup
    names = [n for ns in prunable_classes(model).values() for n in ns]
    scores = CRITERIA[criterion](model, names, data)
    masks = compute_masks(model, Pruning(0.5, criterion=criterion, allocation="class_blind"), data=data)
    kept = torch.cat([scores[n][masks[n]].flatten() for n in names])
    cut = torch.cat([scores[n][~masks[n]].flatten() for n in names])
    assert cut.max() <= kept.min()


def test_selection_matches_sort_with_ties():
    torch.manual_seed(0)
    a = torch.randint(0, 5, (1000,)).float()      # heavy ties
    b = torch.randn(37, 13).abs()
    srcs = {"a": (a, None), "b": (b, None)}
    flat = torch.cat([a, b.flatten()])
    for k in (1, 5, 200, 600, 1480, flat.numel()):
        thr, ties = kth_smallest(list(srcs.values()), k)
        assert thr == float(torch.sort(flat).values[k - 1])
        masks = masks_below(srcs, k)
        assert int((~masks["a"]).sum() + (~masks["b"]).sum()) == k
        # ties pruned in position order: the first `ties` equal values of `a` go first
        eq = (a == thr).nonzero().squeeze(1)
        if len(eq) >= ties:
            assert not masks["a"][eq[:ties]].any() and masks["a"][eq[ties:]].all()


def test_class_distribution_thresholds_are_lambda_sigma(setup):
    model, data = setup
    classes = prunable_classes(model)
    names = [n for ns in classes.values() for n in ns]
    scores = magnitude(model, names, data)
    masks, lam, sigma = class_distribution(scores, classes, 0.6, return_lambda=True)
    params = dict(model.named_parameters())
    for cls, ns in classes.items():
        w = torch.cat([params[n].detach().flatten() for n in ns])
        assert sigma[cls] == pytest.approx(float(w.std()), rel=1e-6)        # std of the weights
        m = torch.cat([masks[n].flatten() for n in ns])
        assert (w[~m].abs() <= lam * sigma[cls] + 1e-7).all()
        assert (w[m].abs() >= lam * sigma[cls] - 1e-7).all()
        assert class_std(scores, ns) == pytest.approx(sigma[cls])


def test_snip_is_abs_grad_times_weight_on_a_hand_case(setup):
    model, data = setup
    model = build_model(model.cfg, seed=3)
    names = ["decoder.out.weight", "decoder.attn_out.weight"]
    s = snip(model, names, data)
    model.zero_grad()
    loss = sum(model.loss(b)[0] for b in data.iter_batches())
    loss.backward()
    for n in names:
        p = dict(model.named_parameters())[n]
        assert torch.allclose(s[n], (p.grad * p).abs(), atol=1e-6)


def test_obd_fisher_matches_brute_force(setup):
    model, data = setup
    model = build_model(model.cfg, seed=4).eval()
    names = ["decoder.layers.0.weight_hh", "encoder.embed.weight"]
    scores = CRITERIA["obd"](model, names, data)
    params = dict(model.named_parameters())
    sq = {n: torch.zeros_like(params[n]) for n in names}
    count = 0
    for batch in data.iter_batches():
        for i in range(batch.src.size(0)):
            model.zero_grad()
            one = type(batch)(batch.src[i:i + 1, :int(batch.src_len[i])], batch.src_len[i:i + 1],
                              batch.tgt_in[i:i + 1], batch.tgt_out[i:i + 1], batch.index[i:i + 1])
            logits = model(one)[0]
            keep = one.tgt_out[0] != 0
            torch.nn.functional.cross_entropy(logits[keep], one.tgt_out[0][keep], reduction="sum").backward()
            for n in names:
                sq[n] += params[n].grad ** 2
            count += 1
    for n in names:
        expect = 0.5 * (sq[n] / count) * params[n].detach() ** 2
        assert torch.allclose(scores[n], expect, rtol=1e-4, atol=1e-12)


def test_hutchinson_runs_and_is_unbiased_in_sign(setup):
    model, data = setup
    data = ScoringData(data.corpus, 1, 3, "hutchinson", 0)
    masks = compute_masks(model, Pruning(0.5, criterion="obd", allocation="class_blind"), data=data)
    assert _pruned(masks, list(masks))[0] == round(0.5 * sum(m.numel() for m in masks.values()))


def test_single_class_pruning(setup):
    model, data = setup
    masks = compute_masks(model, Pruning(0.9, allocation="class_uniform", only_classes=["softmax"]), data=data)
    classes = prunable_classes(model)
    for cls, names in classes.items():
        pruned, total = _pruned(masks, names)
        assert pruned == (round(0.9 * total) if cls == "softmax" else 0)


@pytest.mark.parametrize("opt", ["adam", "sgd"])
def test_pruned_weights_stay_exactly_zero_through_training(setup, opt):
    model, data = setup
    model = build_model(model.cfg, seed=7)
    masks = compute_masks(model, Pruning(0.7, criterion="magnitude", allocation="class_blind"), data=data)
    apply_masks(model, masks)
    o = torch.optim.Adam(model.parameters(), 1e-2) if opt == "adam" else \
        torch.optim.SGD(model.parameters(), 0.5, momentum=0.9)
    params = dict(model.named_parameters())
    for batch in list(data.iter_batches()) * 3:
        o.zero_grad()
        model.loss(batch)[0].backward()
        mask_grads(model, masks)
        for n, m in masks.items():
            assert torch.all(params[n].grad[~m] == 0)
        o.step()
        apply_masks(model, masks)
        for n, m in masks.items():
            assert torch.all(params[n][~m] == 0)
    assert any(bool((params[n][m] != 0).any()) for n, m in masks.items())


def test_masks_save_load_round_trip(setup, tmp_path):
    model, data = setup
    masks = compute_masks(model, Pruning(0.5, criterion="random", allocation="class_uniform"), data=data)
    save_masks(tmp_path / "m.safetensors", masks)
    back = load_masks(tmp_path / "m.safetensors")
    assert back.keys() == masks.keys() and all(torch.equal(back[n], masks[n]) for n in masks)


@pytest.mark.parametrize("kw, message", [
    ({"sparsity": 1.0}, r"--sparsity must be in \[0, 1\)"),
    ({"sparsity": -0.1}, r"--sparsity must be in \[0, 1\)"),
    ({"sparsity": "abc"}, "--sparsity must be a number"),
    ({"criterion": "taylor"}, "unknown criterion 'taylor'; valid: magnitude, random, obd, snip"),
    ({"allocation": "global"}, "unknown allocation 'global'; valid: class-blind, class-uniform, class-distribution"),
    ({"criterion": "snip", "data": ScoringData()}, "needs data"),
])
def test_bad_arguments(setup, kw, message):
    model, data = setup
    args = {"criterion": "magnitude", "allocation": "class_blind", "sparsity": 0.5, "data": data, **kw}
    with pytest.raises(NmtpruneError, match=message):
        compute_masks(model, Pruning(args["sparsity"], criterion=args["criterion"], allocation=args["allocation"]),
                      data=args["data"])


@pytest.mark.parametrize("k", [1, 250, 599, 600, 700])
def test_tied_scores_are_broken_by_magnitude_not_position(k):
    """600 zero scores (weights without gradient) then 400 positive ones: the zero-scored
    weights go first, smallest |w| first among them, never the first ones in memory."""
    torch.manual_seed(0)
    w = {"a": torch.randn(100, 2), "b": torch.randn(800)}
    s = {"a": torch.zeros(100, 2), "b": torch.rand(800) + 0.01}
    s["b"][400:] = 0                                    # zeros: 200 in a, 400 in b; 400 positive in b
    srcs = {n: (t, None) for n, t in s.items()}
    masks = masks_below(srcs, k, tiebreak=w)
    assert sum(int((~m).sum()) for m in masks.values()) == k
    zero_w = torch.cat([w[n][s[n] == 0].abs() for n in w])
    pruned_zero = torch.cat([w[n][(s[n] == 0) & ~masks[n]].abs() for n in w])
    kept_zero = torch.cat([w[n][(s[n] == 0) & masks[n]].abs() for n in w])
    if k < zero_w.numel():
        assert pruned_zero.numel() == k and kept_zero.min() >= pruned_zero.max()
    else:
        assert kept_zero.numel() == 0


@pytest.mark.parametrize("criterion", ["obd", "snip"])
def test_zero_score_weights_are_reported_and_pruned_by_magnitude(setup, criterion, tmp_path):
    model, data = setup
    diag = {}
    masks = compute_masks(model, Pruning(0.1, criterion=criterion, allocation="class_blind"), data=data, diagnostics=diag)
    zero = diag["zero_score_share"]
    assert zero["src_embed"] > 0.5 and zero["tgt_embed"] > 0.5     # 6 scoring sentences see few rows
    cov = diag["vocab_coverage"]
    assert cov["sentences"] == 6 and 0 < cov["src"] < 0.5 and 0 < cov["tgt"] < 0.5
    params = dict(model.named_parameters())
    scores = CRITERIA[criterion](model, list(masks), data)
    pruned = torch.cat([params[n].detach()[(scores[n] == 0) & ~masks[n]].abs() for n in masks])
    kept = torch.cat([params[n].detach()[(scores[n] == 0) & masks[n]].abs() for n in masks])
    assert pruned.numel() and kept.numel() and float(kept.min()) >= float(pruned.max())
    # position order would have taken src_embed (first in memory) entirely before tgt_embed
    share = {c: float(sum(int((~masks[n]).sum()) for n in ns)) / sum(masks[n].numel() for n in ns)
             for c, ns in prunable_classes(model).items()}
    assert 0 < share["src_embed"] < 0.5 and share["tgt_embed"] > 0


@pytest.mark.parametrize("criterion", ["obd", "snip"])
def test_score_cache_gives_the_same_masks_and_skips_rescoring(setup, criterion, tmp_path, monkeypatch):
    """The study's score cache: the second call reads the scores (no scoring pass) and the masks are
    identical; another seed (other sentences) or other weights are another key, never a stale file."""
    model, data = setup
    names = [n for ns in prunable_classes(model).values() for n in ns]
    from nmtprune.prune import saliency
    calls = []
    real = saliency.CRITERIA[criterion]
    monkeypatch.setitem(saliency.CRITERIA, criterion, lambda *a: calls.append(1) or real(*a))
    cached = dataclasses.replace(data, cache=str(tmp_path))
    first = compute_masks(model, Pruning(0.6, criterion=criterion, allocation="class_blind"), data=cached)
    again = compute_masks(model, Pruning(0.6, criterion=criterion, allocation="class_uniform"), data=cached)
    fresh = compute_masks(model, Pruning(0.6, criterion=criterion, allocation="class_uniform"), data=data)
    assert len(calls) == 2                         # the cached call, then the uncached one
    assert all(torch.equal(again[n], fresh[n]) for n in fresh)
    assert not all(torch.equal(first[n], again[n]) for n in fresh)      # allocation still applies
    compute_masks(model, Pruning(0.6, criterion=criterion, allocation="class_blind"), data=dataclasses.replace(cached, seed=data.seed + 1))
    assert len(calls) == 3 and len(list(tmp_path.glob(f"{criterion}-*.safetensors"))) == 2
    p = dict(model.named_parameters())[names[0]]
    saved = p.detach().clone()
    with torch.no_grad():
        p.mul_(1.5)
    try:
        compute_masks(model, Pruning(0.6, criterion=criterion, allocation="class_blind"), data=cached)
    finally:
        with torch.no_grad():
            p.copy_(saved)
    assert len(calls) == 4
