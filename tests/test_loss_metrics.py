import math

import pytest
import torch

from nmtprune.data.corpus import Corpus
from nmtprune.model.layers import FastDropout
from nmtprune.model.loss import softmax_xent
from nmtprune.decode.metrics import bleu_chrf, perplexity, sentence_bleu
from nmtprune.model.seq2seq import build_model

from helpers import tiny_config


@pytest.mark.parametrize("eps", [0.0, 0.1, 0.3])
def test_xent_matches_torch(eps):
    torch.manual_seed(0)
    x = torch.randn(40, 17, dtype=torch.float64, requires_grad=True)
    t = torch.randint(0, 17, (40,))
    loss, nll = softmax_xent(x, t, smoothing=eps)
    (loss * 0.3).backward()
    ours = x.grad.clone()
    x.grad = None
    ref = torch.nn.functional.cross_entropy(x, t, reduction="sum", label_smoothing=eps)
    (ref * 0.3).backward()
    assert loss.item() == pytest.approx(ref.item(), rel=1e-12)
    assert nll.item() == pytest.approx(torch.nn.functional.cross_entropy(x, t, reduction="sum").item())
    assert torch.allclose(ours, x.grad, atol=1e-12)


def test_xent_in_chunks_and_from_bf16_logits():
    """Rows beyond one chunk, and bfloat16 logits (autocast) computed in fp32 with a bf16 gradient."""
    from nmtprune.model.loss import CHUNK
    torch.manual_seed(1)
    n = 2 * CHUNK + 37
    x = torch.randn(n, 9, dtype=torch.float64, requires_grad=True)
    t = torch.randint(0, 9, (n,))
    loss, _ = softmax_xent(x, t, smoothing=0.1)
    loss.backward()
    ref = torch.nn.functional.cross_entropy(x.detach().requires_grad_(), t, reduction="sum", label_smoothing=0.1)
    assert loss.item() == pytest.approx(ref.item(), rel=1e-12)
    xb = x.detach().to(torch.bfloat16).requires_grad_()
    lb, _ = softmax_xent(xb, t)
    assert lb.dtype == torch.float32
    up = xb.detach().double().requires_grad_()
    want = torch.nn.functional.cross_entropy(up, t, reduction="sum")
    want.backward()
    assert lb.item() == pytest.approx(want.item(), rel=1e-6)
    lb.backward()
    assert xb.grad.dtype == torch.bfloat16
    assert torch.allclose(xb.grad.double(), up.grad, atol=1e-2)
    # padding rows past the targets: same loss, zero gradient there
    xp = torch.cat([x.detach(), torch.randn(5, 9, dtype=torch.float64)]).requires_grad_()
    lp, _ = softmax_xent(xp, t, smoothing=0.1)
    lp.backward()
    assert lp.item() == pytest.approx(ref.item(), rel=1e-12)
    assert torch.equal(xp.grad[:n], x.grad) and not xp.grad[n:].any()


def test_perplexity_of_uniform_model_is_vocab_size():
    """Hand-checkable: zero softmax weights and bias give p = 1/V for every token, so ppl = V."""
    import numpy as np
    cfg = tiny_config(tgt_vocab=37)
    model = build_model(cfg, seed=0)
    with torch.no_grad():
        model.decoder.out.weight.zero_()
        model.decoder.out.bias.zero_()
    corpus = Corpus([np.array([5, 6, 7], np.int32), np.array([8], np.int32)],
                    [np.array([9, 10], np.int32), np.array([11, 12, 13, 14], np.int32)])
    assert perplexity(model, corpus) == pytest.approx(37.0, rel=1e-6)


def test_perplexity_is_exp_mean_token_nll():
    import numpy as np
    cfg = tiny_config()
    model = build_model(cfg, seed=3).eval()
    corpus = Corpus([np.array([5, 6], np.int32)], [np.array([9, 10, 11], np.int32)])
    from nmtprune.data.batching import collate
    batch = collate(corpus, [0])
    logp = torch.log_softmax(model(batch), -1)[0]
    nll = -sum(logp[t, y].item() for t, y in enumerate(batch.tgt_out[0].tolist()))
    assert perplexity(model, corpus) == pytest.approx(math.exp(nll / 4), rel=1e-5)


def test_bleu_with_signature_and_brevity_penalty():
    refs = ["a man rides a red bike down the street .", "two dogs play in the snow ."]
    perfect = bleu_chrf(refs, refs)
    assert perfect["bleu"] == 100.0 and perfect["chrf"] == 100.0
    assert perfect["signature"].startswith("nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:")
    short = bleu_chrf(["a man rides a red bike", "two dogs play"], refs)
    assert short["bp"] < 1.0 and short["bleu"] < 60
    assert sentence_bleu(refs, refs) == pytest.approx([100.0, 100.0])


def test_fast_dropout_statistics():
    torch.manual_seed(0)
    d = FastDropout(0.3).train()
    y = d(torch.ones(200_000))
    assert abs((y == 0).float().mean().item() - 0.3) < 0.01
    assert abs(y.mean().item() - 1.0) < 0.01
    assert torch.equal(d.eval()(torch.ones(5)), torch.ones(5))


def test_sentence_bleu_checks_lengths_and_keeps_odd_line_breaks():
    from nmtprune.decode.metrics import sentence_bleu
    from nmtprune.errors import NmtpruneError
    hyps = ["a dog\x0bruns", "two cats\u2028sleep"]          # one hypothesis each, as decoding returned
    assert len(sentence_bleu(hyps, ["a dog runs", "two cats sleep"])) == 2
    with pytest.raises(NmtpruneError, match="2 hypotheses for 3 references"):
        sentence_bleu(hyps, ["a", "b", "c"])
