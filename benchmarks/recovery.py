"""Recovery after pruning: BLEU of each recipe at each sparsity, with the compute it spends.

Every row is made by the `nmtprune` commands it records (in a fresh process), from
the dense `small` run given, on the same machine and precision as that run:

A row is an *arm*: a recipe of `nmtprune.training.recipes.RECIPES` (`oneshot`,
`gradual`, `gradual_kd`, `iterative`), the learning-rate schedule its retraining uses
(`restart`, `finetune`, `rewind`, `replay`: `nmtprune.training.schedules`), and where it
starts (`dense`: the trained model; `scratch`: a fresh initialisation, pruned gradually
while the dense run's whole training is replayed). `--recipes` takes arms as
`RECIPE[:SCHEDULE][@scratch]` (`gradual`, `oneshot:finetune`, `gradual_kd:replay`,
`gradual@scratch`); the dashed names of earlier versions (`oneshot-finetune`,
`gradual-replay-kd`, `gradual-scratch`, ...) are accepted and mean the same arms.
`continued[:SCHEDULE]` is the equal-compute dense control: the dense model
retrained with the same budget and schedule, nothing pruned (`--sparsities 0`).

`--from-study DIR` adds the recipe runs of a study that pruned this same dense run
(`recipes` experiment, e.g. `docs/results/small.yaml`) instead of running them again:
`oneshot`, `gradual`, `gradual_kd` and `iterative` (3 rounds of pruning a share of the kept
weights + retraining, the epochs split over them), restart learning rates, at the study's
retraining budget. Their test numbers are the study's; the validation numbers are measured
here; minutes are the training wall time recorded in their runs (summary.json).

`minutes` is the wall time the recipe spends beyond the dense training (prune +
retrain, not evaluation). Settings (recipe epochs) are compared on the validation
split (`valid_ppl`, `valid_bleu`); `bleu`/`ppl` are test_2016_flickr, beam 5.
Rows already in the results file are kept (the script resumes).

Usage: python benchmarks/recovery.py runs/small [--recipes gradual oneshot:rewind ...]
       [--sparsities 0.8 0.9 0.95] [--epochs 10] [--work runs/recovery]
Last line: {"dense": {"bleu", "train_minutes", ...}, "rows": [{"recipe", "schedule", "start", "sparsity",
"bleu", "ppl", "minutes", "command", ...}]}
"""
from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

from recovery_arms import (ARMS, CONTROL, LEGACY, arm_name, arm_of, dense_entries, label, markdown, mine, named,  # noqa: F401
                           parse_arm)
from results_io import provenance, relative, save_result

from nmtprune.study.store import Store

RESULT = Path(__file__).parent / "results" / "recovery.json"


def nmt(args: list[str]) -> str:
    """Run one nmtprune command; its stdout. A failure stops the benchmark with its stderr."""
    r = subprocess.run([sys.executable, "-m", "nmtprune", *args], capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"failed: nmtprune {shlex.join(args)}\n{r.stderr[-2000:]}")
    return r.stdout


def recipe_commands(arm: tuple[str, str, str], dense: str, prep: str, s: float, epochs: int, out: Path,
                    precision: str, seed: int | None = None, granularity: str = "weight") -> list[list[str]]:
    """The commands that make the arm's model in ``out/model`` (``seed``: of the training
    command; None leaves the preset's)."""
    recipe, schedule, start = arm
    p = ["--precision", precision, "--quiet", *(["--seed", str(seed)] if seed is not None else []),
         *(["--granularity", "unit"] if granularity == "unit" else [])]
    model = ["--out", str(out / "model"), *p]
    if start == "scratch":
        return [["train", prep, "--preset", "small", "--max-minutes", "0", "--prune-to", str(s), *model]]
    budget = ["--schedule", schedule, "--epochs", str(epochs)]
    if recipe == "oneshot":
        cut = ["prune", dense, "--criterion", "magnitude", "--sparsity", str(s), "--out", str(out / "pruned"),
               *(["--allocation", "class-uniform", "--granularity", "unit"] if granularity == "unit"
                 else ["--allocation", "class-blind"])]
        return [cut, ["retrain", str(out / "pruned"), *budget, *model]]
    if recipe == CONTROL:                  # the dense model trained on with the same budget, unpruned
        return [["retrain", dense, *budget, *model]]
    if recipe in ("gradual", "gradual_kd"):
        kd = ["--teacher", dense] if recipe == "gradual_kd" else []
        return [["retrain", dense, "--prune-to", str(s), *budget, *kd, *model]]
    raise SystemExit(f"{recipe}: rows of this recipe come from a study (--from-study)")


def evaluate(model: str, split: str) -> dict:
    return json.loads(nmt(["evaluate", model, "--split", split, "--beam", "5", "--json"]).splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dense", help="the dense run directory (trained with the small preset)")
    ap.add_argument("--recipes", nargs="+", default=[parse_arm(x) for x in ARMS], type=parse_arm,
                    metavar="ARM", help="RECIPE[:SCHEDULE][@scratch], e.g. gradual oneshot:rewind gradual@scratch "
                    f"(default: {' '.join(ARMS)})")
    ap.add_argument("--sparsities", type=float, nargs="+", default=[0.8, 0.9, 0.95])
    ap.add_argument("--granularity", choices=["weight", "unit"], default="weight",
                    help="unit: whole hidden units, --sparsities their share (rows also record the weights "
                         "removed and the parameters the exported smaller model keeps)")
    ap.add_argument("--epochs", type=int, default=10, help="retraining epochs of the retrain recipes")
    ap.add_argument("--work", default="runs/recovery")
    ap.add_argument("--seed", type=int, help="seed of the retraining (default: the preset's); rows of "
                    "different seeds are kept side by side for the spread")
    ap.add_argument("--markdown", action="store_true", help="print docs/recovery.md's table from the results file and exit")
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
    rows = [named(r) for r in old.get("rows", [])]          # every dense run's rows (gaps: each to its own)
    denses = dense_entries(old)
    d = denses.get(dense_id)
    earlier = earlier_provenance()
    if d is None:
        test, val = evaluate(dense, "test_2016_flickr"), evaluate(dense, "val")
        d = {"run": str(Path(dense).resolve()), "bleu": test["bleu"], "ppl": test["ppl"],
             "valid_bleu": val["bleu"], "valid_ppl": val["ppl"], "train_minutes": round(summary["wall_s"] / 60, 2),
             "epochs": summary["epochs"], "steps": summary["steps"], "precision": precision,
             "signature": test["signature"]}
        denses[dense_id] = d
    book = {"primary": old.get("dense") or d, "denses": denses, "rows": rows}
    if a.from_study:
        for row in study_rows(Path(a.from_study), Path(dense)):
            if not any(arm_of(r) == arm_of(row) and r["sparsity"] == row["sparsity"] and r.get("seed") is None
                       and r.get("retrain_epochs", 10) == row["retrain_epochs"] for r in mine(rows, dense_id)):
                rows.append({**row, "dense_run": dense_id, "commit": provenance()["commit"]})
                _save(book, earlier)
        _table(d, mine(rows, dense_id))
        return _save(book, earlier, final=True)
    for arm in a.recipes:
        for s in a.sparsities:
            row = measure(arm, s, a, dense=dense, prep=cfg["prep"], precision=precision, rows=mine(rows, dense_id))
            if row is None:
                continue
            rows.append({**row, "dense_run": dense_id, "commit": provenance()["commit"]})
            print(f"{arm_name(*arm):<18} {s:>5.0%}  BLEU {row['bleu']:6.2f}  ppl {row['ppl']:7.2f}  "
                  f"valid BLEU {row['valid_bleu']:6.2f}  {row['minutes']:6.1f} min", file=sys.stderr)
            _save(book, earlier)
    _table(d, mine(rows, dense_id))
    _save(book, earlier, final=True)


def measure(arm: tuple[str, str, str], s: float, a, *, dense: str, prep: str, precision: str,
            rows: list[dict]) -> dict | None:
    """Run one arm at sparsity ``s`` and measure it (None when the file already has the row)."""
    epochs = None if arm[2] == "scratch" else a.epochs
    if any(arm_of(r) == arm and r["sparsity"] == s and r.get("retrain_epochs", 10) == epochs
           and r.get("seed") == a.seed and r.get("granularity", "weight") == a.granularity for r in rows):
        return None
    legacy = next((k for k, v in LEGACY.items() if v == arm), arm_name(*arm))   # earlier runs' directories
    legacy += "-units" if a.granularity == "unit" else ""
    out = Path(a.work) / (f"{legacy}-{s:g}" if epochs in (None, 10) else f"{legacy}-e{epochs}-{s:g}")
    out = out if a.seed is None else out.with_name(f"{out.name}-seed{a.seed}")
    cmds = recipe_commands(arm, dense, prep, s, a.epochs, out, precision, a.seed, a.granularity)
    t0 = time.time()
    for c in cmds:
        nmt(c)
    minutes = (time.time() - t0) / 60
    rs = json.loads((out / "model" / "summary.json").read_text())
    test, val = evaluate(str(out / "model"), "test_2016_flickr"), evaluate(str(out / "model"), "val")
    # Loading refuses a mask that disagrees with its weights, so this is the evaluated model's sparsity.
    insp = json.loads(nmt(["inspect", str(out / "model"), "--json"]).splitlines()[-1])
    got = insp["unit_sparsity"] if a.granularity == "unit" else insp["sparsity"]
    if abs(got - s) > 1e-4:
        sys.exit(f"failed: {arm_name(*arm)} at {s:g} ended at sparsity {got:.6f}, not its target")
    units = {}
    if a.granularity == "unit":            # what the unit-pruned model keeps, as the smaller dense model
        ex = json.loads(nmt(["export", str(out / "model"), "--out", str(out / "model.nmtz")]).splitlines()[0])
        units = {"granularity": "unit", "unit_sparsity": round(got, 6), "weights_removed": round(insp["sparsity"], 6),
                 "params_kept": ex["parameters"], "params_dense": ex["parameters_before"],
                 "params_ratio": round(ex["parameters"] / ex["parameters_before"], 4)}
    recipe, schedule, start = arm
    return {"recipe": recipe, "schedule": schedule, "start": start, "sparsity": s, "bleu": test["bleu"],
            "ppl": test["ppl"], "minutes": round(minutes, 2),
            "command": " && ".join("nmtprune " + shlex.join(c) for c in cmds), "valid_bleu": val["bleu"],
            "valid_ppl": val["ppl"], "achieved_sparsity": round(insp["sparsity"], 6), "retrain_epochs": epochs,
            "epochs": rs["epochs"], "steps": rs["steps"], "seed": a.seed, **units}


def study_rows(study: Path, dense: Path) -> list[dict]:
    """Rows of the study's recipe runs (class-blind magnitude, restart learning rates, the preset's
    seed), validated on the split the other rows use; the study must have pruned ``dense``."""
    store = Store(study / "study.db", create=False)
    cfg = json.loads(store.get_meta("config"))
    given = json.loads((study / "baseline-seed0" / "summary.json").read_text()).get("from_checkpoint")
    if not given or Path(given).resolve() != dense.resolve():
        sys.exit(f"--from-study {study}: its baseline is {given}, not {dense}")
    ev, rt = cfg["evaluation"], cfg["retrain"]
    if (ev["split"], ev["beam"], rt.get("schedule", "restart")) != ("test_2016_flickr", 5, "restart"):
        sys.exit(f"--from-study {study}: evaluated on {ev['split']} beam {ev['beam']} with {rt.get('schedule')} "
                 "learning rates; the rows here are test_2016_flickr, beam 5, restart")
    command = store.get_meta("command") or f"nmtprune study --out {study}"
    rows = []
    for run in store.runs(status="done"):
        if run["kind"] != "recipe":
            continue
        rid, spec, m = run["id"], run, run["metrics"]
        if (spec["criterion"], spec["allocation"], spec["seed"]) != ("magnitude", "class_blind", 0):
            continue
        model = study / "runs" / rid / m["model_dir"]
        val = evaluate(str(model), "val")
        done = [json.loads(p.read_text()) for p in (study / "runs" / rid).rglob("summary.json")]
        train_s, steps = sum(x["wall_s"] for x in done), sum(x["steps"] for x in done)   # iterative: all rounds
        rows.append({"recipe": spec["recipe"], "schedule": "restart", "start": "dense", "sparsity": spec["sparsity"],
                     "bleu": m["bleu"],
                     "ppl": m["ppl"], "minutes": round(train_s / 60, 2), "command": f"{command} (run {rid})",
                     "valid_bleu": val["bleu"], "valid_ppl": val["ppl"], "achieved_sparsity": round(m["sparsity"], 6),
                     "retrain_epochs": rt.get("epochs"), "steps": steps, "seed": None,
                     "source": f"study {relative(str(study.resolve()))}"})
        print(f"{spec['recipe']:<18} {spec['sparsity']:>5.0%}  BLEU {m['bleu']:6.2f}  valid BLEU "
              f"{val['bleu']:6.2f}  (study run {rid})", file=sys.stderr)
    return rows


def earlier_provenance() -> list[dict]:
    """The provenance of the calls that wrote the rows already in the file (read once, at start)."""
    old = json.loads(RESULT.read_text()) if RESULT.is_file() else {}
    prev = old.get("provenance")
    prev = prev if isinstance(prev, list) else [prev] if prev else []
    return old.get("earlier_provenance", []) + prev


def _save(book: dict, earlier: list[dict], final: bool = False) -> None:
    """Written after every row, so an interrupted benchmark keeps what it measured. The file's
    ``provenance`` is this call's (save_result stamps it); each row names the commit it ran on."""
    primary = book["primary"]
    others = [x for k, x in book["denses"].items() if k != relative(primary["run"])]
    save_result("recovery", {"dense": primary, **({"other_dense": others} if others else {}), "rows": book["rows"],
                             "evaluation": {"split": "test_2016_flickr", "beam": 5},
                             "selection": "recipes are compared on the validation split (valid_bleu)",
                             "earlier_provenance": earlier}, quiet=not final)


def _table(d: dict, rows: list[dict]) -> None:
    print(f"dense: BLEU {d['bleu']:.2f}, {d['train_minutes']:.1f} min", file=sys.stderr)
    print(f"{'recipe@epochs':<21} {'sparsity':>8} {'BLEU':>6} {'ppl':>7} {'min':>6} {'vs dense':>8}", file=sys.stderr)
    for r in sorted(rows, key=lambda r: (r["sparsity"], -r["valid_bleu"])):
        name = arm_name(*arm_of(r)) + (f"@{r.get('retrain_epochs', 10)}" if r.get("retrain_epochs", 10) else "") \
            + (" units" if r.get("granularity") == "unit" else "")
        print(f"{name:<21} {r['sparsity']:>8.0%} {r['bleu']:>6.2f} {r['ppl']:>7.2f} {r['minutes']:>6.1f} "
              f"{r['bleu'] - d['bleu']:>+8.2f}", file=sys.stderr)


if __name__ == "__main__":
    main()
