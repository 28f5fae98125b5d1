"""Pruning without retraining on a trained model, and class-blind after retraining.

BLEU (beam 5) and perplexity on test_2016_flickr for class-blind, class-uniform,
class-distribution (magnitude) and random pruning at 40% and 80%, then
class-blind 80% after `nmtprune retrain` with its default recipe.

Usage: python benchmarks/prune_quality.py CKPT [--retrain-epochs 4]
Last line: {"dense": {...}, "rows": [{"method", "sparsity", "retrained", "bleu", "chrf", "ppl"}]}
"""
from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

from nmtprune.api import evaluate, retrain
from nmtprune.prune import Pruning, prune

METHODS = [("magnitude", "class_blind"), ("magnitude", "class_uniform"), ("magnitude", "class_distribution"),
           ("random", "class_blind")]
from results_io import save_result, tune_process


def main() -> None:
    tune_process()
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)   # training's epoch lines
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint")
    ap.add_argument("--retrain-epochs", type=int, default=4)
    ap.add_argument("--split", default="test_2016_flickr")
    a = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="prune-quality-"))
    keys = ("bleu", "chrf", "ppl")
    dense = {k: v for k, v in evaluate(a.checkpoint, split=a.split, out_dir=str(work / "dense")).items() if k in keys}
    rows = []
    print(f"dense: BLEU {dense['bleu']}, chrF {dense['chrf']}, ppl {dense['ppl']:.2f}")
    print(f"{'method':<28} {'sparsity':>8} {'BLEU':>6} {'chrF':>6} {'ppl':>9}")
    for x in (0.4, 0.8):
        for crit, alloc in METHODS:
            out = work / f"{crit}-{alloc}-{x}"
            prune(a.checkpoint, Pruning(x, criterion=crit, allocation=alloc), out)
            r = evaluate(out, split=a.split)
            rows.append({"method": f"{crit}/{alloc}", "sparsity": x, "retrained": False,
                         **{k: r[k] for k in keys}})
            print(f"{crit + '/' + alloc:<28} {x:>8.0%} {r['bleu']:>6} {r['chrf']:>6} {r['ppl']:>9.2f}")
    t = time.time()
    retrain(work / "magnitude-class_blind-0.8", work / "cb80-rt", train_overrides={"epochs": a.retrain_epochs},
            progress=False)
    r = evaluate(work / "cb80-rt", split=a.split)
    rows.append({"method": "magnitude/class_blind", "sparsity": 0.8, "retrained": True,
                 "retrain_epochs": a.retrain_epochs, "retrain_s": round(time.time() - t), **{k: r[k] for k in keys}})
    print(f"{'magnitude/class_blind + retrain':<28} {0.8:>8.0%} {r['bleu']:>6} {r['chrf']:>6} {r['ppl']:>9.2f}")
    result = {"checkpoint": a.checkpoint, "split": a.split, "beam": 5, "dense": dense, "rows": rows,
              "signature": r["signature"]}
    save_result("prune_quality", result)


if __name__ == "__main__":
    main()
