"""Hidden-unit pruning: a masked unit is exactly a removed one, and the smaller model shows it."""
import json

import pytest
import torch

from nmtprune.checkpoint.load import load_checkpoint
from nmtprune.errors import NmtpruneError
from nmtprune.model.masks import apply_masks
from nmtprune.model.seq2seq import build_model
from nmtprune.model.units import families, kept_units, shrink
from nmtprune.prune import Pruning, compute_masks
from nmtprune.prune.units import current_sparsity, unit_sparsity

from helpers import nmt, tiny_config


def _logits(model, src, src_len, tgt):
    memory, state = model.encode(src, src_len)
    h, _ = model.decoder.states(tgt, state, memory)
    return model.decoder.out(h).detach()


@pytest.mark.parametrize("bidirectional", [True, False])
@pytest.mark.parametrize("layers", [(2, 2), (1, 2)])           # bridged, and decoder starting from zeros
@pytest.mark.parametrize("allocation,criterion,sparsity", [("class_uniform", "magnitude", 0.5),
                                                           ("class_blind", "random", 0.2)])
def test_the_shrunk_model_computes_what_the_masked_one_does(bidirectional, layers, allocation, criterion,
                                                            sparsity):
    cfg = tiny_config(bidirectional=bidirectional, enc_layers=layers[0], dec_layers=layers[1], dropout=0.0)
    model = build_model(cfg, seed=1).eval()
    masks = compute_masks(model, Pruning(sparsity, criterion=criterion, allocation=allocation, granularity="unit"))
    apply_masks(model, masks)
    keep = kept_units(model, masks)
    total = sum(k.numel() for k in keep.values())
    assert unit_sparsity(keep) == pytest.approx(round(sparsity * total) / total if allocation == "class_blind"
                                                else unit_sparsity(keep))
    small, _ = shrink(model, keep, masks=masks)
    g = torch.Generator().manual_seed(0)
    src, tgt = torch.randint(3, 50, (4, 7), generator=g), torch.randint(3, 60, (4, 6), generator=g)
    src_len = torch.tensor([7, 5, 3, 6])
    for i, n in enumerate(src_len.tolist()):
        src[i, n:] = 0
    assert torch.allclose(_logits(model, src, src_len, tgt), _logits(small, src, src_len, tgt), atol=1e-5)
    n0, n1 = (sum(p.numel() for p in m.parameters()) for m in (model, small))
    assert n1 < n0 and (allocation != "class_uniform" or n1 <= 0.6 * n0)


def test_class_uniform_removes_the_same_share_of_every_layer_and_direction():
    model = build_model(tiny_config(), seed=0)
    masks = compute_masks(model, Pruning(0.5, allocation="class-uniform", granularity="unit"))
    for fam in families(model):
        k = kept_units(model, masks)[fam.name]
        assert all(int(part.sum()) == part.numel() // 2 for part in k.chunk(fam.parts)), fam.name
    assert all(masks[n].dim() == 1 and not bool(masks[n].all()) for n in masks if "bias" in n)   # biases go too


def test_repruning_keeps_removed_units_removed():
    model = build_model(tiny_config(), seed=0)
    first = compute_masks(model, Pruning(0.25, criterion="random", allocation="class_uniform", granularity="unit"))
    apply_masks(model, first)
    second = compute_masks(model, Pruning(0.5, allocation="class_uniform", granularity="unit"), start=first)
    assert all(not bool((second[n] & ~first[n]).any()) for n in first)
    assert unit_sparsity(kept_units(model, second)) == pytest.approx(0.5)
    # weights inside the kept units on top: the units' bias masks stay in force
    third = compute_masks(model, Pruning(0.8), start=second)
    assert all(n in third and not bool((third[n] & ~second[n]).any()) for n in second)


def test_only_the_named_families_lose_units_and_the_share_counts_them():
    """The decoder's units alone (its width sets each decoding step's cost): the encoder and the
    embeddings keep every unit, the shrunk model still computes what the masked one does."""
    cfg = tiny_config(dropout=0.0)
    model = build_model(cfg, seed=1).eval()
    dec = ("dec_layer0", "dec_layer1", "attn_state")
    masks = compute_masks(model, Pruning(0.5, allocation="class_uniform", granularity="unit", only_classes=dec))
    apply_masks(model, masks)
    keep = kept_units(model, masks)
    assert all(int(k.sum()) == k.numel() // 2 for f, k in keep.items() if f in dec)
    assert all(bool(k.all()) for f, k in keep.items() if f not in dec)
    assert current_sparsity(model, masks, "unit", only=dec) == 0.5
    assert current_sparsity(model, masks, "unit") < 0.5
    # re-pruning further keeps the encoder whole and what went gone
    more = compute_masks(model, Pruning(0.75, allocation="class_uniform", granularity="unit", only_classes=dec),
                         start=masks)
    assert all(not bool((more[n] & ~masks[n]).any()) for n in masks)
    assert current_sparsity(model, more, "unit", only=dec) == 0.75
    small, _ = shrink(model, keep, masks=masks)
    assert (small.cfg.emb_dim, small.cfg.enc_hidden, small.cfg.dec_hidden) == (cfg.emb_dim, cfg.enc_hidden,
                                                                                 cfg.dec_hidden // 2)
    g = torch.Generator().manual_seed(0)
    src, tgt = torch.randint(3, 50, (3, 6), generator=g), torch.randint(3, 60, (3, 5), generator=g)
    src_len = torch.tensor([6, 4, 2])
    for i, n in enumerate(src_len.tolist()):
        src[i, n:] = 0
    assert torch.allclose(_logits(model, src, src_len, tgt), _logits(small, src, src_len, tgt), atol=1e-5)


@pytest.mark.parametrize("kw,cfg,message", [
    ({"allocation": "class_distribution"}, {}, "cannot score groups"),
    ({"sparsity": 0.9, "allocation": "class_blind"}, {}, "would remove all"),
    ({}, {"attention": "dot"}, "supports general attention"),
    ({"only_classes": ["softmax"]}, {}, "unknown --classes unit family 'softmax'; valid: .*dec_layer0"),
])
def test_bad_unit_prunings_are_one_line_errors(kw, cfg, message):
    model = build_model(tiny_config(**cfg), seed=0)
    with pytest.raises(NmtpruneError, match=message):
        compute_masks(model, Pruning(**{"sparsity": 0.5, "granularity": "unit", **kw}))


def test_cli_bar_export_is_smaller_and_translates_like_the_masked_checkpoint(cli_run, raw_dir, tmp_path):
    pruned, out = tmp_path / "p", tmp_path / "small.nmtz"
    r = nmt("prune", cli_run / "run", "--criterion", "magnitude", "--allocation", "class-uniform",
            "--granularity", "unit", "--sparsity", "0.5", "--out", pruned, "--quiet")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout.splitlines()[-1])["unit_sparsity"] == pytest.approx(0.5, abs=0.02)
    r = nmt("inspect", pruned)
    assert r.returncode == 0 and "units of" in r.stdout and "enc_layer0" in r.stdout, r.stderr
    assert nmt("export", pruned, "--out", out).returncode == 0
    dense = sum(p.numel() for p in load_checkpoint(cli_run / "run").model.parameters())
    small = load_checkpoint(out, device="cpu").model
    assert sum(p.numel() for p in small.parameters()) <= 0.6 * dense
    lines = (raw_dir / "test_2016_flickr.de").read_text().splitlines()[:20]
    a, b = (nmt("translate", m, "--beam", "3", "--workers", "1", "--quiet", stdin="\n".join(lines) + "\n")
            for m in (pruned, out))
    assert a.returncode == 0 and a.stdout == b.stdout and len(a.stdout.splitlines()) == 20


def test_an_nmtz_whose_header_disagrees_with_its_matrices_is_refused(cli_run, tmp_path):
    from nmtprune.checkpoint.nmtz import read_nmtz, write_nmtz
    pruned, out = tmp_path / "p", tmp_path / "small.nmtz"
    assert nmt("prune", cli_run / "run", "--allocation", "class-uniform", "--granularity", "unit",
               "--sparsity", "0.5", "--out", pruned, "--quiet").returncode == 0
    assert nmt("export", pruned, "--out", out).returncode == 0
    header, payload = read_nmtz(out)
    for key, message in (("emb_dim", "disagrees with its matrices"), ("dec_hidden", "bridge_units must list")):
        bad = json.loads(json.dumps(header))
        bad["model_config"][key] += 2
        write_nmtz(tmp_path / "bad.nmtz", bad, payload)
        r = nmt("translate", tmp_path / "bad.nmtz", "--quiet", stdin="Ein Mann.\n")
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert message in r.stderr and "bad.nmtz" in r.stderr


def test_gradual_unit_pruning_ends_exactly_at_its_share_of_units(cli_run, tmp_path):
    r = nmt("retrain", cli_run / "run", "--prune-to", "0.5", "--granularity", "unit", "--epochs", "1",
            "--set", "max_steps=6", "--out", tmp_path / "g", "--quiet")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout.splitlines()[-1])["unit_sparsity"] == 0.5
    cfg = json.loads((tmp_path / "g" / "config.json").read_text())["train"]
    assert (cfg["prune_granularity"], cfg["prune_allocation"]) == ("unit", "class_uniform")   # units: uniform unless told
    ck = load_checkpoint(tmp_path / "g")            # loading checks the weights agree with the mask
    assert unit_sparsity(kept_units(ck.model, ck.masks)) == 0.5


def test_gradual_pruning_of_the_decoders_units_only(cli_run, tmp_path):
    r = nmt("retrain", cli_run / "run", "--prune-to", "0.5", "--granularity", "unit", "--classes",
            "dec_layer0,attn_state", "--epochs", "1", "--set", "max_steps=6", "--out", tmp_path / "g", "--quiet")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout.splitlines()[-1])["unit_sparsity"] == 0.5
    assert json.loads((tmp_path / "g" / "config.json").read_text())["train"]["prune_classes"] == [
        "dec_layer0", "attn_state"]
    ck = load_checkpoint(tmp_path / "g")
    keep = kept_units(ck.model, ck.masks)
    assert bool(keep["enc_layer0"].all()) and bool(keep["src_embed"].all())
    assert int(keep["dec_layer0"].sum()) == keep["dec_layer0"].numel() // 2
    r = nmt("retrain", cli_run / "run", "--prune-to", "0.5", "--granularity", "unit", "--classes", "decoder",
            "--epochs", "1", "--out", tmp_path / "bad", "--quiet")
    assert r.returncode != 0 and "unknown --classes unit family 'decoder'" in r.stderr, r.stderr


def test_units_then_weights_inside_then_int8(cli_run, raw_dir, tmp_path):
    """Both at once: units removed, then single weights inside the kept units, exported smaller
    (fp32: the same translations as the masked checkpoint; int8: smaller still)."""
    u, w = tmp_path / "u", tmp_path / "w"
    assert nmt("prune", cli_run / "run", "--allocation", "class-uniform", "--granularity", "unit",
               "--sparsity", "0.5", "--out", u, "--quiet").returncode == 0
    r = nmt("prune", u, "--sparsity", "0.8", "--out", w, "--quiet")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout.splitlines()[-1])["unit_sparsity"] == pytest.approx(0.5, abs=0.02)
    matrices = [m for m in load_checkpoint(w).masks.values() if m.dim() == 2]     # what --sparsity counts
    assert 1 - sum(int(m.sum()) for m in matrices) / sum(m.numel() for m in matrices) == pytest.approx(0.8, abs=1e-4)
    lines = (raw_dir / "test_2016_flickr.de").read_text().splitlines()[:20]
    sizes = {}
    for values in ("fp32", "int8"):
        r = nmt("export", w, "--out", tmp_path / f"w-{values}.nmtz", "--values", values)
        assert r.returncode == 0, r.stderr
        sizes[values] = json.loads(r.stdout.splitlines()[0])
        ck = load_checkpoint(tmp_path / f"w-{values}.nmtz")
        assert ck.masks is not None and ck.model.cfg.dec_hidden < 24           # smaller, and sparse inside
    a, b = (nmt("translate", m, "--beam", "3", "--workers", "1", "--quiet", stdin="\n".join(lines) + "\n").stdout
            for m in (w, tmp_path / "w-fp32.nmtz"))
    assert a == b
    assert sizes["int8"]["bytes"] < sizes["fp32"]["bytes"]
