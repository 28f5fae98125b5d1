"""Headline table of the `full` study preset, run on an already-trained dense baseline.

A partial run of the full preset: the same evaluation, retraining and scoring
settings (read from the shipped preset), its dense `small` baseline given as a
checkpoint instead of retrained (55 min saved), and only the `headline`
experiment: class-blind magnitude pruning at 80% and 90%, without and with
retraining. Runs through `nmtprune study`, so it resumes and writes a report.

Usage: python benchmarks/headline.py CKPT [--out studies/headline] [--sparsities 0.8 0.9]
Last line: {"dense": {...}, "rows": [{"sparsity", "retrained", "bleu", "chrf", "ppl", "seconds"}], ...}
"""
from __future__ import annotations

import argparse
import time
from importlib import resources
from pathlib import Path

import yaml

from nmtprune.study.store import Store
from nmtprune.study.runner import run_study
from results_io import save_result, tune_process


def main() -> None:
    tune_process()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint")
    ap.add_argument("--out", default="studies/headline")
    ap.add_argument("--sparsities", type=float, nargs="+", default=[0.8, 0.9])
    a = ap.parse_args()
    cfg = yaml.safe_load((resources.files("nmtprune") / "presets" / "full.yaml").read_text())
    cfg["baseline"]["checkpoint"] = str(Path(a.checkpoint).resolve())
    cfg["experiments"] = {"headline": {"sparsities": a.sparsities}}
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "headline.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    t0 = time.time()
    run_study(None, str(out), config=str(out / "headline.yaml"),
              command=f"python benchmarks/headline.py {a.checkpoint} --out {a.out}")
    runs = Store(out / "study.db", create=False).runs(status="done")
    dense = next(r["metrics"] for r in runs if r["kind"] == "dense")
    rows = sorted(({"sparsity": r["sparsity"], "retrained": r["retrained"], "bleu": r["metrics"]["bleu"],
                    "chrf": r["metrics"]["chrf"], "ppl": r["metrics"]["ppl"], "seconds": round(r["seconds"], 1)}
                   for r in runs if r["kind"] == "prune"), key=lambda r: (r["sparsity"], r["retrained"]))
    print(f"{'model':<22} {'BLEU':>6} {'chrF':>6} {'ppl':>9}")
    print(f"{'dense':<22} {dense['bleu']:>6.2f} {dense['chrf']:>6.2f} {dense['ppl']:>9.2f}")
    for r in rows:
        name = f"class-blind {r['sparsity']:.0%}" + (" + retrain" if r["retrained"] else "")
        print(f"{name:<22} {r['bleu']:>6.2f} {r['chrf']:>6.2f} {r['ppl']:>9.2f}")
    save_result("headline", {
        "preset": "full (partial: headline experiment, given baseline)", "checkpoint": a.checkpoint,
        "retrain": cfg["retrain"], "evaluation": cfg["evaluation"], "signature": dense["signature"],
        "dense": {k: dense[k] for k in ("bleu", "chrf", "ppl")}, "rows": rows,
        "wall_minutes_this_call": round((time.time() - t0) / 60, 1), "report": str(out / "report.md")})


if __name__ == "__main__":
    main()
