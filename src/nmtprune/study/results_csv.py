"""A study's results as CSV (``results.csv`` beside the report): one row per finished run.

For readers outside Python (a spreadsheet, R, pandas): what was run (experiment,
kind, criterion, allocation, target sparsity, retrained, recipe, init, seed) and what
it scored (achieved sparsity, BLEU, chrF, perplexity, optimizer steps, seconds), with
the sacreBLEU signature next to every BLEU. No checkpoints, no per-class detail.
"""
from __future__ import annotations

import csv
import io

COLUMNS = ["id", "experiment", "kind", "criterion", "allocation", "sparsity", "achieved_sparsity", "retrained",
           "recipe", "budget", "init", "snip_batches", "only_classes", "seed", "bleu", "chrf", "ppl", "steps",
           "seconds", "signature"]


def _cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, (list, tuple)):
        return ";".join(map(str, v))
    return str(v)


def results_csv(runs: list[dict]) -> str:
    """CSV text of ``runs`` (``Store.runs(status="done")``), sorted by experiment, kind and sparsity."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(COLUMNS)
    for r in sorted(runs, key=lambda r: (r["experiment"], r["kind"], r.get("recipe") or "",
                                         r.get("criterion") or "", r.get("allocation") or "",
                                         r.get("sparsity") or 0.0, bool(r.get("retrained")), r["seed"], r["id"])):
        m = r.get("metrics", {})
        row = {**r, "achieved_sparsity": m.get("sparsity"), "recipe": m.get("recipe", r.get("recipe")),
               **{k: m.get(k) for k in ("bleu", "chrf", "ppl", "steps", "signature", "budget")},
               "retrained": bool(r.get("retrained"))}
        w.writerow([_cell(row.get(c)) for c in COLUMNS])
    return out.getvalue()
