import json
import struct

import pytest
import torch

from nmtprune.prune.pruning import Pruning
from nmtprune.api import train, translate
from nmtprune.checkpoint.load import load_checkpoint
from nmtprune.errors import NmtpruneError
from nmtprune.checkpoint.export import export
from nmtprune.checkpoint.nmtz import load_nmtz
from nmtprune.prune import inspect, prune

from helpers import TINY_MODEL, TINY_TRAIN

LINES = ["Ein Mann fährt Fahrrad.", "Zwei Hunde spielen im Schnee.", "Eine Frau liest ein Buch."]


@pytest.fixture(scope="module")
def pruned(prep_dir, tmp_path_factory):
    d = tmp_path_factory.mktemp("exp")
    train(prep_dir, d / "run", preset="tiny", model_overrides=TINY_MODEL, train_overrides=TINY_TRAIN, progress=False)
    prune(d / "run", Pruning(0.8, criterion="magnitude", allocation="class_blind"), d / "pruned")
    return d


def test_fp32_round_trip_is_bit_exact(pruned):
    r = export(pruned / "pruned", pruned / "m.nmtz", values="fp32")
    a, b = load_checkpoint(pruned / "pruned"), load_nmtz(pruned / "m.nmtz")
    for (n, x), (_, y) in zip(a.model.state_dict().items(), b.model.state_dict().items()):
        assert torch.equal(x, y), n
    assert a.masks.keys() == b.masks.keys() and all(torch.equal(a.masks[k], b.masks[k]) for k in a.masks)
    assert translate(a, LINES, beam=3) == translate(str(pruned / "m.nmtz"), LINES, beam=3)
    # the bitmask bound at 80% is 0.2 + 1/32 = 0.231 of the pruned tensors' bytes (lzma'd masks do
    # better); unpruned biases are stored as they are
    from nmtprune.checkpoint.nmtz import encode_tensor
    pruned_dense = pruned_export = other = 0
    for n, w in a.model.state_dict().items():
        entry, blobs = encode_tensor(w, a.masks.get(n), "fp32")
        size = sum(len(b) for b in blobs.values())
        if n in a.masks:
            pruned_dense, pruned_export = pruned_dense + w.numel() * 4, pruned_export + size
        else:
            assert size == w.numel() * 4
            other += size
    assert pruned_export <= 0.2315 * pruned_dense
    assert sum(c["export_bytes"] for c in r["classes"].values()) == pruned_export + other
    assert inspect(pruned / "m.nmtz")["sparsity"] == pytest.approx(0.8, abs=1e-6)
    # the tokenizer files unpacked for re-saving go away with the loaded checkpoint
    tmp = b.tokenizer_files["src"].parent
    assert tmp.is_dir() and tmp != pruned
    del b
    import gc
    gc.collect()
    assert not tmp.exists()


@pytest.mark.parametrize("values, tol", [("fp16", 1e-3), ("int8", 1 / 254 + 1e-6), ("int4", 1 / 14 + 1e-3)])
def test_lossy_values_are_close(pruned, values, tol):
    export(pruned / "pruned", pruned / f"m.{values}.nmtz", values=values)
    a, b = load_checkpoint(pruned / "pruned"), load_nmtz(pruned / f"m.{values}.nmtz")
    for (n, x), (_, y) in zip(a.model.state_dict().items(), b.model.state_dict().items()):
        assert (x - y).abs().max() <= tol * max(x.abs().max().item(), 1e-6), n
        if n in a.masks:
            assert torch.all(y[~a.masks[n]] == 0)


def test_int4_packs_two_values_a_byte_in_a_version_3_file(pruned, tmp_path):
    """int4: levels -7..7 against per-row fp16 scales, two to a byte (an odd count padded), so a
    matrix's values take half its int8 bytes (less where LZMA shortens them); only such files
    are format version 3."""
    import numpy as np
    from nmtprune.checkpoint.nmtz import decode_tensor, encode_tensor, read_nmtz
    w = torch.tensor([[0.7, -0.1, 0.05], [0.0, 0.0, 0.0], [-2.0, 1.0, 0.3]])
    mask = torch.tensor([[True, True, False], [True, False, False], [True, True, True]])
    entry, blobs = encode_tensor(w, mask, "int4")
    assert len(blobs["values"]) == 3 and len(blobs["scales"]) == 3 * 2          # 6 kept -> 3 bytes
    got, m = decode_tensor(entry, lambda k: blobs[k])
    scale = np.float16(2.0 / 7)                                                 # row 2's, as stored
    assert torch.equal(m, mask) and got[2, 0].item() == pytest.approx(-7 * float(scale), rel=1e-6)
    assert got[0, 1].item() == pytest.approx(-0.1, abs=0.7 / 14 + 1e-4) and got[0, 2] == 0
    odd, odd_blobs = encode_tensor(torch.ones(1, 5), torch.ones(1, 5, dtype=torch.bool), "int4")
    ones = decode_tensor(odd, lambda k: odd_blobs[k])[0]
    assert len(odd_blobs["values"]) == 3 and torch.allclose(ones, torch.ones(1, 5), atol=1e-3)  # fp16 scale
    r8 = export(pruned / "pruned", tmp_path / "m8.nmtz", values="int8")
    r4 = export(pruned / "pruned", tmp_path / "m4.nmtz", values="int4")
    assert r4["bytes"] < r8["bytes"]
    assert [read_nmtz(tmp_path / f)[0]["format_version"] for f in ("m8.nmtz", "m4.nmtz")] == [1, 3]
    assert (tmp_path / "m4.nmtz").read_bytes()[4:6] == struct.pack("<H", 3)
    assert len(translate(str(tmp_path / "m4.nmtz"), LINES, beam=2)) == len(LINES)
    # A larger matrix: its levels are LZMA-compressed (they carry < 4 bits each), losslessly.
    big = torch.randn(64, 256)
    entry, blobs = encode_tensor(big, None, "int4")
    assert entry.get("lzma") == ["values"] and len(blobs["values"]) < 64 * 256 // 2
    got = decode_tensor(entry, lambda k: blobs[k])[0]
    assert (got - big).abs().max() <= big.abs().amax(1).max() / 14 + 1e-3


def test_version_2_int4_files_still_load(pruned, tmp_path):
    """A version-2 file (int4 levels and scales raw, each tokenizer compressed alone), as written
    before version 3, loads to the same model and translations as the version-3 file it is made
    from (its biases are the version-3 file's fp16 biases, written as fp32)."""
    import lzma

    import numpy as np

    from nmtprune.checkpoint.nmtz import _RAW, read_nmtz, write_nmtz
    export(pruned / "pruned", tmp_path / "v3.nmtz", values="int4")
    header, payload = read_nmtz(tmp_path / "v3.nmtz")
    assert "tokenizers_blob" in header and any(e.get("lzma") for e in header["tensors"].values())
    assert {e["values"] for e in header["tensors"].values() if len(e["shape"]) == 1} == {"fp16"}
    out = bytearray()

    def put(data: bytes) -> list[int]:
        out.extend(data)
        return [len(out) - len(data), len(data)]
    for entry in header["tensors"].values():
        packed = entry.pop("lzma", [])
        for k, (off, n) in entry["blobs"].items():
            data = payload[off:off + n]
            if k in packed:
                data = lzma.decompress(data, format=lzma.FORMAT_RAW, filters=_RAW)
            if entry["values"] == "fp16" and len(entry["shape"]) == 1:     # version 2: fp32 biases
                data, entry["values"] = np.frombuffer(data, np.float16).astype(np.float32).tobytes(), "fp32"
            entry["blobs"][k] = put(data)
    off, n = header.pop("tokenizers_blob")
    joint = lzma.decompress(payload[off:off + n])
    for t in header["tokenizers"].values():
        a, b = t.pop("part")
        t["blob"] = put(lzma.compress(joint[a:a + b]))
    write_nmtz(tmp_path / "v2.nmtz", {**header, "format_version": 2}, bytes(out))
    v2, v3 = load_nmtz(tmp_path / "v2.nmtz"), load_nmtz(tmp_path / "v3.nmtz")
    for (n, x), (_, y) in zip(v2.model.state_dict().items(), v3.model.state_dict().items()):
        assert torch.equal(x, y), n
    assert translate(v2, LINES, beam=2) == translate(v3, LINES, beam=2)
    assert (tmp_path / "v3.nmtz").stat().st_size < (tmp_path / "v2.nmtz").stat().st_size


def test_corrupted_truncated_and_newer_files_are_rejected(pruned, tmp_path):
    export(pruned / "pruned", tmp_path / "ok.nmtz")
    raw = (tmp_path / "ok.nmtz").read_bytes()
    bad = bytearray(raw)
    bad[len(raw) // 2] ^= 0xFF
    (tmp_path / "bad.nmtz").write_bytes(bytes(bad))
    with pytest.raises(NmtpruneError, match="checksum mismatch"):
        load_nmtz(tmp_path / "bad.nmtz")
    (tmp_path / "short.nmtz").write_bytes(raw[: len(raw) // 3])
    with pytest.raises(NmtpruneError, match="corrupted or truncated"):
        load_nmtz(tmp_path / "short.nmtz")
    newer = b"NMTZ" + struct.pack("<H", 9) + raw[6:]
    (tmp_path / "new.nmtz").write_bytes(newer)
    with pytest.raises(NmtpruneError, match="format version 9 is newer than this nmtprune reads"):
        load_nmtz(tmp_path / "new.nmtz")


def test_dense_export_works_and_says_so(pruned, tmp_path):
    r = export(pruned / "run", tmp_path / "d.nmtz")
    assert not r["has_mask"]
    assert translate(str(tmp_path / "d.nmtz"), LINES, beam=2) == translate(str(pruned / "run"), LINES, beam=2)


@pytest.mark.parametrize("kernels", ["sparse", "auto"])
def test_sparse_kernels_give_the_dense_outputs(pruned, kernels):
    from nmtprune.data.batching import pad_sources
    from nmtprune.decode.kernels import Stepper
    ck = load_checkpoint(pruned / "pruned")
    dense, other = Stepper(ck.model, "dense"), Stepper(ck.model, kernels, rows=8)
    src, lens = pad_sources([ck.src_tok.encode(l) for l in LINES])
    with torch.inference_mode():
        memory, s1 = ck.model.encode(src, lens)
        s2 = s1
        tokens = torch.full((3,), 2)
        for _ in range(6):
            a, s1 = dense(tokens, s1, memory)
            b, s2 = other(tokens, s2, memory)
            assert torch.allclose(a, b, atol=1e-4, rtol=1e-4)
            tokens = a.argmax(-1)
    assert translate(ck, LINES, beam=4) == translate(ck, LINES, beam=4, kernels=kernels)
    if kernels == "sparse":
        assert all(e["kernel"] == "sparse" for e in other.report.values())


def test_joint_model_pruned_to_80_exports_and_translates_like_its_checkpoint(raw_dir, tmp_path):
    """A --joint model's tokenizers are per-side .side.npz files: the .nmtz must load them."""
    from nmtprune.api import prepare
    from nmtprune.data.prepared import Prepared
    prep = prepare(tmp_path / "prep", data=raw_dir, src="de", tgt="en", joint=True, vocab_size=600)
    train(prep, tmp_path / "run", preset="tiny", model_overrides=TINY_MODEL, train_overrides={**TINY_TRAIN, "max_steps": 20}, progress=False)
    prune(tmp_path / "run", Pruning(0.8, criterion="magnitude", allocation="class_blind"), tmp_path / "pruned")
    export(tmp_path / "pruned", tmp_path / "j.nmtz", values="fp32")
    src = Prepared(prep).load("test_2016_flickr").raw_src[:20]
    want = translate(str(tmp_path / "pruned"), src, beam=2, workers=1)
    assert translate(str(tmp_path / "j.nmtz"), src, beam=2, workers=1) == want and len(want) == 20
