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
    sub.add_argument("--data", help="raw data directory (Multi30k layout); not needed when the config "
                     "names a baseline.checkpoint")
    sub.add_argument("--out", required=True, help="study directory")
    sub.add_argument("--seeds", type=number(int), default=1, help="number of seeds (a dense baseline and its runs each)")
    sub.add_argument("--force", action="store_true", help="reuse a study directory made with another config")
    sub.add_argument("--status", action="store_true", help="show progress of the study in --out and exit")
    sub.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N | auto")
    quiet(sub)

    def run(a):
        from ..study.runner import command_line, run_study, study_status
        if a.status:
            print(json.dumps(study_status(a.out)))
            return
        out = run_study(a.data, a.out, a.config, a.preset, a.seeds, a.device, a.force, show_progress(a),
                        command_line(sys.argv[1:]))
        print(out / "report.html")
    return run


@command("report", "rebuild a study's report from its store")
def _report(sub):
    sub.add_argument("study", help="study directory")

    def run(a):
        from ..study.report import write_report
        print(write_report(a.study))
    return run
