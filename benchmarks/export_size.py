"""Exported (.nmtz) size vs the dense fp32 checkpoint, and the BLEU each keeps.

Prunes CKPT (class-blind magnitude) at 80% and 90% -- or takes already-pruned
(e.g. pruned and retrained) checkpoints of the same model with --pruned --,
exports each with fp32, fp16, int8 and int4 values, and evaluates BLEU (beam 5) on
test_2016_flickr from the exported file itself, next to the BLEU of the pruned
checkpoint it came from (fp32 must match it exactly).

Usage: python benchmarks/export_size.py CKPT [--pruned DIR ...] [--beam 5]
Last line of stdout: {"dense_bytes", "dense_bleu", "rows": [{"sparsity", "values", "bytes", "ratio", "bleu",
"bleu_checkpoint"}]}
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from nmtprune.api import evaluate
from nmtprune.checkpoint.model_file import resolve
from nmtprune.checkpoint.export import export
from nmtprune.prune import Pruning, inspect, prune
from results_io import save_result, tune_process


def main() -> None:
    tune_process()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint")
    ap.add_argument("--beam", type=int, default=5)
    ap.add_argument("--split", default="test_2016_flickr")
    ap.add_argument("--pruned", nargs="+", help="pruned checkpoints of CKPT's model (default: prune at 80%%, 90%%)")
    a = ap.parse_args()
    dense_file = resolve(a.checkpoint)
    dense_bytes = dense_file.stat().st_size
    work = Path(tempfile.mkdtemp(prefix="nmtz-bench-"))
    dense_bleu = evaluate(a.checkpoint, split=a.split, beam=a.beam, out_dir=str(work / "dense"))["bleu"]
    rows = []
    print(f"dense checkpoint {dense_file}: {dense_bytes / 1e6:.2f} MB, BLEU {dense_bleu}")
    print(f"{'sparsity':>8} {'values':>6} {'MB':>7} {'ratio':>6} {'bound':>6} {'BLEU':>6} {'ckpt BLEU':>9}")
    if a.pruned:
        sources = [(inspect(p, sizes=False)["sparsity"], Path(p)) for p in a.pruned]
    else:
        sources = [(x, work / f"p{x}") for x in (0.8, 0.9)]
        for x, pruned in sources:
            prune(a.checkpoint, Pruning(x), pruned)
    for x, pruned in sources:
        x = round(x, 4)
        ref = evaluate(str(pruned), split=a.split, beam=a.beam, out_dir=str(work / f"ref{x}"))["bleu"]
        for values in ("fp32", "fp16", "int8", "int4"):
            f = work / f"p{x}.{values}.nmtz"
            r = export(pruned, f, values=values)
            bleu = evaluate(str(f), split=a.split, beam=a.beam, out_dir=str(work / f.stem))["bleu"]
            bound = (1 - x) + 1 / 32 if values == "fp32" else None
            row = {"sparsity": x, "values": values, "bytes": r["bytes"], "ratio": round(r["bytes"] / dense_bytes, 4),
                   "bleu": bleu, "bleu_checkpoint": ref, "source": str(pruned)}
            rows.append(row)
            print(f"{x:>8.0%} {values:>6} {r['bytes'] / 1e6:>7.2f} {row['ratio']:>6.3f} "
                  f"{'' if bound is None else f'{bound:.3f}':>6} {bleu:>6} {ref:>9}")
    result = {"checkpoint": str(dense_file), "dense_bytes": dense_bytes, "dense_bleu": dense_bleu, "rows": rows}
    save_result("export_size", result)


if __name__ == "__main__":
    main()
