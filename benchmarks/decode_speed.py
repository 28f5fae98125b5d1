"""Beam-5 decoding speed of pruned models against the dense one at its fastest settings.

Every row is one model decoded one way, each pass in a fresh process, all in
this one run beside the dense model, in --repeat rounds over every row (so a
drifting machine moves all rows alike):

- ``sent_per_s``: test-set sentences per second at the default batch (64) and
  workers (one per core), model already loaded; median over the rounds;
- ``ms_per_sentence``: one sentence at a time (batch 1, one process), the
  median over --latency-sentences test sentences spread over the set;
- ``wall_s``: the whole ``nmtprune translate`` process on the test set, as a
  user runs it (start-up, loading and any kernel measurement included),
  median over the rounds; ``command`` is that command line;
- ``bleu``/``valid_bleu`` (test/validation, sacreBLEU), and ``matrices``: the
  kernel each per-step matrix got (``auto`` measures at load), from round 1.

``speedup``/``latency_speedup``/``wall_speedup`` divide by the dense model at
its fastest exact settings (workers, every target word; ``--kernels bf16`` or
``auto``, whichever was faster in this run);
``speedup_fp32`` by the dense model in fp32 (``--kernels dense``), and
``speedup_same_decoding`` by the dense model decoded with the row's own
decoding options (kernels auto, shortlist or not), i.e. what pruning alone buys.
Each pruned run directory is exported to ``.nmtz`` (``--values`` each) and
decoded from that file, as a deployment would.

Usage: python benchmarks/decode_speed.py --dense RUN --model NAME[:VALUES]=RUN [...] [--device cpu]
       python benchmarks/decode_speed.py --markdown     (the table of docs/speed-and-size.md)
Last line: {"dense": {...}, "rows": [...]} (also benchmarks/results/decode_speed.json)
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from results_io import ROOT, save_result

NMT = [sys.executable, "-m", "nmtprune"]


def child(spec: dict) -> dict:
    """One fresh process: time one test-set pass; on the first round also BLEU (test and
    valid), the one-sentence latency and the kernel each matrix got."""
    import torch

    from nmtprune.checkpoint.load import load_checkpoint
    from nmtprune.data.prepared import Prepared
    from nmtprune.decode.kernels import Stepper
    from nmtprune.decode.metrics import bleu_chrf
    from nmtprune.decode.shortlist import checkpoint_shortlist
    from nmtprune.decode.translation import translate_ids
    ck = load_checkpoint(spec["path"], device=spec["device"])
    prep = Prepared(spec["prep"])
    kw = dict(beam=spec["beam"], device=spec["device"],
              shortlist=checkpoint_shortlist(ck) if spec["shortlist"] else None)
    # Built as translate builds it (default batch 64), kept to report its per-matrix choice.
    step = Stepper(ck.model, spec["kernels"], rows=64 * spec["beam"])

    def decode(ids: list[list[int]]) -> tuple[float, list[str]]:
        t = time.perf_counter()
        hyps = translate_ids(ck.model, ids, stepper=step, **kw)
        if spec["device"] != "cpu":
            torch.cuda.synchronize()
        return time.perf_counter() - t, [ck.tgt_tok.decode(h) for h in hyps]

    test = prep.load(spec["split"])
    ids = [ck.src_tok.encode(s) for s in test.raw_src]
    seconds, hyps = decode(ids)
    out = {"seconds": seconds, "sentences": len(hyps)}
    if not spec["first"]:
        return out
    valid = prep.load(spec["valid_split"])
    _, valid_hyps = decode([ck.src_tok.encode(s) for s in valid.raw_src])
    pick = ids[::max(1, len(ids) // spec["latency_sentences"])][:spec["latency_sentences"]]
    # One sentence at a time, as a server would: the step (and its kernel choice) is built once.
    one_by_one = Stepper(ck.model, spec["kernels"], rows=spec["beam"])
    lat = []
    for one in pick:
        t = time.perf_counter()
        translate_ids(ck.model, [one], batch_size=1, workers=1, stepper=one_by_one, **kw)
        lat.append(time.perf_counter() - t)
    return {**out, "bleu": bleu_chrf(hyps, test.raw_tgt)["bleu"],
            "valid_bleu": bleu_chrf(valid_hyps, valid.raw_tgt)["bleu"],
            "ms_per_sentence": round(statistics.median(lat) * 1e3, 2),
            "matrices": {name: e["kernel"] for name, e in step.report.items()} or {"all": "dense"}}


def command(spec: dict, src_file: Path) -> list[str]:
    """The ``nmtprune translate`` command line a user runs for this row."""
    return (["nmtprune", "translate", spec["path"], "--input", str(src_file), "--kernels", spec["kernels"],
             "--beam", str(spec["beam"]), "--device", spec["device"]] + (["--shortlist"] if spec["shortlist"] else []))


def sample(spec: dict, src_file: Path, *, first: bool) -> dict:
    """One round of a row: a fresh child's pass, then one whole ``nmtprune translate`` process."""
    r = subprocess.run([sys.executable, __file__, "--child", json.dumps({**spec, "first": first})],
                       capture_output=True, text=True, cwd=ROOT / "benchmarks")
    if r.returncode != 0:
        raise SystemExit(f"row {spec['model']} ({spec['kernels']}) failed:\n{r.stderr[-2000:]}")
    got = json.loads(r.stdout.strip().splitlines()[-1])
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        w = subprocess.run(NMT + command(spec, src_file)[1:] + ["--output", f"{tmp}/out.txt", "--quiet"],
                           capture_output=True, text=True)
        got["wall"] = time.perf_counter() - t
    if w.returncode != 0:
        raise SystemExit(f"{' '.join(command(spec, src_file))} failed: {w.stderr[-500:]}")
    return got


def describe(run: Path) -> dict:
    """What a pruned run is: method (its pruning chain), weight sparsity counted as zeros in its
    weights where its masks are (loading refuses a mask its weights disagree with), and the share
    of hidden units kept."""
    from nmtprune.checkpoint.load import load_checkpoint
    from nmtprune.model.units import kept_units
    from nmtprune.prune.units import unit_sparsity
    ck = load_checkpoint(run)
    params = dict(ck.model.named_parameters())
    zeros = sum(int((params[n] == 0).sum()) for n in ck.masks)
    total = sum(params[n].numel() for n in ck.masks)
    chain, at = [], Path(run)
    while (at / "config.json").is_file():
        cfg = json.loads((at / "config.json").read_text())
        t = cfg.get("train", {})
        if t.get("prune_to"):
            only = f" of {'+'.join(t['prune_classes'])}" if t.get("prune_classes") else ""
            kd = " with KD" if cfg.get("teacher") else ""
            chain.append(f"{t.get('prune_granularity', 'weight')}s{only} to {t['prune_to']:g}{kd}")
        at = Path(cfg.get("source") or "/nonexistent").parent
    units = 1.0 - unit_sparsity(kept_units(ck.model, {n: m.bool() for n, m in ck.masks.items()}))
    return {"method": "gradual, " + " then ".join(reversed(chain)) if chain else "dense",
            "sparsity": round(zeros / total, 4) if total else 0.0, "units_kept": round(units, 4)}


def export(run: Path, values: str) -> Path:
    """The run as a deployment gets it: ``RUN.VALUES.nmtz`` beside the run directory."""
    path = run.parent / f"{run.name}.{values}.nmtz"
    r = subprocess.run(NMT + ["export", str(run), "--out", str(path), "--values", values], capture_output=True,
                       text=True)
    if r.returncode != 0:
        raise SystemExit(f"export {run} failed: {r.stderr[-500:]}")
    return path


def _ratio(a: float, b: float) -> float:
    return round(a / b, 3) if b else 0.0


def plan(a: argparse.Namespace) -> list[dict]:
    """Every row to measure: the dense model's decoding options, then each pruned model's."""
    from nmtprune.checkpoint.load import load_checkpoint
    dense = load_checkpoint(a.dense)
    dense_bytes = 4 * sum(p.numel() for p in dense.model.parameters())
    base = dict(beam=a.beam, device=a.device, split=a.split, valid_split=a.valid_split,
                latency_sentences=a.latency_sentences, prep=str(dense.prep))
    rows = []
    size = Path(dense.path).stat().st_size
    for kernels, shortlist, role in (("bf16", False, "reference"), ("dense", False, "fp32"), ("auto", False, "auto"),
                                     ("auto", True, "auto+shortlist")):
        rows.append({**base, "model": "dense", "role": role, "path": str(a.dense), "kernels": kernels,
                     "shortlist": shortlist, "method": "dense", "sparsity": 0.0, "units_kept": 1.0,
                     "values": "fp32", "size_ratio": round(size / dense_bytes, 4)})
    for spec in a.model:
        name, run = spec.split("=", 1)
        name, _, own = name.partition(":")           # NAME:VALUES=RUN: this model's own --values
        info = describe(Path(run))
        for values in (own or a.values).split(","):
            path = export(Path(run), values)
            for kernels, shortlist in (("auto", False), ("auto", True)):
                rows.append({**base, "model": name, "role": "pruned", "path": str(path), "kernels": kernels,
                             "shortlist": shortlist, **info, "values": values,
                             "size_ratio": round(path.stat().st_size / dense_bytes, 4)})
    return rows


def main() -> dict | None:
    """The result to save, or None in a child (which prints its row)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--dense", help="the dense run directory")
    ap.add_argument("--model", action="append", default=[],
                    help="NAME=RUN: a pruned run directory (repeatable); NAME:VALUES=RUN exports this one "
                         "with VALUES instead of --values")
    ap.add_argument("--values", default="int8", help="export each pruned model with these values "
                    "(comma-separated; the kernels decode every one the same way, so speed does not depend on it)")
    ap.add_argument("--split", default="test_2016_flickr")
    ap.add_argument("--valid-split", default="val")
    ap.add_argument("--beam", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=5, help="rounds over every row (medians)")
    ap.add_argument("--latency-sentences", type=int, default=200)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--markdown", action="store_true",
                    help="print the README table of benchmarks/results/decode_speed.json and stop")
    a = ap.parse_args()
    if a.markdown:
        print(markdown(json.loads((ROOT / "benchmarks" / "results" / "decode_speed.json").read_text())))
        return None
    if a.child:
        print(json.dumps(child(json.loads(a.child))))
        return None
    if not a.dense:
        ap.error("--dense RUN is required")
    from nmtprune.data.prepared import Prepared
    rows = plan(a)
    prep = Prepared(rows[0]["prep"])
    src_file = prep.path / f"{a.split}.{prep.cfg.src}"
    # Rounds over every row, not row after row: a machine whose speed drifts (shared hosts do)
    # then moves every row alike, and each row's median is taken over the same stretch of time.
    samples: list[list[dict]] = [[] for _ in rows]
    for r in range(a.repeat):
        for spec, got in zip(rows, samples):
            got.append(sample(spec, src_file, first=r == 0))
    measured = []
    for spec, got in zip(rows, samples):
        m = {**spec, **got[0], "command": " ".join(command(spec, src_file)),
             "sent_per_s": round(got[0]["sentences"] / statistics.median(g["seconds"] for g in got), 1),
             "wall_s": round(statistics.median(g["wall"] for g in got), 2)}
        measured.append(m)
        print(f"{m['model']:>20} {m['kernels']:>5} {'shortlist' if m['shortlist'] else '':>9} {m['values']:>4}  "
              f"BLEU {m['bleu']:5.2f} valid {m['valid_bleu']:5.2f}  {m['sent_per_s']:7.1f} sent/s  "
              f"{m['ms_per_sentence']:6.2f} ms/sent  wall {m['wall_s']:5.2f} s", file=sys.stderr, flush=True)
    return summarize(measured)


def summarize(measured: list[dict]) -> dict:
    """The result file: the dense reference and one row per pruned (or dense) decoding, with ratios."""
    by_role = {m["role"]: m for m in measured if m["model"] == "dense"}
    fp32 = by_role["fp32"]
    # The reference is the dense model's fastest exact decoding of every word: bf16 kernels, or
    # auto where it measured faster (both run bf16 products here; a drifting machine can still
    # time them apart), so no ratio is taken against a slow sample of the dense model.
    ref = max((by_role["reference"], by_role["auto"]), key=lambda m: m["sent_per_s"])
    same = {m["shortlist"]: m for m in measured if m["model"] == "dense" and m["kernels"] == "auto"}
    keys = ("bleu", "valid_bleu", "sent_per_s", "ms_per_sentence", "kernels")
    out = {"dense": {**{k: ref[k] for k in keys}, "wall_s": ref["wall_s"], "command": ref["command"],
                     "fp32": {**{k: fp32[k] for k in keys}, "wall_s": fp32["wall_s"]}},
           "rows": []}
    for m in measured:
        if m is ref:
            continue
        twin = same[m["shortlist"]]
        out["rows"].append({
            "model": m["model"], "method": m["method"], "sparsity": m["sparsity"], "units_kept": m["units_kept"],
            "values": m["values"], "kernels": m["kernels"], "shortlist": m["shortlist"],
            "bleu": m["bleu"], "valid_bleu": m["valid_bleu"], "sent_per_s": m["sent_per_s"],
            "ms_per_sentence": m["ms_per_sentence"], "wall_s": m["wall_s"],
            "speedup": _ratio(m["sent_per_s"], ref["sent_per_s"]),
            "latency_speedup": _ratio(ref["ms_per_sentence"], m["ms_per_sentence"]),
            "wall_speedup": _ratio(ref["wall_s"], m["wall_s"]),
            "speedup_fp32": _ratio(m["sent_per_s"], fp32["sent_per_s"]),
            "speedup_same_decoding": _ratio(m["sent_per_s"], twin["sent_per_s"]),
            "size_ratio": m["size_ratio"], "matrices": m["matrices"], "command": m["command"]})
    return out


def markdown(result: dict) -> str:
    """The table of docs/speed-and-size.md from a result: one line per decoding, ratios to the dense model at bf16."""
    d = result["dense"]
    lines = ["| model | kernels | shortlist | test BLEU | valid BLEU | sent/s | × dense | × same decoding "
             "| ms/sentence | wall s | size |",
             "|---|---|---|---|---|---|---|---|---|---|---|",
             f"| dense (fastest exact: reference) | {d['kernels']} | no | {d['bleu']:.2f} | {d['valid_bleu']:.2f} "
             f"| {d['sent_per_s']:.0f} | 1.00× | – | {d['ms_per_sentence']:.1f} | {d['wall_s']:.2f} | 1.000 |"]
    for r in result["rows"]:
        name = "dense" if r["model"] == "dense" else f"{r['model']} ({r['values']})"
        lines.append(f"| {name} | {r['kernels']} | {'yes' if r['shortlist'] else 'no'} | {r['bleu']:.2f} "
                     f"| {r['valid_bleu']:.2f} | {r['sent_per_s']:.0f} | {r['speedup']:.2f}× "
                     f"| {r['speedup_same_decoding']:.2f}× | {r['ms_per_sentence']:.1f} | {r['wall_s']:.2f} "
                     f"| {r['size_ratio']:.3f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    result = main()
    if result is not None:
        save_result("decode_speed", result)
