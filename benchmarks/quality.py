"""Record the quality bar: BLEU/chrF of a trained run on test_2016_flickr (beam 5).

Usage: python benchmarks/quality.py RUNDIR [--command "the training command"] [--name quality]
       [--kernels dense|bf16]  (decoding kernels; dense = the fp32 training-step path)
Writes benchmarks/results/NAME.json (default quality.json):
{"preset", "direction", "split", "beam", "bleu", "chrf", "train_wall_s", "epochs", "command", "signature", ...}
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from nmtprune.api import evaluate
from results_io import save_result, tune_process


def main() -> None:
    tune_process()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run")
    ap.add_argument("--split", default="test_2016_flickr")
    ap.add_argument("--beam", type=int, default=5)
    ap.add_argument("--command", default="nmtprune train work/prep --preset small --out runs/small")
    ap.add_argument("--name", default="quality", help="results file name (e.g. quality_bf16)")
    ap.add_argument("--kernels", default="dense", help="decoding kernels: dense | bf16")
    a = ap.parse_args()
    run = Path(a.run)
    cfg = json.loads((run / "config.json").read_text())
    summary = json.loads((run / "summary.json").read_text())
    log = (run / "log.csv").read_text().splitlines()
    r = evaluate(run, split=a.split, beam=a.beam, kernels=a.kernels, out_dir=str(run / f"eval-{a.kernels}"))
    val = evaluate(run, split="val", beam=a.beam, kernels=a.kernels, out_dir=str(run / f"val-eval-{a.kernels}"))
    prep = json.loads((Path(cfg["prep"]) / "prep.json").read_text())["config"]
    result = {"preset": cfg["preset"], "precision": cfg["train"].get("precision", "fp32"), "direction": f"{prep['src']}-{prep['tgt']}", "split": a.split,
              "beam": a.beam, "kernels": a.kernels, "bleu": r["bleu"], "chrf": r["chrf"], "test_ppl": r["ppl"],
              "val_bleu": val["bleu"], "val_ppl": val["ppl"], "best_valid_ppl": summary["best_valid_ppl"],
              "train_wall_s": summary["wall_s"], "epochs": summary["epochs"], "steps": summary["steps"],
              "stopped": summary["stopped"], "command": a.command, "signature": r["signature"],
              "epoch_log": log}
    print(f"{a.split} beam {a.beam}: BLEU {r['bleu']} chrF {r['chrf']} (val BLEU {val['bleu']}, "
          f"val ppl {val['ppl']:.2f}); {summary['epochs']} epochs in {summary['wall_s'] / 60:.1f} min")
    save_result(a.name, result, history=True)


if __name__ == "__main__":
    main()
