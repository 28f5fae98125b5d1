"""Beam-5 translation speed of a 90%-pruned model: sparse (CSR) vs dense kernels.

Prunes CKPT (class-blind magnitude) to --sparsity (default 0.9) unless CKPT
already has a mask (e.g. a pruned and retrained model: its sparsity is used as
it is), then translates
test_2016_flickr with beam 5 using dense kernels and using --kernels (auto:
measured per matrix), same model, alternating runs, best of --repeat. Also
measures, per decoding matrix shape, the sparsity at which CSR starts to beat
dense for a decoding-sized batch (the cut-over).

Usage: python benchmarks/sparse_speed.py CKPT [--sparsity 0.9] [--kernels auto]
Last line: {"sparsity", "dense_sent_per_s", "sparse_sent_per_s", "speedup", "same_output", "cutover": {...}}
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from nmtprune.checkpoint.load import load_checkpoint
from nmtprune.data.prepared import Prepared
from nmtprune.decode.kernels import Stepper, dense_product, sparse_product, time_call
from nmtprune.decode.metrics import bleu_chrf
from nmtprune.prune import Pruning, inspect, prune
from nmtprune.decode.translation import translate_lines
from results_io import save_result, tune_process


def cutover(shapes, rows: int) -> dict:
    """Lowest tested sparsity at which CSR beats dense, per (out, in) shape."""
    out = {}
    for shape in shapes:
        w0 = torch.randn(*shape)
        x = torch.randn(rows, shape[1])
        found = None
        timings = {}
        for sp in (0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99):
            w = w0 * (torch.rand(*shape) >= sp)
            td, ts = time_call(dense_product(w), x, reps=10), time_call(sparse_product(w), x, reps=10)
            timings[sp] = {"dense_ms": round(td * 1e3, 3), "sparse_ms": round(ts * 1e3, 3)}
            if found is None and ts < td:
                found = sp
        out["x".join(map(str, shape))] = {"cutover_sparsity": found, "timings": timings}
    return out


def main() -> None:
    tune_process()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint")
    ap.add_argument("--sparsity", type=float, default=None,
                    help="prune to this (default 0.9); not allowed for an already-pruned CKPT")
    ap.add_argument("--kernels", default="auto")
    ap.add_argument("--beam", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--repeat", type=int, default=2)
    a = ap.parse_args()
    ck = load_checkpoint(a.checkpoint)
    if ck.masks is None:
        work = Path(tempfile.mkdtemp(prefix="sparse-bench-"))
        prune(a.checkpoint, Pruning(a.sparsity or 0.9), work / "p")
        ck = load_checkpoint(work / "p")
    elif a.sparsity is not None:
        raise SystemExit(f"{a.checkpoint} is already pruned; drop --sparsity")
    sparsity = inspect(ck.path, sizes=False)["sparsity"]
    test = Prepared(ck.prep).load("test_2016_flickr")
    times = {"dense": [], a.kernels: []}
    outs = {}
    for _ in range(a.repeat):
        for k in ("dense", a.kernels):
            t = time.perf_counter()
            outs[k] = translate_lines(ck.model, ck.src_tok, ck.tgt_tok, test.raw_src, beam=a.beam,
                                      batch_size=a.batch_size, kernels=k)
            times[k].append(time.perf_counter() - t)
    n = len(test.raw_src)
    d, s = n / min(times["dense"]), n / min(times[a.kernels])
    plan = Stepper(ck.model, a.kernels, rows=a.batch_size * a.beam).report
    shapes = sorted({tuple(e["shape"]) for e in plan.values()})
    result = {"sparsity": round(sparsity, 4), "checkpoint": a.checkpoint, "kernels": a.kernels, "beam": a.beam,
              "sentences": n,
              "dense_sent_per_s": round(d, 1), "sparse_sent_per_s": round(s, 1), "speedup": round(s / d, 3),
              "same_output": outs["dense"] == outs[a.kernels],
              "bleu_dense": bleu_chrf(outs["dense"], test.raw_tgt)["bleu"],
              "bleu_sparse": bleu_chrf(outs[a.kernels], test.raw_tgt)["bleu"],
              "plan": plan, "cutover": cutover(shapes, a.batch_size * a.beam)}
    print(f"{'kernels':<8} {'sent/s':>8}\n{'dense':<8} {d:>8.1f}\n{a.kernels:<8} {s:>8.1f}  "
          f"speedup {s / d:.2f}x, same output: {result['same_output']}")
    print(f"{'matrix':<10} {'shape':>10} {'density':>8} {'kernel':>7}")
    for name, e in plan.items():
        print(f"{name:<10} {'x'.join(map(str, e['shape'])):>10} {e['density']:>8.3f} {e['kernel']:>7}")
    for shape, c in result["cutover"].items():
        print(f"cut-over {shape}: sparse wins from {c['cutover_sparsity']}")
    save_result("sparse_speed", result)


if __name__ == "__main__":
    main()
