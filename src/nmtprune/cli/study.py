"""Commands of the study: study (run or resume), report (rebuild)."""
from __future__ import annotations

import json
import sys

from .options import Names, command, number, quiet, show_progress


@command("study", "run (or resume) the pruning study and write its report")
def _study(sub):
    from ..study.config import PRESETS
    sub.add_argument("--config", help="study YAML (see presets/quick.yaml for every key)")
    sub.add_argument("--preset", default="quick", choices=Names("study preset", PRESETS),
                     help="shipped study config, when no --config")
    sub.add_argument("--data", help="raw data directory (Multi30k layout) or a corpus name (multi30k: "
                     "fetched into the cache on first use); not needed when the config "
                     "names a baseline.checkpoint")
    sub.add_argument("--out", required=True, help="study directory")
    sub.add_argument("--seeds", type=number(int), default=1, help="number of seeds (a dense baseline and its runs each)")
    sub.add_argument("--force", action="store_true", help="reuse a study directory made with another config")
    sub.add_argument("--status", action="store_true", help="show progress of the study in --out and exit")
    sub.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N | auto")
    quiet(sub)
    sub.add_argument("--executor", default="local", choices=Names("executor", ("local", "processes", "ray")),
                     help="local (this process, one run at a time) | processes (CPUs / --run-cpus runs side by "
                          "side on this machine) | ray (each run a Ray task; needs nmtprune[ray])")
    sub.add_argument("--ray-address", help="join this Ray cluster (HEAD:6379); default: start a local instance")
    sub.add_argument("--run-cpus", type=number(float), default=1, help="CPUs (threads) of each run: each Ray task declares them; "
                     "--executor processes runs CPUs / this many at once")
    sub.add_argument("--run-gpus", type=number(float), default=0, help="GPUs each Ray task declares")
    sub.add_argument("--max-retries", type=number(int), default=2,
                     help="reruns of a Ray task whose worker was lost or that hit an OSError")

    def run(a):
        from ..study.executors import ExecutorOptions
        from ..study.runner import command_line, run_study, study_status
        if a.status:
            print(json.dumps(study_status(a.out)))
            return
        opts = ExecutorOptions(a.run_cpus, a.run_gpus, a.max_retries, a.ray_address)
        out = run_study(a.data, a.out, config=a.config, preset=a.preset, seeds=a.seeds, device=a.device,
                        force=a.force, progress=show_progress(a), command=command_line(sys.argv[1:]),
                        executor=a.executor, options=opts)
        print(out / "report.html")
    return run


@command("report", "rebuild a study's report from its store")
def _report(sub):
    sub.add_argument("study", help="study directory")
    sub.add_argument("--export", metavar="DIR", help="also copy report.md, results.csv and the figures into DIR "
                     "(to publish or commit them; no checkpoints)")

    def run(a):
        from ..study.report import write_report
        print(write_report(a.study))
        if a.export:
            from ..study.publish import publish
            for path in publish(a.study, a.export):
                print(path)
    return run
