import pytest
import torch

from nmtprune.data.batching import pad_sources
from nmtprune.model.seq2seq import build_model
from nmtprune.decode.kernels import Stepper
from nmtprune.decode.search import beam_search, greedy_search, top_candidates
from nmtprune.decode.translation import translate_ids

from helpers import random_sources, sharp_model, tiny_config


@pytest.fixture(scope="module")
def model():
    return sharp_model()


def test_beam_one_equals_greedy(model):
    src, lens = pad_sources(random_sources())
    assert beam_search(model, src, lens, beam=1) == greedy_search(model, src, lens)


def test_batched_beam_equals_one_by_one(model):
    sources = random_sources(8, seed=2)
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

    for src in random_sources(6, seed=4):
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
    src, lens = pad_sources(random_sources(4, seed=5))
    dense, other = Stepper(m, "dense"), Stepper(m, kernels, rows=8)
    with torch.inference_mode():
        memory, s1 = m.encode(src, lens)
        s2, tokens = s1, torch.full((4,), 2)
        for _ in range(5):
            a, s1 = dense(tokens, s1, memory)
            b, s2 = other(tokens, s2, memory)
            assert b.shape == a.shape
            assert (a - b).abs().max() <= tol * a.abs().max()
            tokens = a.argmax(-1)
    assert set(other.report) == {"layer0", "layer1", "attn_out", "out"}
    # bf16: the softmax layer stays an fp32 product, so the log-softmax sees fp32 logits
    want = {n: "dense" if kernels == "bf16" and n == "out" else kernels for n in other.report}
    assert {n: e["kernel"] for n, e in other.report.items()} == want
    if kernels == "bf16":
        assert (b - b.bfloat16().float()).abs().max() > 0             # not rounded to bf16 (they were)


class _Bigram:
    """A fake decoding step whose next-token log-probabilities depend on the last token only."""

    def __init__(self, table: dict[int, dict[int, float]], V: int = 8):
        self.logits = torch.full((V, V), -30.0)
        for prev, nxt in table.items():
            for tok, lp in nxt.items():
                self.logits[prev, tok] = lp

    def index_select(self, rows):                       # stands in for the state and the memory
        return self

    def __call__(self, tokens, state, memory):
        return self.logits[tokens], state


def test_capped_hypotheses_are_scored_like_finished_ones():
    """At the cap a live beam ends with EOS: (log p(hyp) + log p(EOS | hyp)) / (len + 1). Token 5
    is a little likelier than 6, but stopping after it is far less likely: 6 must win."""
    from nmtprune.data.tokenizers import BOS, EOS
    step = _Bigram({BOS: {5: -1.0, 6: -1.1}, 5: {EOS: -5.0, 7: -0.01}, 6: {EOS: -0.1, 7: -2.4}})
    src, lens = torch.zeros(1, 1, dtype=torch.long), torch.ones(1, dtype=torch.long)
    out = beam_search(None, src, lens, beam=2, alpha=1.0, max_len_a=0.0, max_len_b=1, stepper=step,
                      encoded=(step, step))
    assert out == [[6]]                                   # scored without EOS, [5] won before


def test_a_sentence_keeps_at_most_beam_finished_hypotheses():
    from nmtprune.decode.search import add_finished
    done: list = []
    for score in (-3.0, -1.0, -5.0, -2.0, -0.5):
        add_finished(done, score, [int(-score * 2)], 3)
        assert len(done) <= 3
    assert sorted(s for s, _ in done) == [-2.0, -1.0, -0.5]
