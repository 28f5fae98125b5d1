"""Training and translation speed on CPU, ours vs OpenNMT-py 3.5.1, side by side.

Both use the peer's architecture exactly (../shared/peers/opennmt/train.yaml):
joint SentencePiece BPE 8k (each side's vocabulary: the pieces that side uses,
as the peer's onmt_build_vocab builds it: 5,477 de / 4,273 en), bidirectional 2-layer encoder (2x128), 2-layer
decoder 256, embeddings 256, `general` attention, input feeding, dropout 0.2,
uniform init 0.1, Adam 1e-3, grad-norm 5, 4,096-token batches. Each trains for
the same number of steps on Multi30k de-en, then translates test_2016_flickr
(1,000 sentences, batch 32) with beam 1 and beam 5, each in a fresh process
like the peer's `onmt_translate`; translation time excludes model loading, as
the peer's `-report_time` does. Ours decodes as `nmtprune translate` does by
default: one worker process per core, each taking whole batches (`--workers 0`);
`*_1proc` is one process with torch's intra-op threads, as the peer runs.

Ours runs twice: bf16 (`--precision bf16` training under bfloat16 autocast,
`--kernels bf16` decoding: our fast CPU configuration, same BLEU as fp32 on the
`small` run) and fp32 (like for like with the peer, which can only run fp32 on
a CPU). The first of `--precisions` gives the top-level figures and `ratios`,
the other sits under its name with `ratios_<name>`; the default puts bf16
first where the CPU multiplies bf16 natively (AVX512-BF16/AMX), else fp32.

Usage: python benchmarks/speed.py [--steps 200] [--no-peer] [--precisions bf16,fp32]
Last line of stdout: {"precision", "train_tgt_tok_per_s", "beam1_sent_per_s", "beam5_sent_per_s", "peer": {...},
"ratios": {...}, "fp32": {...}, "ratios_fp32": {...}}
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from results_io import save_result, tune_process

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data" / "multi30k"
DATA = SHARED_DATA if SHARED_DATA.is_dir() else "multi30k"    # else the named corpus, fetched into the cache
PEER = ROOT.parent / "shared" / "peers" / "opennmt" / "run.sh"
PEER_DIR = Path(os.environ.get("PEER_DIR", "/tmp/opennmt-peer"))      # run.sh's work directory
PEER_ARCH = {"emb_dim": 256, "enc_hidden": 256, "enc_layers": 2, "bidirectional": True, "dec_hidden": 256,
             "dec_layers": 2, "attention": "general", "input_feed": True, "dropout": 0.2, "init": "uniform",
             "init_range": 0.1}
PEER_TRAIN = {"optimizer": "adam", "lr": 1e-3, "clip": 5.0, "batch_tokens": 4096, "label_smoothing": 0.0,
              "epochs": 1000, "max_minutes": 0.0, "early_stop": 0, "patience": 1000}


def ours(steps: int, work: Path, precision: str = "fp32") -> dict:
    import nmtprune
    from nmtprune.checkpoint.load import load_checkpoint
    from nmtprune.data.prepared import Prepared
    from nmtprune.decode.metrics import bleu_chrf
    prep = work / "prep-joint8k"
    if not (prep / "prep.json").is_file():
        nmtprune.prepare(prep, data=DATA, src="de", tgt="en", joint=True, vocab_size=8000)
    run = work / f"run-{precision}"
    shutil.rmtree(run, ignore_errors=True)
    t0 = time.time()
    nmtprune.train(prep, run, preset="small", model_overrides=PEER_ARCH,
                   train_overrides={**PEER_TRAIN, "max_steps": steps, "precision": precision}, progress=False)
    wall = time.time() - t0
    hist = [l.split(",") for l in (run / "log.csv").read_text().splitlines()[1:]]
    # tokens/s over the training steps only (validation excluded), weighted by epoch length
    steps_in = [int(h[1]) - (int(hist[i - 1][1]) if i else 0) for i, h in enumerate(hist)]
    tok_s = sum(s * float(h[5]) for s, h in zip(steps_in, hist)) / sum(steps_in)
    test = Prepared(prep).load("test_2016_flickr")
    tok = load_checkpoint(run).tgt_tok
    out = {"precision": precision, "steps": steps, "train_wall_s": round(wall, 1), "train_tgt_tok_per_s": round(tok_s)}
    for beam in (1, 5):
        # A fresh process per beam size, as the peer's onmt_translate runs: the time covers
        # translation only (model loading excluded, like its -report_time). Workers 0 is the
        # default (one decoding process per core); 1 (one process, torch's intra-op threads,
        # the peer's way) is reported beside it.
        for workers, key in ((0, ""), (1, "_1proc")):
            r = subprocess.run([sys.executable, "-c", TRANSLATE, str(run), str(prep), str(beam),
                                "bf16" if precision == "bf16" else "dense", str(workers)],
                               capture_output=True, text=True)
            if r.returncode != 0:
                raise SystemExit(f"translation failed:\n{r.stderr[-2000:]}")
            res = json.loads(r.stdout.strip().splitlines()[-1])
            out[f"beam{beam}_sent_per_s{key}"] = round(len(res["hyps"]) / res["secs"], 1)
            out[f"bleu_beam{beam}{key}"] = bleu_chrf(res["hyps"], test.raw_tgt)["bleu"]
        # Output length sets the number of decoding steps: the rates compare only if both
        # systems write about as much (mean pieces per hypothesis, the peer's below).
        out[f"mean_pieces_beam{beam}"] = round(sum(len(tok.encode(h)) for h in res["hyps"]) / len(res["hyps"]), 2)
    return out


TRANSLATE = """
import json, sys, time
from nmtprune.api import translate
from nmtprune.runtime import tune_allocator
tune_allocator()
from nmtprune.checkpoint.load import load_checkpoint
from nmtprune.data.prepared import Prepared
run, prep, beam, kernels, workers = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
ck = load_checkpoint(run)
src = Prepared(prep).load("test_2016_flickr").raw_src
t = time.perf_counter()
hyps = translate(ck, src, beam=beam, batch_size=32, kernels=kernels, workers=workers)   # what the CLI runs
print(json.dumps({"secs": time.perf_counter() - t, "hyps": hyps}))
"""


def bf16_native() -> bool:
    import torch
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def peer(steps: int) -> dict:
    r = subprocess.run(["bash", str(PEER), str(steps)], capture_output=True, text=True, cwd=ROOT)
    if r.returncode != 0:
        raise SystemExit(f"peer run failed:\n{r.stderr[-2000:]}")
    out = json.loads(r.stdout.strip().splitlines()[-1])
    for beam in (1, 5):       # its SentencePiece output, one hypothesis a line
        lines = (PEER_DIR / "run" / f"hyp{beam}.sp").read_text().splitlines()
        out[f"mean_pieces_beam{beam}"] = round(sum(len(l.split()) for l in lines) / len(lines), 2)
    return out


def main() -> None:
    tune_process()
    logging.basicConfig(level=logging.INFO, format="%(message)s")   # training's epoch lines
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--no-peer", action="store_true")
    ap.add_argument("--precisions", default=None, help="comma list, the first at the top level "
                    "(default: bf16,fp32 where bf16 is native, else fp32,bf16)")
    ap.add_argument("--work", default=str(ROOT / "benchmarks" / ".work"))
    a = ap.parse_args()
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    precs = (a.precisions or ("bf16,fp32" if bf16_native() else "fp32,bf16")).split(",")
    runs = {p: ours(a.steps, work, p) for p in precs}
    result = dict(runs[precs[0]])
    for p in precs[1:]:
        result[p] = runs[p]
    if not a.no_peer:
        peer_r = peer(a.steps)
        result["peer"] = peer_r
        for i, p in enumerate(precs):
            r = runs[p]
            result["ratios" if i == 0 else f"ratios_{p}"] = {
                "train": round(r["train_tgt_tok_per_s"] / peer_r["train_tgt_tok_per_s_median"], 2),
                "beam1": round(r["beam1_sent_per_s"] / peer_r["beam1_sent_per_s"], 2),
                "beam5": round(r["beam5_sent_per_s"] / peer_r["beam5_sent_per_s"], 2),
                "beam1_1proc": round(r["beam1_sent_per_s_1proc"] / peer_r["beam1_sent_per_s"], 2),
                "beam5_1proc": round(r["beam5_sent_per_s_1proc"] / peer_r["beam5_sent_per_s"], 2)}
    print(f"{'':<22} " + " ".join(f"{'ours ' + p:>10}" for p in precs) + f" {'OpenNMT-py':>11} "
          + " ".join(f"{'ratio ' + p:>11}" for p in precs))
    rows = [("train tgt tok/s", "train_tgt_tok_per_s", "train_tgt_tok_per_s_median", "train"),
            ("beam 1 sent/s", "beam1_sent_per_s", "beam1_sent_per_s", "beam1"),
            ("beam 5 sent/s", "beam5_sent_per_s", "beam5_sent_per_s", "beam5"),
            ("beam 1, 1 process", "beam1_sent_per_s_1proc", "beam1_sent_per_s", "beam1_1proc"),
            ("beam 5, 1 process", "beam5_sent_per_s_1proc", "beam5_sent_per_s", "beam5_1proc"),
            ("BLEU beam 5", "bleu_beam5", "bleu_beam5", None),
            ("pieces/hyp beam 5", "mean_pieces_beam5", "mean_pieces_beam5", None)]
    for label, k, pk, rk in rows:
        pv = result.get("peer", {}).get(pk, "-")
        ratios = []
        for i, p in enumerate(precs):
            rr = result.get("ratios" if i == 0 else f"ratios_{p}")
            ratios.append(f"{rr[rk]:.2f}x" if rk and rr else "")
        print(f"{label:<22} " + " ".join(f"{runs[p][k]:>10}" for p in precs) + f" {pv:>11} "
              + " ".join(f"{r:>11}" for r in ratios))
    save_result("speed", result, history=True)


if __name__ == "__main__":
    main()
