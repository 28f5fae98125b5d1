"""Recovery after pruning: BLEU of each recipe at each sparsity, with the compute it spends.

Every row is made by the `nmtprune` commands it records (in a fresh process), from
the dense `small` run given, on the same machine and precision as that run:

- `oneshot-finetune`: class-blind magnitude prune, then retrain at the dense run's
  final learning rate (Renda et al.'s fine-tuning).
- `oneshot-rewind`: the same cut, then the dense run's last EPOCHS epochs of
  learning rates replayed (learning-rate rewinding).
- `gradual`: retrain the dense model while pruning it gradually to the target
  (Zhu & Gupta's cubic schedule over the first half, then the mask fixed), at the
  preset's learning rate with plateau decay (`--schedule restart`).
- `gradual-rewind`: the same with the dense run's last EPOCHS epochs of learning rates.
- `gradual-replay`: the same with the dense run's whole schedule compressed to EPOCHS epochs.
- `gradual-kd`, `gradual-replay-kd`: `gradual`, `gradual-replay` with word-level
  distillation from the dense model.
- `oneshot-replay`: the one-shot cut retrained with the compressed dense schedule.
- `gradual-scratch`: train from scratch with the dense run's settings while pruning
  gradually (its minutes are its whole training).

`--from-study DIR` adds the recipe runs of a study that pruned this same dense run
(`recipes` experiment, e.g. `docs/results/small.yaml`) instead of running them again:
`oneshot-restart` (one cut, then retraining at the preset's learning rate with plateau
decay), `gradual`, `gradual-kd` and `iterative` (3 rounds of pruning a share of the kept
weights + retraining, the epochs split over them), at the study's retraining budget.
Their test numbers are the study's; the validation numbers are measured here; minutes
are the training wall time recorded in their runs (summary.json).

`minutes` is the wall time the recipe spends beyond the dense training (prune +
retrain, not evaluation). Settings (recipe epochs) are compared on the validation
split (`valid_ppl`, `valid_bleu`); `bleu`/`ppl` are test_2016_flickr, beam 5.
Rows already in the results file are kept (the script resumes).

Usage: python benchmarks/recovery.py runs/small [--recipes gradual ...] [--sparsities 0.8 0.9 0.95]
       [--epochs 10] [--work runs/recovery]
Last line: {"dense": {"bleu", "train_minutes", ...}, "rows": [{"recipe", "sparsity", "bleu", "ppl",
"minutes", "command", ...}]}
"""
from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

from results_io import provenance, relative, save_result

RESULT = Path(__file__).parent / "results" / "recovery.json"


def nmt(args: list[str]) -> str:
    """Run one nmtprune command; its stdout. A failure stops the benchmark with its stderr."""
    r = subprocess.run([sys.executable, "-m", "nmtprune", *args], capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"failed: nmtprune {shlex.join(args)}\n{r.stderr[-2000:]}")
    return r.stdout


def recipe_commands(recipe: str, dense: str, prep: str, s: float, epochs: int, out: Path,
                    precision: str, seed: int | None = None) -> list[list[str]]:
    """The commands that make the recipe's model in ``out/model`` (``seed``: of the training
    command; None leaves the preset's)."""
    p = ["--precision", precision, "--quiet", *(["--seed", str(seed)] if seed is not None else [])]
    cut = ["prune", dense, "--criterion", "magnitude", "--allocation", "class-blind", "--sparsity", str(s),
           "--out", str(out / "pruned")]
    if recipe == "oneshot-finetune":
        return [cut, ["retrain", str(out / "pruned"), "--schedule", "finetune", "--epochs", str(epochs),
                      "--out", str(out / "model"), *p]]
    if recipe == "oneshot-replay":
        return [cut, ["retrain", str(out / "pruned"), "--schedule", "replay", "--epochs", str(epochs),
                      "--out", str(out / "model"), *p]]
    if recipe == "oneshot-rewind":
        return [cut, ["retrain", str(out / "pruned"), "--schedule", "rewind", "--epochs", str(epochs),
                      "--out", str(out / "model"), *p]]
    if recipe in ("gradual", "gradual-rewind", "gradual-replay"):
        sched = {"gradual": "restart", "gradual-rewind": "rewind", "gradual-replay": "replay"}[recipe]
        return [["retrain", dense, "--prune-to", str(s), "--schedule", sched, "--epochs", str(epochs),
                 "--out", str(out / "model"), *p]]
    if recipe in ("gradual-kd", "gradual-replay-kd"):
        sched = "replay" if recipe == "gradual-replay-kd" else "restart"
        return [["retrain", dense, "--prune-to", str(s), "--schedule", sched, "--teacher", dense,
                 "--epochs", str(epochs), "--out", str(out / "model"), *p]]
    if recipe == "gradual-scratch":
        return [["train", prep, "--preset", "small", "--max-minutes", "0", "--prune-to", str(s),
                 "--out", str(out / "model"), *p]]
    raise SystemExit(f"unknown recipe {recipe!r}")


RECIPES = ["gradual", "gradual-rewind", "gradual-replay", "gradual-kd", "gradual-replay-kd", "oneshot-rewind",
           "oneshot-replay", "oneshot-finetune", "gradual-scratch"]


def evaluate(model: str, split: str) -> dict:
    return json.loads(nmt(["evaluate", model, "--split", split, "--beam", "5", "--json"]).splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dense", help="the dense run directory (trained with the small preset)")
    ap.add_argument("--recipes", nargs="+", default=RECIPES, choices=RECIPES)
    ap.add_argument("--sparsities", type=float, nargs="+", default=[0.8, 0.9, 0.95])
    ap.add_argument("--epochs", type=int, default=10, help="retraining epochs of the retrain recipes")
    ap.add_argument("--work", default="runs/recovery")
    ap.add_argument("--seed", type=int, help="seed of the retraining (default: the preset's); rows of "
                    "different seeds are kept side by side for the spread")
    ap.add_argument("--markdown", action="store_true", help="print the README's table from the results file and exit")
    ap.add_argument("--from-study", metavar="DIR", help="add the recipe runs of this study (which pruned the same "
                    "dense run) as rows, instead of running them")
    a = ap.parse_args()
    if a.markdown:
        return markdown(json.loads(RESULT.read_text()))
    dense = str(Path(a.dense))
    cfg = json.loads((Path(dense) / "config.json").read_text())
    summary = json.loads((Path(dense) / "summary.json").read_text())
    precision = cfg["train"]["precision"]
    old = json.loads(RESULT.read_text()) if RESULT.is_file() else {}
    dense_id = relative(str(Path(dense).resolve()))
    rows = [r for r in old.get("rows", []) if relative(r.get("dense_run")) == dense_id]
    d = old.get("dense") if relative(old.get("dense", {}).get("run")) == dense_id else None
    earlier = earlier_provenance()
    if d is None:
        test, val = evaluate(dense, "test_2016_flickr"), evaluate(dense, "val")
        d = {"run": str(Path(dense).resolve()), "bleu": test["bleu"], "ppl": test["ppl"],
             "valid_bleu": val["bleu"], "valid_ppl": val["ppl"], "train_minutes": round(summary["wall_s"] / 60, 2),
             "epochs": summary["epochs"], "steps": summary["steps"], "precision": precision,
             "signature": test["signature"]}
    if a.from_study:
        for row in study_rows(Path(a.from_study), Path(dense)):
            if not any(r["recipe"] == row["recipe"] and r["sparsity"] == row["sparsity"] and r.get("seed") is None
                       and r.get("retrain_epochs", 10) == row["retrain_epochs"] for r in rows):
                rows.append({**row, "dense_run": dense_id, "commit": provenance()["commit"]})
                _save(d, rows, earlier)
        _table(d, rows)
        return _save(d, rows, earlier, final=True)
    for recipe in a.recipes:
        for s in a.sparsities:
            epochs = None if recipe == "gradual-scratch" else a.epochs
            if any(r["recipe"] == recipe and r["sparsity"] == s and r.get("retrain_epochs", 10) == epochs
                   and r.get("seed") == a.seed for r in rows):
                continue
            out = Path(a.work) / (f"{recipe}-{s:g}" if epochs in (None, 10) else f"{recipe}-e{epochs}-{s:g}")
            out = out if a.seed is None else out.with_name(f"{out.name}-seed{a.seed}")
            cmds = recipe_commands(recipe, dense, cfg["prep"], s, a.epochs, out, precision, a.seed)
            t0 = time.time()
            for c in cmds:
                nmt(c)
            minutes = (time.time() - t0) / 60
            rs = json.loads((out / "model" / "summary.json").read_text())
            test, val = evaluate(str(out / "model"), "test_2016_flickr"), evaluate(str(out / "model"), "val")
            insp = json.loads(nmt(["inspect", str(out / "model"), "--json"]).splitlines()[-1])
            row = {"recipe": recipe, "sparsity": s, "bleu": test["bleu"], "ppl": test["ppl"],
                   "minutes": round(minutes, 2), "command": " && ".join("nmtprune " + shlex.join(c) for c in cmds),
                   "valid_bleu": val["bleu"], "valid_ppl": val["ppl"], "achieved_sparsity": round(insp["sparsity"], 6),
                   "retrain_epochs": epochs, "epochs": rs["epochs"], "steps": rs["steps"],
                   "dense_run": dense_id, "seed": a.seed, "commit": provenance()["commit"]}
            rows.append(row)
            print(f"{recipe:<18} {s:>5.0%}  BLEU {row['bleu']:6.2f}  ppl {row['ppl']:7.2f}  "
                  f"valid BLEU {row['valid_bleu']:6.2f}  {row['minutes']:6.1f} min", file=sys.stderr)
            _save(d, rows, earlier)
    _table(d, rows)
    _save(d, rows, earlier, final=True)


STUDY_NAMES = {"oneshot": "oneshot-restart", "gradual": "gradual", "gradual_kd": "gradual-kd",
               "iterative": "iterative"}


def study_rows(study: Path, dense: Path) -> list[dict]:
    """Rows of the study's recipe runs (class-blind magnitude, restart learning rates, the preset's
    seed), validated on the split the other rows use; the study must have pruned ``dense``."""
    import sqlite3
    db = sqlite3.connect(study / "study.db")
    cfg = json.loads(db.execute("SELECT value FROM meta WHERE key='config'").fetchone()[0])
    given = json.loads((study / "baseline-seed0" / "summary.json").read_text()).get("from_checkpoint")
    if not given or Path(given).resolve() != dense.resolve():
        sys.exit(f"--from-study {study}: its baseline is {given}, not {dense}")
    ev, rt = cfg["evaluation"], cfg["retrain"]
    if (ev["split"], ev["beam"], rt.get("schedule", "restart")) != ("test_2016_flickr", 5, "restart"):
        sys.exit(f"--from-study {study}: evaluated on {ev['split']} beam {ev['beam']} with {rt.get('schedule')} "
                 "learning rates; the rows here are test_2016_flickr, beam 5, restart")
    cmd = db.execute("SELECT value FROM meta WHERE key='command'").fetchone()
    command = cmd[0] if cmd else f"nmtprune study --out {study}"
    rows = []
    for rid, spec, metrics in db.execute("SELECT id, spec, metrics FROM runs WHERE status='done' AND kind='recipe'"):
        spec, m = json.loads(spec), json.loads(metrics)
        if (spec["criterion"], spec["allocation"], spec["seed"]) != ("magnitude", "class_blind", 0):
            continue
        model = study / "runs" / rid / m["model_dir"]
        val = evaluate(str(model), "val")
        done = [json.loads(p.read_text()) for p in (study / "runs" / rid).rglob("summary.json")]
        train_s, steps = sum(x["wall_s"] for x in done), sum(x["steps"] for x in done)   # iterative: all rounds
        rows.append({"recipe": STUDY_NAMES[spec["recipe"]], "sparsity": spec["sparsity"], "bleu": m["bleu"],
                     "ppl": m["ppl"], "minutes": round(train_s / 60, 2), "command": f"{command} (run {rid})",
                     "valid_bleu": val["bleu"], "valid_ppl": val["ppl"], "achieved_sparsity": round(m["sparsity"], 6),
                     "retrain_epochs": rt.get("epochs"), "steps": steps, "seed": None,
                     "source": f"study {relative(str(study.resolve()))}"})
        print(f"{rows[-1]['recipe']:<18} {spec['sparsity']:>5.0%}  BLEU {m['bleu']:6.2f}  valid BLEU "
              f"{val['bleu']:6.2f}  (study run {rid})", file=sys.stderr)
    return rows


def earlier_provenance() -> list[dict]:
    """The provenance of the calls that wrote the rows already in the file (read once, at start)."""
    old = json.loads(RESULT.read_text()) if RESULT.is_file() else {}
    prev = old.get("provenance")
    prev = prev if isinstance(prev, list) else [prev] if prev else []
    return old.get("earlier_provenance", []) + prev


def _save(d: dict, rows: list[dict], earlier: list[dict], final: bool = False) -> None:
    """Written after every row, so an interrupted benchmark keeps what it measured. The file's
    ``provenance`` is this call's (save_result stamps it); each row names the commit it ran on."""
    save_result("recovery", {"dense": d, "rows": rows, "evaluation": {"split": "test_2016_flickr", "beam": 5},
                             "selection": "recipes are compared on the validation split (valid_bleu)",
                             "earlier_provenance": earlier}, quiet=not final)


def _table(d: dict, rows: list[dict]) -> None:
    print(f"dense: BLEU {d['bleu']:.2f}, {d['train_minutes']:.1f} min", file=sys.stderr)
    print(f"{'recipe@epochs':<21} {'sparsity':>8} {'BLEU':>6} {'ppl':>7} {'min':>6} {'vs dense':>8}", file=sys.stderr)
    for r in sorted(rows, key=lambda r: (r["sparsity"], -r["valid_bleu"])):
        name = r["recipe"] + (f"@{r.get('retrain_epochs', 10)}" if r.get("retrain_epochs", 10) else "")
        print(f"{name:<21} {r['sparsity']:>8.0%} {r['bleu']:>6.2f} {r['ppl']:>7.2f} {r['minutes']:>6.1f} "
              f"{r['bleu'] - d['bleu']:>+8.2f}", file=sys.stderr)


NAMES = {"gradual": "gradual, restart", "gradual-rewind": "gradual, rewind", "gradual-replay": "gradual, replay",
         "gradual-replay-kd": "gradual, replay + KD", "gradual-kd": "gradual, restart + KD",
         "oneshot-replay": "one cut, replay", "oneshot-rewind": "one cut, rewind",
         "oneshot-finetune": "one cut, fine-tune", "gradual-scratch": "gradual from scratch",
         "oneshot-restart": "one cut, restart", "iterative": "iterative (3 rounds), restart"}


def markdown(res: dict) -> None:
    """The README's table: one line per recipe x budget x sparsity, mean ± std over the seeds run."""
    import statistics as st
    d, groups = res["dense"], {}
    for r in res["rows"]:
        groups.setdefault((r["recipe"], r.get("retrain_epochs", 10), r["sparsity"]), []).append(r)

    def ms(rs, k):
        xs = [r[k] for r in rs]
        return f"{st.mean(xs):.2f}" + (f" ± {st.stdev(xs):.2f}" if len(xs) > 1 else "")
    print("| recipe | epochs (steps) | sparsity | runs | valid BLEU | test BLEU | vs dense | test ppl | minutes |")
    print("|---|---|---|---|---|---|---|---|---|")
    for (recipe, e, s), rs in sorted(groups.items(), key=lambda kv: (kv[0][2], -sum(r["valid_bleu"] for r in kv[1])
                                                                    / len(kv[1]))):
        gap = sum(r["bleu"] for r in rs) / len(rs) - d["bleu"]
        name = NAMES.get(recipe, recipe) + (" (study)" if all(r.get("source") for r in rs) else "")
        lo, hi = min(r["steps"] for r in rs), max(r["steps"] for r in rs)   # early stopping may end one sooner
        steps = f"{lo}" if lo == hi else f"{lo}–{hi}"
        print(f"| {name} | {e or 'whole run'} ({steps}) | {s:.0%} | {len(rs)} | "
              f"{ms(rs, 'valid_bleu')} | {ms(rs, 'bleu')} | {gap:+.2f} | {ms(rs, 'ppl')} | {ms(rs, 'minutes')} |")


if __name__ == "__main__":
    main()
