"""The quick study end to end: wall time per stage and the numbers it reports.

Runs ``nmtprune study --preset quick`` in a fresh study directory (in a fresh process,
timed), then reads the study's store: stage times, runs done/failed, per-run seconds, and
the headline numbers (dense, the headline experiment, the recipes experiment).
By default the runs go side by side to worker processes, one thread each
(``--executor processes --run-cpus 1``, what ``scripts/quickstart.sh`` runs), and the
result is ``quick_study.json``; ``--executor local`` (one run at a time on every thread)
writes ``quick_study_local.json``, ``--executor ray`` (a local Ray instance, the cluster
executor) ``quick_study_ray.json``; all in the same schema, so they compare run by run.
``--collect DIR --wall-s S --command CMD`` records a study already run and timed by hand
(e.g. ``time bash scripts/quickstart.sh``, whose setup time is then included).

Usage: python benchmarks/quick_study.py [--data ../shared/data/multi30k] [--out studies/quick-bench]
       [--executor processes|local|ray] [--run-cpus 1]
Last line: {"wall_s_total", "stages_s", "runs_done", "runs_failed", "headline": [...], ...}
"""
from __future__ import annotations

import argparse
import json
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

from nmtprune.study.store import Store
from results_io import save_result

ROOT = Path(__file__).resolve().parents[1]


def collect(study: Path) -> dict:
    """What the study's store says: stages, counts, per-run seconds and the headline rows."""
    store = Store(study / "study.db", create=False)
    meta = store.meta()
    runs, headline = [], []
    for row in store.run_records():
        m = json.loads(row["metrics"] or "{}")
        recipe = json.loads(row["spec"]).get("recipe")
        runs.append({"id": row["id"], "experiment": row["experiment"], "kind": row["kind"],
                     "criterion": row["criterion"], "allocation": row["allocation"], "sparsity": row["sparsity"],
                     "retrained": bool(row["retrained"]), "recipe": recipe, "status": row["status"],
                     "seconds": round(row["seconds"] or 0, 1), "bleu": m.get("bleu"), "ppl": m.get("ppl")})
        if row["experiment"] in ("baseline", "headline", "recipes") and row["status"] == "done":
            headline.append({k: runs[-1][k] for k in ("experiment", "kind", "sparsity", "retrained", "recipe",
                                                      "bleu", "ppl")})
    figures = sorted(p.name for p in (study / "figures").glob("*.png")) if (study / "figures").is_dir() else []
    return {"stages_s": {k: round(v, 1) for k, v in json.loads(meta.get("stages", "{}")).items()},
            "runs_done": sum(r["status"] == "done" for r in runs),
            "runs_failed": sum(r["status"] == "failed" for r in runs),
            "figures": len(figures), "headline": headline, "runs": runs,
            "study_command": meta.get("command")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "multi30k"))
    ap.add_argument("--out", default=str(ROOT / "studies" / "quick-bench"))
    ap.add_argument("--executor", default="processes", choices=["local", "processes", "ray"],
                    help="default: processes, one thread a run (what scripts/quickstart.sh runs)")
    ap.add_argument("--run-cpus", type=int, help="with --executor ray or processes: CPUs per run (processes: 1)")
    ap.add_argument("--collect", help="record this finished study instead of running one")
    ap.add_argument("--wall-s", type=float, help="with --collect: the measured wall time")
    ap.add_argument("--command", help="with --collect: the command that was timed")
    ap.add_argument("--note", default="")
    a = ap.parse_args()
    cpus = a.run_cpus or (1 if a.executor == "processes" else None)     # processes: one thread a run
    if a.collect:
        if a.wall_s is None or not a.command:
            sys.exit("--collect needs --wall-s and --command (what was timed)")
        study, wall, cmd = Path(a.collect), a.wall_s, a.command
    else:
        study = Path(a.out)
        if study.exists():
            shutil.rmtree(study)            # end to end means from nothing
        args = [sys.executable, "-m", "nmtprune", "study", "--preset", "quick", "--data", a.data,
                "--out", str(study), "--quiet"]
        if a.executor != "local":
            args += ["--executor", a.executor, *(["--run-cpus", str(cpus)] if cpus else [])]
        cmd = shlex.join(["nmtprune", *args[3:]])
        t0 = time.time()
        r = subprocess.run(args)
        wall = time.time() - t0
        if r.returncode:
            sys.exit(f"failed ({r.returncode}): {cmd}")
    result = {"command": cmd, "executor": a.executor, "wall_s_total": round(wall, 1), **collect(study),
              "note": a.note}
    # quick_study.json is the newcomer's command (scripts/quickstart.sh: processes, one thread a run).
    newcomer = a.executor == "processes" and cpus == 1
    save_result("quick_study" if newcomer else f"quick_study_{a.executor}", result, history=True)


if __name__ == "__main__":
    main()
