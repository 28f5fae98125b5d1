"""What tests share besides fixtures: tiny model and training settings, the CLI in a
subprocess, and the tiny study config. Import from here (``from helpers import ...``),
not from ``conftest``."""
from __future__ import annotations

from nmtprune.data.prepared import Prepared
from nmtprune.model.config import ModelConfig


def tiny_config(prepared: Prepared | None = None, **kw) -> ModelConfig:
    vs = prepared.meta["vocab_sizes"] if prepared is not None else {"src": 50, "tgt": 60}
    base = dict(src_vocab=vs["src"], tgt_vocab=vs["tgt"], emb_dim=16, enc_hidden=24, enc_layers=2,
                dec_hidden=24, dec_layers=2, dropout=0.1)
    base.update(kw)
    return ModelConfig(**base)


TINY_TRAIN = {"epochs": 1, "batch_tokens": 1500, "lr": 3e-3, "max_minutes": 0.0}
TINY_MODEL = {"emb_dim": 16, "enc_hidden": 24, "dec_hidden": 24, "enc_layers": 1, "dec_layers": 1}


def random_sources(n: int = 12, *, seed: int = 0, vocab: int = 50) -> list[list[int]]:
    """``n`` random source sentences of 1-8 ids in [4, vocab) (no specials), fixed by ``seed``."""
    import torch
    g = torch.Generator().manual_seed(seed)
    return [torch.randint(4, vocab, (int(torch.randint(1, 9, (1,), generator=g)),), generator=g).tolist()
            for _ in range(n)]


def sharp_model():
    """A tiny untrained model (eval mode) whose output layer is sharpened, so hypotheses end
    with EOS at varied lengths: what decoding tests search with."""
    import torch
    from nmtprune.model.seq2seq import build_model
    m = build_model(tiny_config(), seed=11).eval()
    with torch.no_grad():
        m.decoder.out.weight.mul_(8)
    return m


def nmt(*args, stdin=None):
    """Run the CLI in a subprocess (one thread)."""
    import os
    import subprocess
    import sys
    return subprocess.run([sys.executable, "-m", "nmtprune", *map(str, args)], capture_output=True, text=True,
                          input=stdin, env={**os.environ, "OMP_NUM_THREADS": "1"})


# A study of every experiment at tiny sizes (the `study` fixture; test_study.py reuses the config).
TINY_STUDY = {
    "prepare": {"vocab_size": 300},
    "baseline": {"preset": "tiny", "model": {"emb_dim": 16, "enc_hidden": 24, "dec_hidden": 24},
                 "train": {"epochs": 2, "batch_tokens": 1500}},
    "evaluation": {"split": "test_2016_flickr", "beam": 2, "batch_size": 100},
    "retrain": {"max_steps": 3, "batch_tokens": 1500},
    "scratch": {"max_steps": 3, "epochs": 1, "batch_tokens": 1500},
    "scoring": {"batches": 1, "batch_size": 4},
    "experiments": {
        "headline": {"sparsities": [0.9]},
        "no_retrain": {"sparsities": [0.5, 0.9]},
        "retrain": {"sparsities": [0.9]},
        "class_share": {"compare_at": 0.9, "sparsities": [0.5]},
        "sensitivity": {"sparsity": 0.9},
        "max_pruned": {"sparsities": [0.5, 0.9]},
        "mask_heatmaps": {"sparsity": 0.5},
        "sentence_bleu": {"sparsity": 0.5},
        "extreme": {"sparsities": [0.9, 0.99], "retrain_sparsities": [0.99]},
        "snip_init": {"sparsity": 0.9, "inits": ["uniform", "kaiming_normal"]},
        "snip_batches": {"sparsity": 0.9, "init": "kaiming_normal", "batches": [1, 2]},
        "recipes": {"sparsities": [0.9], "recipes": ["oneshot", "gradual", "gradual_kd", "iterative"]},
        "units": {"sparsities": [0.5], "weight_sparsities": [0.9]},
        "attention": {"sparsity": 0.9, "sentence": 0},
    },
}
