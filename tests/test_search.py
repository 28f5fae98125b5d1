import pytest
import torch

from nmtprune.data.batching import pad_sources
from nmtprune.model.seq2seq import build_model
from nmtprune.decode.kernels import Stepper
from nmtprune.decode.search import beam_search, greedy_search, top_candidates
from nmtprune.decode.translation import translate_ids

from conftest import tiny_config


def _sources(n=12, seed=0, vocab=50):
    g = torch.Generator().manual_seed(seed)
    return [torch.randint(4, vocab, (int(torch.randint(1, 9, (1,), generator=g)),), generator=g).tolist()
            for _ in range(n)]


@pytest.fixture(scope="module")
def model():
    m = build_model(tiny_config(), seed=11).eval()
    # Sharpen the output so hypotheses end with EOS at varied lengths.
    with torch.no_grad():
        m.decoder.out.weight.mul_(8)
    return m


def test_beam_one_equals_greedy(model):
    src, lens = pad_sources(_sources())
    assert beam_search(model, src, lens, beam=1) == greedy_search(model, src, lens)


def test_batched_beam_equals_one_by_one(model):
    sources = _sources(8, seed=2)
    batched = translate_ids(model, sources, beam=4, batch_size=8)
    single = translate_ids(model, sources, beam=4, batch_size=1)
    assert batched == single


def test_beam_scores_at_least_greedy(model):
    """Beam search (no length normalisation) finds a hypothesis at least as probable as greedy."""
    from nmtprune.data.batching import Batch
    from nmtprune.data.tokenizers import BOS, EOS

    def logprob(src, hyp):
        s, l = pad_sources([src])
        tgt = torch.tensor([hyp + [EOS]])
        tin = torch.cat([torch.tensor([[BOS]]), tgt[:, :-1]], 1)
        lp = torch.log_softmax(model(Batch(s, l, tin, tgt, torch.zeros(1))), -1)[0]
        return sum(lp[t, y].item() for t, y in enumerate(tgt[0].tolist()))

    for src in _sources(6, seed=4):
        s, l = pad_sources([src])
        g = greedy_search(model, s, l, max_len_a=4, max_len_b=40)[0]
        b = beam_search(model, s, l, beam=5, alpha=0.0, max_len_a=4, max_len_b=40)[0]
        assert logprob(src, b) >= logprob(src, g) - 1e-4


def test_output_length_is_bounded():
    """A degenerate model that never emits EOS stops at a*len + b tokens."""
    m = build_model(tiny_config(), seed=0).eval()
    with torch.no_grad():
        m.decoder.out.weight.zero_()
        m.decoder.out.bias.zero_()
        m.decoder.out.bias[7] = 10.0        # always token 7, never EOS
    src, lens = pad_sources([[5, 6, 7], [5]])
    for beam in (1, 3):
        out = beam_search(m, src, lens, beam=beam, max_len_a=2.0, max_len_b=3)
        assert [len(h) for h in out] == [9, 5]


@pytest.mark.parametrize("n, K, V", [(3, 4, 50), (1, 5, 7), (2, 2, 3), (4, 5, 1003), (3, 5, 1024), (2, 3, 130)])
def test_top_candidates_equal_the_full_topk(n, K, V):
    """Small vocabularies take the plain top-k, larger ones the block search (last block short or not)."""
    g = torch.Generator().manual_seed(n * 100 + K)
    logits = 3 * torch.randn(n * K, V, generator=g)
    scores = torch.randn(n, K, generator=g)
    scores[0, 1:] = float("-inf")                      # first step: only beam 0 is live
    want_s, want_i = (scores.view(-1, 1) + logits.log_softmax(1)).view(n, K * V).topk(2 * K, dim=1)
    got_s, got_i = top_candidates(logits, scores, 2 * K)
    assert torch.allclose(got_s, want_s, rtol=0, atol=1e-5)
    finite = want_s > float("-inf")
    assert torch.equal(got_i[finite], want_i[finite])


@pytest.mark.parametrize("attention, input_feed", [("general", True), ("dot", False), ("concat", True)])
@pytest.mark.parametrize("kernels, tol", [("sparse", 1e-5), ("bf16", 3e-2)])
def test_stepper_kernels_match_the_training_step(attention, input_feed, kernels, tol):
    m = build_model(tiny_config(attention=attention, input_feed=input_feed), seed=3).eval()
    with torch.no_grad():                              # a pruned-looking model
        for p in m.parameters():
            p.mul_(torch.rand(p.shape) > 0.7)
    src, lens = pad_sources(_sources(4, seed=5))
    dense, other = Stepper(m, "dense"), Stepper(m, kernels, rows=8)
    with torch.inference_mode():
        memory, s1 = m.encode(src, lens)
        s2, tokens = s1, torch.full((4,), 2)
        for _ in range(5):
            a, s1 = dense(tokens, s1, memory)
            b, s2 = other(tokens, s2, memory)
            assert (a - b[:, :a.size(1)]).abs().max() <= tol * a.abs().max()   # bf16 pads the vocabulary
            tokens = a.argmax(-1)
    assert set(other.report) == {"layer0", "layer1", "attn_out", "out"}
    assert all(e["kernel"] == kernels for e in other.report.values())
