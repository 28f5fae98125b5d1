"""Where a beam-search decoding step's time goes, per model: products, the vocabulary, attention...

Each model decodes the first --sentences test sentences (beam 5, batch 64, one thread, one
process, the kernels and shortlist given) under torch's profiler; every operator's own CPU
time is put in one group below, and the table gives each group's milliseconds per decoding
step (the unprofiled step time, split by each group's share of the profiled time). Pass a
pruned model as the ``.nmtz`` file a deployment decodes (``nmtprune export``). The point is the comparison: what a smaller model
shrinks (its products) and what it cannot (work over the target vocabulary, the beam's
bookkeeping, one call per operator), which bounds the speedup pruning alone can buy.

Usage: python benchmarks/step_profile.py --model dense=RUN --model units-50=FILE.nmtz [--shortlist]
(``--shortlist``: every model also with ``--shortlist``)
Last line: {"rows": [{"model", "kernels", "shortlist", "steps", "ms_per_step", "groups_ms_per_step"}]}
(also benchmarks/results/step_profile.json)
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

from results_io import ROOT, save_result, tune_process

# operator name (without "aten::"/"mkldnn::") -> group; anything else is "other"; the int8
# kernels' operators ("quantized::linear_dynamic", "aten::fbgemm_...") are products by their
# full name's prefix (the name without its namespace would be "linear_dynamic")
PRODUCT_PREFIXES = ("quantized::", "aten::fbgemm")
GROUPS = {
    "products": ("addmm", "mm", "_linear_pointwise", "linear", "_sparse_mm", "spmm", "_sparse_addmm", "matmul"),
    "vocabulary (log-sum-exp, top-k)": ("topk", "sub", "exp_", "exp", "amax", "sum", "log_", "log", "log_softmax",
                                        "_log_softmax", "max"),
    "attention": ("baddbmm", "bmm", "_softmax", "softmax"),
    "gate math": ("sigmoid", "sigmoid_", "tanh", "tanh_", "addcmul", "mul", "add", "add_"),
    "state and beam bookkeeping": ("index_select", "index", "gather", "cat", "copy_", "_to_copy", "masked_fill_",
                                   "masked_fill", "remainder", "div", "arange", "nonzero", "fill_", "clamp", "ge",
                                   "eq", "any", "item", "_local_scalar_dense", "where", "searchsorted", "sort"),
}


def group_of(name: str) -> str:
    op = name.split("::", 1)[-1]
    for g, ops in GROUPS.items():
        if op in ops or (g == "products" and name.startswith(PRODUCT_PREFIXES)):
            return g
    return "other (views, allocation, the encoder's LSTM, ...)"


def profile(path: str, kernels: str, shortlist: bool, sentences: int) -> dict:
    """Decode the first ``sentences`` test sentences twice: timed, then under the profiler."""
    import torch
    from torch.profiler import ProfilerActivity, profile as torch_profile

    from nmtprune.checkpoint.load import load_checkpoint
    from nmtprune.data.prepared import Prepared
    from nmtprune.decode.kernels import Stepper
    from nmtprune.decode.shortlist import checkpoint_shortlist
    from nmtprune.decode.translation import translate_ids

    class Counted(Stepper):
        steps = 0

        def __call__(self, *a):
            self.steps += 1
            return super().__call__(*a)

    torch.set_num_threads(1)
    ck = load_checkpoint(path)
    test = Prepared(ck.prep).load("test_2016_flickr")
    ids = [ck.src_tok.encode(s) for s in test.raw_src[:sentences]]
    kw = dict(beam=5, device="cpu", workers=1, shortlist=checkpoint_shortlist(ck) if shortlist else None)
    step = Counted(ck.model, kernels, rows=64 * 5)
    translate_ids(ck.model, ids[:64], stepper=step, **kw)          # warm-up
    step.steps = 0
    t = time.perf_counter()
    translate_ids(ck.model, ids, stepper=step, **kw)
    seconds, steps = time.perf_counter() - t, step.steps
    with torch_profile(activities=[ProfilerActivity.CPU]) as p:
        translate_ids(ck.model, ids, stepper=step, **kw)
    groups: dict[str, float] = {}
    for e in p.key_averages():
        groups[group_of(e.key)] = groups.get(group_of(e.key), 0.0) + e.self_cpu_time_total / 1e3
    total = sum(groups.values())
    return {"steps": steps, "seconds": round(seconds, 3), "ms_per_step": round(seconds * 1e3 / steps, 3),
            # each group's share of the profiled time, applied to the unprofiled step time
            "groups_ms_per_step": {g: round(v / total * seconds * 1e3 / steps, 3)
                                   for g, v in sorted(groups.items(), key=lambda kv: -kv[1])}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", action="append", default=[], help="NAME=PATH (run directory or .nmtz)")
    ap.add_argument("--kernels", default="auto")
    ap.add_argument("--shortlist", action="store_true", help="also each model with the lexical shortlist")
    ap.add_argument("--sentences", type=int, default=320)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:                              # one model, in a fresh process
        name, path = a.child.split("=", 1)
        print(json.dumps({"model": name, "path": path, "kernels": a.kernels, "shortlist": a.shortlist,
                          **profile(path, a.kernels, a.shortlist, a.sentences)}))
        return
    if not a.model:
        ap.error("give at least one --model NAME=PATH")
    tune_process()
    rows = []
    for shortlist in [False] + ([True] if a.shortlist else []):
        for m in a.model:
            r = subprocess.run([sys.executable, __file__, "--child", m, "--kernels", a.kernels,
                                "--sentences", str(a.sentences), *(["--shortlist"] if shortlist else [])],
                               capture_output=True, text=True, cwd=ROOT / "benchmarks")
            if r.returncode:
                sys.exit(f"{m} failed:\n{r.stderr[-2000:]}")
            rows.append(json.loads(r.stdout.strip().splitlines()[-1]))
    names = list(dict.fromkeys(g for r in rows for g in r["groups_ms_per_step"]))
    print(f"{'ms per step':<52}" + "".join(f"{r['model'] + (' +SL' if r['shortlist'] else ''):>20}" for r in rows))
    for g in names + ["total"]:
        vals = [r["groups_ms_per_step"].get(g, 0.0) if g != "total" else r["ms_per_step"] for r in rows]
        print(f"{g:<52}" + "".join(f"{v:>20.3f}" for v in vals))
    save_result("step_profile", {"schema": "step_profile", "sentences": a.sentences, "beam": 5, "batch": 64,
                                 "threads": 1, "rows": rows})


if __name__ == "__main__":
    main()
