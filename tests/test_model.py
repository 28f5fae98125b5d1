import pytest
import torch

from nmtprune.data.batching import pad_sources
from nmtprune.model.config import ATTENTIONS
from nmtprune.model.init import INIT_SCHEMES
from nmtprune.model.classes import weight_classes
from nmtprune.model.seq2seq import build_model, count_parameters
from nmtprune.data.tokenizers import BOS

from helpers import tiny_config


def _batch(cfg, lens=(5, 3, 1), tlen=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    src, src_len = pad_sources([torch.randint(4, cfg.src_vocab, (n,), generator=g).tolist() for n in lens])
    tgt = torch.randint(4, cfg.tgt_vocab, (len(lens), tlen), generator=g)
    tgt_in = torch.cat([torch.full((len(lens), 1), BOS), tgt[:, :-1]], 1)
    from nmtprune.data.batching import Batch
    return Batch(src, src_len, tgt_in, tgt, torch.arange(len(lens)))


@pytest.mark.parametrize("attention", ATTENTIONS)
@pytest.mark.parametrize("bidirectional", [True, False])
@pytest.mark.parametrize("input_feed", [True, False])
def test_shapes(attention, bidirectional, input_feed):
    cfg = tiny_config(attention=attention, bidirectional=bidirectional, input_feed=input_feed)
    model = build_model(cfg, seed=0).eval()
    batch = _batch(cfg)
    logits, align = model(batch, return_align=True)
    assert logits.shape == (3, 4, cfg.tgt_vocab)
    assert align.shape == (3, 4, 5)
    assert torch.allclose(align.sum(-1), torch.ones(3, 4))


@pytest.mark.parametrize("attention", ATTENTIONS)
def test_padding_is_masked(attention):
    """Attention puts zero weight on padding, and padding does not change a sentence's output."""
    cfg = tiny_config(attention=attention)
    model = build_model(cfg, seed=1).eval()
    batch = _batch(cfg, lens=(6, 2))
    logits, align = model(batch, return_align=True)
    assert torch.all(align[1, :, 2:] == 0)
    from nmtprune.data.batching import Batch
    alone = Batch(batch.src[1:, :2], batch.src_len[1:], batch.tgt_in[1:], batch.tgt_out[1:], batch.index[1:])
    assert torch.allclose(model(alone)[0], logits[1], atol=1e-5)


def test_weight_classes_partition_parameters():
    cfg = tiny_config(enc_layers=3, dec_layers=2, attention="concat")
    model = build_model(cfg)
    classes = weight_classes(model)
    names = [n for ns in classes.values() for n in ns]
    assert sorted(names) == sorted(n for n, _ in model.named_parameters())
    assert len(names) == len(set(names))
    assert set(classes) == {"src_embed", "tgt_embed", "enc_layer0", "enc_layer1", "enc_layer2",
                            "dec_layer0", "dec_layer1", "attention", "softmax"}
    assert "encoder.lstm.weight_hh_l1_reverse" in classes["enc_layer1"]
    assert "decoder.attn_out.weight" in classes["attention"]
    assert classes["softmax"] == ["decoder.out.weight", "decoder.out.bias"]


@pytest.mark.parametrize("init", INIT_SCHEMES)
def test_init_schemes(init):
    cfg = tiny_config(init=init)
    a, b = build_model(cfg, seed=5), build_model(cfg, seed=5)
    for (n, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
        assert torch.equal(p, q), n          # seeded: reproducible
    w = a.decoder.layers[0].weight_hh
    if init == "uniform":
        assert w.abs().max() <= 0.1
    if init.startswith("kaiming"):
        assert abs(w.std().item() - (2 / w.size(1)) ** 0.5) < 0.2 * (2 / w.size(1)) ** 0.5
    if init in ("xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal"):
        assert torch.all(a.decoder.layers[0].bias_hh == 0)


def test_bad_names():
    from nmtprune.errors import NmtpruneError
    with pytest.raises(NmtpruneError, match="unknown attention 'bilinear'; valid: dot, general, concat"):
        build_model(tiny_config(attention="bilinear"))
    with pytest.raises(NmtpruneError, match="unknown init 'he'"):
        build_model(tiny_config(init="he"))
