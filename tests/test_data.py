import gzip
import logging

import numpy as np
import pytest

from nmtprune.api import prepare
from nmtprune.data.batching import collate, make_batches
from nmtprune.data.corpus import find_splits
from nmtprune.data.prepared import Prepared
from nmtprune.data.tokenizers import BOS, EOS, PAD
from nmtprune.errors import NmtpruneError


def test_prepare_real_data_layout(prepared, raw_dir):
    assert set(prepared.splits) == {"train", "val", "test_2016_flickr"}
    train = prepared.load("train")
    assert len(train) == prepared.meta["stats"]["train"]["kept"] <= 3000
    test = prepared.load("test_2016_flickr")
    # evaluation splits keep every line and their raw references
    assert len(test) == len(test.raw_tgt) == 100
    assert test.raw_tgt[0] == (raw_dir / "test_2016_flickr.en").read_text().splitlines()[0]
    # ids round-trip through the tokenizer
    tok = prepared.tokenizer("tgt")
    assert tok.decode(list(test.tgt[0])) == test.raw_tgt[0]


def test_train_split_filtering(tmp_path, caplog):
    d = tmp_path / "raw"
    d.mkdir()
    src = ["ein Hund", "", "zwei Katzen", "sehr " * 80, "ein Haus"] * 20
    tgt = ["a dog", "nothing", "two cats", "very " * 80, ""] * 20
    (d / "train.de").write_text("\n".join(src) + "\n")
    (d / "train.en").write_text("\n".join(tgt) + "\n")
    (d / "val.de").write_text("ein Hund\n\n")
    (d / "val.en").write_text("a dog\n\n")
    with caplog.at_level(logging.INFO, logger="nmtprune"):
        out = prepare(tmp_path / "p", data=d, src="de", tgt="en", vocab_size=40, max_len=30)
    logs = [r.getMessage() for r in caplog.records]
    stats = Prepared(out).meta["stats"]
    assert stats["train"] == {**stats["train"], "lines": 100, "kept": 40, "dropped_empty": 40,
                              "dropped_too_long": 20}
    assert any("dropped 40 empty, 20 longer than 30" in m for m in logs)
    assert len(Prepared(out).load("val")) == 2   # empty evaluation lines are kept


def test_find_splits_plain_and_gz(tmp_path):
    (tmp_path / "a.de").write_text("x\n")
    with gzip.open(tmp_path / "a.en.gz", "wt") as f:
        f.write("y\n")
    (tmp_path / "b.de").write_text("x\n")   # no English side: ignored
    assert set(find_splits(tmp_path, "de", "en")) == {"a"}


@pytest.mark.parametrize("case, message", [
    ("mismatch", "line counts differ"),
    ("utf8", "train.en:2: invalid UTF-8"),
    ("missing", r"split .val. \(--valid-split\) not found in .* found: train"),
    ("empty", "has no non-empty sentence pairs"),
])
def test_prepare_bad_input(tmp_path, case, message):
    d = tmp_path / "raw"
    d.mkdir()
    (d / "train.de").write_text("a\nb\n")
    (d / "train.en").write_text("c\nd\n")
    (d / "val.de").write_text("a\n")
    (d / "val.en").write_text("c\n")
    if case == "mismatch":
        (d / "train.en").write_text("c\n")
    elif case == "utf8":
        (d / "train.en").write_bytes(b"ok\n\xff\xfe bad\n")
    elif case == "missing":
        (d / "val.en").unlink()
    elif case == "empty":
        (d / "train.de").write_text("\n\n")
    out = tmp_path / "prep"
    with pytest.raises(NmtpruneError, match=message):
        prepare(out, data=d, src="de", tgt="en", vocab_size=30)
    assert not (out / "prep.json").exists()


def test_batches_respect_token_budget_and_cover_corpus(prepared):
    train = prepared.load("train")
    batches = make_batches(train, 800, shuffle=True, seed=3)
    seen = sorted(i for b in batches for i in b)
    assert seen == list(range(len(train)))
    for b in batches:
        cost = len(b) * max(max(len(train.src[i]), len(train.tgt[i]) + 1) for i in b)
        assert cost <= 800 or len(b) == 1
    assert batches == make_batches(train, 800, shuffle=True, seed=3)   # deterministic
    assert batches != make_batches(train, 800, shuffle=True, seed=4)


def test_batches_in_multiples_of_eight_sentences(prepared):
    train = prepared.load("train")
    plain, batches = make_batches(train, 800), make_batches(train, 800, multiple=8)
    assert sorted(i for b in batches for i in b) == list(range(len(train)))
    sizes = [len(b) for b in batches]
    # every batch but the last holds a multiple of 8 sentences (or fewer than 8 when they are long)
    assert all(n % 8 == 0 or n < 8 for n in sizes[:-1])
    assert any(len(b) % 8 for b in plain) and len(batches) >= len(plain)
    for b in batches:
        assert len(b) * max(max(len(train.src[i]), len(train.tgt[i]) + 1) for i in b) <= 800 or len(b) == 1


def test_collate_layout(prepared):
    train = prepared.load("train")
    batch = collate(train, [0, 1, 2])
    n = len(train.tgt[0])
    assert batch.tgt_in[0, 0] == BOS and batch.tgt_out[0, n] == EOS
    assert np.array_equal(batch.tgt_in[0, 1:n + 1].numpy(), train.tgt[0])
    assert (batch.src[batch.src == PAD].numel() + batch.src_len.sum()) == batch.src.numel()
    assert batch.n_tokens == sum(len(train.tgt[i]) + 1 for i in range(3))


def test_joint_tokenizer_keeps_each_sides_own_pieces(raw_dir, tmp_path):
    out = prepare(tmp_path / "j", data=raw_dir, src="de", tgt="en", joint=True, vocab_size=1000)
    p = Prepared(out)
    src, tgt = p.tokenizer("src"), p.tokenizer("tgt")
    shared = prepare(tmp_path / "s", data=raw_dir, src="de", tgt="en", joint=True, side_vocab=False,
                     vocab_size=1000)
    full = Prepared(shared).tokenizer("tgt")
    # each side keeps fewer pieces than the joint model, and the sizes are what prep.json records
    assert tgt.size < full.size and src.size < full.size
    assert p.meta["vocab_sizes"] == {"src": src.size, "tgt": tgt.size}
    train = p.load("train")
    # every training id is a real piece of its side (no <unk>), within the compact range
    for side, tok in (("src", src), ("tgt", tgt)):
        ids = np.concatenate(getattr(train, side))
        assert ids.max() < tok.size and not (ids == 1).any()
    # same segmentation as the shared vocabulary, renumbered: text round-trips
    test, test_shared = p.load("test_2016_flickr"), Prepared(shared).load("test_2016_flickr")
    for i in range(20):
        assert tgt.decode(list(test.tgt[i])) == full.decode(list(test_shared.tgt[i])) == test.raw_tgt[i]
    assert tgt.decode(tgt.encode("A dog runs.")) == "A dog runs."
    # German pieces are unknown on the English side, not on the German one
    assert 1 in tgt.encode("Ein Mann schläft auf einer Bank.")
    assert 1 not in src.encode("Ein Mann schläft auf einer Bank.")
    # the file is self-contained: loads on its own, and a foreign file is refused clearly
    from nmtprune.data.tokenizers import load_tokenizer
    assert load_tokenizer(out / "joint-tgt.side.npz").encode("two cats") == tgt.encode("two cats")
    bad = tmp_path / "bad.side.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(NmtpruneError, match="bad.side.npz: not a per-side tokenizer"):
        load_tokenizer(bad)
