"""Two CPU processes under torchrun (gloo) train like one process on the same global batches."""
import csv
import os
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from nmtprune.prune.pruning import Pruning
from nmtprune.prune import compute_masks
from nmtprune.model.masks import save_masks
from nmtprune.model.seq2seq import build_model

from helpers import TINY_MODEL, tiny_config


def _cmd(prep, out, mask, nproc):
    model = [f"--model={k}={v}" for k, v in {**TINY_MODEL, "dropout": 0.0}.items()]
    args = ["-m", "nmtprune", "train", str(prep), "--preset", "tiny", "--out", str(out), "--epochs", "2",
            "--batch-tokens", "1500", "--lr", "0.003", "--mask", str(mask), "--quiet", *model]
    if nproc == 1:
        return [sys.executable, *args]
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(nproc), *args]


def _log(run):
    with open(run / "log.csv") as f:
        return list(csv.DictReader(f))


def test_two_process_training_matches_single_process(prep_dir, prepared, tmp_path):
    cfg = tiny_config(prepared, **{**TINY_MODEL, "dropout": 0.0})
    model = build_model(cfg, seed=1234)
    masks = compute_masks(model, Pruning(0.6, criterion="random"))
    save_masks(tmp_path / "mask.safetensors", masks)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for n in (1, 2):
        r = subprocess.run(_cmd(prep_dir, tmp_path / f"p{n}", tmp_path / "mask.safetensors", n), env=env,
                           capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stderr[-3000:]
    one, two = _log(tmp_path / "p1"), _log(tmp_path / "p2")
    assert [e["steps"] for e in one] == [e["steps"] for e in two]
    for a, b in zip(one, two):
        assert float(b["train_loss"]) == pytest.approx(float(a["train_loss"]), rel=2e-3)
        assert float(b["valid_ppl"]) == pytest.approx(float(a["valid_ppl"]), rel=5e-3)
    # masks hold on the checkpoint rank 0 wrote
    w = load_file(str(tmp_path / "p2" / "model.safetensors"))
    for name, m in masks.items():
        assert torch.all(w[name][~m] == 0), name
    assert not (tmp_path / "p2" / "model.safetensors.tmp").exists()
