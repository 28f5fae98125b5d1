"""The attention experiment's data: alignments of the dense and the pruned+retrained model.

Decoding needs the models, so it runs here, in the study, after the runs; the
figure (:func:`nmtprune.study.figures.sentences.fig_attention`) only plots the
stored ``attention.json``.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch

from ..checkpoint.load import load_checkpoint
from ..data.batching import Batch, pad_sources
from ..data.prepared import Prepared
from ..data.tokenizers import BOS, EOS
from ..decode.search import greedy_search
from ..fileio import write_json
from .figures.common import select
from .figures.sentences import ATTENTION_FILE
from .store import Store


def alignment(path: Path, src_ids: list[int]) -> dict:
    """One model's greedy translation of ``src_ids`` and its attention over the source.

    Returns:
        ``{"src": S source pieces, "hyp": T pieces (the last "</s>"), "align": (T, S) weights}``.
    """
    src, lens = pad_sources([src_ids])
    ck = load_checkpoint(path)
    hyp = greedy_search(ck.model, src, lens)[0]
    tgt = torch.tensor([hyp + [EOS]])
    tin = torch.cat([torch.tensor([[BOS]]), tgt[:, :-1]], 1)
    with torch.no_grad():
        _, align = ck.model(Batch(src, lens, tin, tgt, torch.zeros(1)), return_align=True)
    return {"src": [ck.src_tok.decode([i]) or "·" for i in src_ids],
            "hyp": [ck.tgt_tok.decode([i]) or "·" for i in hyp] + ["</s>"],
            "align": align[0].tolist()}


def collect_attention(study: Path, runs: list[dict], s: dict) -> None:
    """Write ``study/attention.json`` for settings ``s`` (nothing when the retrained run is missing)."""
    rs = select(runs, kind="prune", criterion="magnitude", allocation="class_blind", sparsity=s["sparsity"],
                retrained=True, seed=0)
    if not rs:
        return
    retrained = study / "runs" / rs[0]["id"] / rs[0]["metrics"].get("model_dir", "retrained")
    if not retrained.is_dir():
        return
    models = [("dense", study / "baseline-seed0"), (f"{s['sparsity']:.0%} pruned + retrained", retrained)]
    prep = Prepared(study / "prep")
    # The split every run is evaluated on (the study's evaluation.split), named in the figure.
    split = json.loads(Store(study / "study.db", create=False).get_meta("config") or "{}").get(
        "evaluation", {}).get("split") or prep.cfg.valid_split
    src_ids = prep.load(split).src[s["sentence"]].tolist()
    data = {"settings": {"sparsity": s["sparsity"], "sentence": s["sentence"]}, "split": split,
            "models": [{"label": label, **alignment(path, src_ids)} for label, path in models]}
    write_json(study / ATTENTION_FILE, data)
