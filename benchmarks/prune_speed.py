"""Speed and memory of class-blind magnitude masks at 80%, ours vs torch.nn.utils.prune.

For (a) the `small` model and (b) a randomly initialised `paper` model
(4x1000 LSTMs, 1000-d embeddings, 50k vocabularies, ~220M parameters), each
method runs in a fresh process on the same seeded weights:
- ours: nmtprune.prune.compute_masks(model, Pruning(0.8))  (class-blind magnitude)
- torch: torch.nn.utils.prune.global_unstructured(..., L1Unstructured, amount=0.8)
  over the same weight matrices.
Peak extra memory is the rise of the process's peak RSS (VmHWM, reset just
before the call and read just after it, before anything else allocates) above
the RSS with the model built; the masks a method returns
are part of it (ours: bool, 1 byte per weight = 25% of fp32 weights; torch: fp32
masks plus a weight_orig copy of every pruned weight). We also report our
working memory without the returned masks.

Usage: python benchmarks/prune_speed.py [--models small,paper] [--repeat 3]
Last line of stdout: {"small": {...}, "paper": {"ours_s", "torch_s", "speedup", "peak_extra_mem_ratio", "params"}}
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from results_io import save_result, tune_process

SIZES = {
    "small": dict(src_vocab=8000, tgt_vocab=8000, emb_dim=256, enc_hidden=256, enc_layers=2, dec_hidden=256,
                  dec_layers=2, bidirectional=True),
    "paper": dict(src_vocab=50000, tgt_vocab=50000, emb_dim=1000, enc_hidden=1000, enc_layers=4,
                  dec_hidden=1000, dec_layers=4, bidirectional=False),
}


def _rss_kib(field: str) -> int:
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1])
    raise RuntimeError(field)


def worker(size: str, method: str) -> dict:
    import torch
    from nmtprune.model.config import ModelConfig
    from nmtprune.model.seq2seq import build_model
    from nmtprune.prune import Pruning, compute_masks
    from nmtprune.prune.compute import prunable_classes
    torch.manual_seed(0)
    model = build_model(ModelConfig(**SIZES[size]), seed=0)
    names = [n for ns in prunable_classes(model).values() for n in ns]
    n_params = sum(dict(model.named_parameters())[n].numel() for n in names)
    # Warm up on a tiny model first so one-time runtime set-up (thread pools, kernel
    # caches) is not billed to either method.
    tiny = build_model(ModelConfig(src_vocab=50, tgt_vocab=50, emb_dim=8, enc_hidden=8, enc_layers=1,
                                   dec_hidden=8, dec_layers=1), seed=0)
    if method == "ours":
        compute_masks(tiny, Pruning(0.8))
    else:
        import torch.nn.utils.prune as tp
        tmods = dict(tiny.named_modules())
        tnames = [n for ns in prunable_classes(tiny).values() for n in ns]
        tp.global_unstructured([(tmods[n.rsplit(".", 1)[0]], n.rsplit(".", 1)[1]) for n in tnames],
                               pruning_method=tp.L1Unstructured, amount=0.8)
    param_bytes = n_params * 4
    base = _rss_kib("VmRSS:")
    Path("/proc/self/clear_refs").write_text("5")      # reset the peak-RSS high-water mark
    t0 = time.perf_counter()
    if method == "ours":
        masks = compute_masks(model, Pruning(0.8))
        seconds, peak = time.perf_counter() - t0, _rss_kib("VmHWM:")
        out_bytes = sum(m.numel() * m.element_size() for m in masks.values())
        pruned = sum(m.numel() - int(m.count_nonzero()) for m in masks.values())
    else:
        import torch.nn.utils.prune as tp
        mods = dict(model.named_modules())
        targets = [(mods[n.rsplit(".", 1)[0]], n.rsplit(".", 1)[1]) for n in names]
        tp.global_unstructured(targets, pruning_method=tp.L1Unstructured, amount=0.8)
        seconds, peak = time.perf_counter() - t0, _rss_kib("VmHWM:")
        out_bytes = sum(getattr(m, f"{a}_mask").numel() * 4 * 2 for m, a in targets)   # mask + weight_orig
        pruned = sum(getattr(m, f"{a}_mask").numel() - int(getattr(m, f"{a}_mask").count_nonzero())
                     for m, a in targets)
    extra = max(0, peak - base) * 1024
    return {"seconds": seconds, "params": n_params, "param_bytes": param_bytes, "peak_extra_bytes": extra,
            "output_bytes": out_bytes, "pruned": pruned}


def run(size: str, method: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--worker", size, method], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    tune_process()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="small,paper")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        print(json.dumps(worker(*a.worker)))
        return
    results = {}
    print(f"{'model':<6} {'params':>12} {'ours s':>8} {'torch s':>8} {'speedup':>8} "
          f"{'ours extra':>11} {'w/o masks':>10} {'torch extra':>12}")
    for size in a.models.split(","):
        ours = [run(size, "ours") for _ in range(a.repeat)]
        theirs = [run(size, "torch") for _ in range(max(1, a.repeat - 1))]
        o = min(ours, key=lambda r: r["seconds"])
        t = min(theirs, key=lambda r: r["seconds"])
        assert o["pruned"] == t["pruned"] or abs(o["pruned"] - t["pruned"]) <= 1, (o["pruned"], t["pruned"])
        pb = o["param_bytes"]
        r = {"ours_s": round(o["seconds"], 3), "torch_s": round(t["seconds"], 3),
             "speedup": round(t["seconds"] / o["seconds"], 2),
             "peak_extra_mem_ratio": round(max(r["peak_extra_bytes"] for r in ours) / pb, 4),
             "peak_working_mem_ratio": round(max(0, max(r["peak_extra_bytes"] for r in ours) - o["output_bytes"])
                                             / pb, 4),
             "torch_peak_extra_mem_ratio": round(max(r["peak_extra_bytes"] for r in theirs) / pb, 4),
             "params": o["params"], "pruned": o["pruned"]}
        results[size] = r
        print(f"{size:<6} {r['params']:>12,} {r['ours_s']:>8.3f} {r['torch_s']:>8.3f} {r['speedup']:>7.1f}x "
              f"{r['peak_extra_mem_ratio']:>10.1%} {r['peak_working_mem_ratio']:>10.1%} "
              f"{r['torch_peak_extra_mem_ratio']:>11.1%}")
    save_result("prune_speed", results)


if __name__ == "__main__":
    main()
