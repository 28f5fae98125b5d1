"""The lexical shortlist: what it keeps, exactness when it keeps everything, the CLI option."""
import json

import numpy as np
import pytest
import torch

from nmtprune.data.batching import pad_sources
from nmtprune.data.tokenizers import EOS
from nmtprune.decode.kernels import Stepper
from nmtprune.decode.search import beam_search, greedy_search
from nmtprune.decode.shortlist import Shortlist, build_shortlist, prepared_shortlist
from nmtprune.decode.translation import translate_ids
from nmtprune.errors import NmtpruneError

from helpers import nmt, random_sources, sharp_model


def _pairs():
    a = np.array
    # source word 10 always comes with target 40 (and sometimes 41); 11 with 42; 5 is everywhere.
    src = [a([10, 5]), a([10, 5]), a([10, 11, 5]), a([11, 5])]
    tgt = [a([40, 7]), a([40, 41, 7]), a([40, 42, 7]), a([42, 7, 7])]
    return src, tgt


def test_build_ranks_by_cooccurrence_beyond_the_frequent_words():
    src, tgt = _pairs()
    sl = build_shortlist(src, tgt, src_vocab=20, tgt_vocab=50, frequent=6, per_word=2)
    # the specials always, then the most frequent words: 7 (5 times), 40 (3 times)
    assert sl.frequent.tolist() == [0, 1, 2, 3, 7, 40]
    assert sl.table.shape == (20, 2)
    assert sl.table[10].tolist() == [41, 42]          # 40 and 7 are frequent: not repeated; ties by id
    assert sl.table[11].tolist() == [42, -1]          # its only other word
    assert (sl.table[0] == -1).all()                  # pad (never seen): no words


def test_ids_for_a_batch_are_sorted_unique_and_hold_eos():
    src, tgt = _pairs()
    sl = build_shortlist(src, tgt, src_vocab=20, tgt_vocab=50, frequent=6, per_word=3)
    ids = sl.ids_for(torch.tensor([[11, 0, 0]]))
    assert ids.tolist() == sorted(set(ids.tolist())) and EOS in ids.tolist()
    assert 42 in ids.tolist() and 41 not in ids.tolist()             # 41 came with 10 only


def test_bad_sizes_and_empty_data_are_refused():
    src, tgt = _pairs()
    with pytest.raises(NmtpruneError, match="frequent=0"):
        build_shortlist(src, tgt, src_vocab=20, tgt_vocab=50, frequent=0)
    with pytest.raises(NmtpruneError, match="non-empty"):
        build_shortlist([], [], src_vocab=20, tgt_vocab=50)


def test_save_load_round_trip(tmp_path):
    src, tgt = _pairs()
    sl = build_shortlist(src, tgt, src_vocab=20, tgt_vocab=50, frequent=4, per_word=3)
    sl.save(tmp_path / "s.safetensors")
    back = Shortlist.load(tmp_path / "s.safetensors")
    assert torch.equal(back.frequent, sl.frequent) and torch.equal(back.table, sl.table)


@pytest.fixture(scope="module")
def model():
    return sharp_model()


@pytest.mark.parametrize("kernels", ["dense", "auto"])
def test_a_shortlist_of_every_word_changes_nothing(model, kernels):
    V = model.decoder.out.weight.size(0)
    everything = Shortlist(torch.arange(V), torch.full((model.cfg.src_vocab, 1), -1))
    sources = random_sources(10)
    want = translate_ids(model, sources, beam=4, batch_size=4, kernels=kernels)
    assert translate_ids(model, sources, beam=4, batch_size=4, kernels=kernels, shortlist=everything) == want
    assert translate_ids(model, sources, beam=1, batch_size=4, kernels=kernels, shortlist=everything) == \
        translate_ids(model, sources, beam=1, batch_size=4, kernels=kernels)


def test_a_narrow_shortlist_only_produces_its_words(model):
    src, lens = pad_sources(random_sources(6, seed=3))
    full = beam_search(model, src, lens, beam=4)
    used = {t for h in full for t in h}
    keep = torch.tensor(sorted({0, 1, 2, 3, 5, 9, 20} | used))
    step = Stepper(model, "auto", rows=24)
    step.narrow(keep)
    for hyps in (beam_search(model, src, lens, beam=4, stepper=step, max_len_b=6),
                 greedy_search(model, src, lens, stepper=step, max_len_b=6)):
        assert all(set(h) <= set(keep.tolist()) for h in hyps)
        assert any(hyps)
    step.narrow(None)                                  # back to every word
    assert beam_search(model, src, lens, beam=4, stepper=step) == beam_search(model, src, lens, beam=4)


def test_prepared_shortlist_is_built_once_and_cached(prep_dir, tmp_path):
    import shutil
    prep = tmp_path / "prep"
    shutil.copytree(prep_dir, prep)
    a = prepared_shortlist(prep, src_vocab=600, tgt_vocab=600, frequent=20, per_word=5)
    cached = prep / "shortlist.f20.k5.safetensors"
    assert cached.is_file()
    b = prepared_shortlist(prep, src_vocab=600, tgt_vocab=600, frequent=20, per_word=5)
    assert torch.equal(a.table, b.table) and a.table.shape == (600, 5)


def test_cli_shortlist_option(cli_run, tmp_path):
    r = nmt("evaluate", cli_run / "run", "--split", "test_2016_flickr", "--beam", "2", "--shortlist", "--json",
            "--out", tmp_path)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["shortlist"] is True and out["sentences"] == 100
    r = nmt("translate", cli_run / "run", "--shortlist", "--kernels", "auto", stdin="Ein Hund rennt.\n")
    assert r.returncode == 0 and len(r.stdout.splitlines()) == 1, r.stderr
