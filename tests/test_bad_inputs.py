"""The bad-input matrix: each case gives one clear line, exit status 2, and leaves
every pre-existing output byte-identical."""
import shutil
from pathlib import Path

import pytest
import yaml

from helpers import nmt


def _raw(d: Path, **files):
    d.mkdir(parents=True, exist_ok=True)
    base = {"train.de": b"ein Hund\nzwei Katzen\n", "train.en": b"a dog\ntwo cats\n", "val.de": b"ein Hund\n",
            "val.en": b"a dog\n"}
    for name, data in {**base, **files}.items():
        if data is None:
            (d / name).unlink(missing_ok=True)
        else:
            (d / name).write_bytes(data)
    return d


def _snapshot(root: Path) -> dict:
    return {p.relative_to(root): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


CASES = {
    "line-count mismatch": (lambda t, c: ["prepare", "--data", _raw(t / "r", **{"train.en": b"a dog\n"}),
                                          "--src", "de", "--tgt", "en", "--out", t / "out"],
                            "line counts differ"),
    "invalid UTF-8": (lambda t, c: ["prepare", "--data", _raw(t / "r", **{"train.de": b"ok\n\xc3\x28\n"}),
                                    "--src", "de", "--tgt", "en", "--out", t / "out"], "train.de:2: invalid UTF-8"),
    "empty files": (lambda t, c: ["prepare", "--data", _raw(t / "r", **{"train.de": b"", "train.en": b""}),
                                  "--src", "de", "--tgt", "en", "--out", t / "out"], "no non-empty sentence pairs"),
    "empty lines only": (lambda t, c: ["prepare", "--data", _raw(t / "r", **{"train.de": b"\n\n", "train.en": b"\n\n"}),
                                       "--src", "de", "--tgt", "en", "--out", t / "out"], "no non-empty sentence pairs"),
    "missing split": (lambda t, c: ["prepare", "--data", _raw(t / "r", **{"val.en": None}), "--src", "de",
                                    "--tgt", "en", "--out", t / "out"], "split 'val' (--valid-split) not found"),
    "unknown preset": (lambda t, c: ["train", c / "prep", "--preset", "large", "--out", t / "out"],
                       "unknown preset 'large'; valid: tiny, small, paper"),
    "unknown init": (lambda t, c: ["train", c / "prep", "--preset", "tiny", "--init", "orthogonal", "--out",
                                   t / "out"], "unknown init 'orthogonal'; valid: uniform"),
    "resume with another config": (lambda t, c: ["train", c / "prep", "--preset", "tiny", "--lr", "0.5",
                                                 "--resume", "--out", t / "out"], "--resume: model.emb_dim is 32"),
    "sparsity -0.1": (lambda t, c: ["prune", c / "run", "--sparsity", "-0.1", "--out", t / "out"],
                      "--sparsity must be in [0, 1)"),
    "sparsity 1.0": (lambda t, c: ["prune", c / "run", "--sparsity", "1.0", "--out", t / "out"],
                     "--sparsity must be in [0, 1)"),
    "sparsity abc": (lambda t, c: ["prune", c / "run", "--sparsity", "abc", "--out", t / "out"],
                     "--sparsity must be a number"),
    "unknown criterion": (lambda t, c: ["prune", c / "run", "--criterion", "taylor", "--sparsity", "0.5", "--out",
                                        t / "out"], "unknown criterion 'taylor'; valid: magnitude, random, obd, snip"),
    "mask for another model": (lambda t, c: ["train", c / "prep", "--preset", "tiny", "--mask", t / "m.safetensors",
                                             "--out", t / "new"], "has shape (3, 3)"),
    "truncated checkpoint": (lambda t, c: ["evaluate", t / "trunc.safetensors", "--split", "val"],
                             "trunc.safetensors: not a readable checkpoint (truncated"),
    "wrong-format file": (lambda t, c: ["translate", t / "notes.safetensors"], "not a readable checkpoint"),
    "out-of-range beam": (lambda t, c: ["evaluate", c / "run", "--split", "val", "--beam", "1000", "--out",
                                        t / "out"], "--beam must be between 1 and 100"),
    "unwritable output directory": (lambda t, c: ["prune", c / "run", "--sparsity", "0.5", "--out",
                                                  t / "file.txt" / "sub"], "cannot create output directory"),
    "export to a non-.nmtz name": (lambda t, c: ["export", c / "run", "--out", t / "out" / "model.bin"],
                                   "must end in .nmtz"),
    "corrupted .nmtz": (lambda t, c: ["translate", t / "bad.nmtz"], "checksum mismatch"),
    "unknown study experiment": (lambda t, c: ["study", "--config", t / "study.yaml", "--data", "x", "--out",
                                               t / "out"], "unknown experiment 'pruning'"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input(case, cli_run, tmp_path):
    import torch
    from safetensors.torch import save_file
    make_args, message = CASES[case]
    # pre-existing outputs that must survive untouched
    out = tmp_path / "out"
    shutil.copytree(cli_run / "run", out)
    (tmp_path / "file.txt").write_text("not a directory")
    save_file({"decoder.out.weight": torch.ones(3, 3, dtype=torch.bool)}, str(tmp_path / "m.safetensors"))
    raw = (cli_run / "run" / "model.safetensors").read_bytes()
    (tmp_path / "trunc.safetensors").write_bytes(raw[: len(raw) // 2])
    (tmp_path / "notes.safetensors").write_text("these are my notes\n")
    (tmp_path / "bad.nmtz").write_bytes(b"NMTZ" + b"\x01\x00" + b"\x00" * 60)
    (tmp_path / "study.yaml").write_text(yaml.safe_dump({"experiments": {"pruning": {}}}))
    before = _snapshot(tmp_path)
    prep_before = _snapshot(cli_run / "prep")
    r = nmt(*make_args(tmp_path, cli_run))
    assert r.returncode == 2, (r.returncode, r.stderr[-2000:])
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    assert message in lines[0], lines[0]
    after = _snapshot(tmp_path)
    assert {k: v for k, v in after.items() if k in before} == before     # nothing changed or lost
    assert _snapshot(cli_run / "prep") == prep_before
