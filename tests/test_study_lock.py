"""One driver per study directory: a second one is refused naming the holder; a killed holder frees it."""
import json
import os
import signal
import subprocess
import sys

import pytest

from nmtprune.errors import NmtpruneError
from nmtprune.study.lock import study_lock
from nmtprune.study.runner import run_study
from nmtprune.study.store import Store

from helpers import nmt

HOLD = """import sys, time
from pathlib import Path
from nmtprune.study.lock import study_lock
with study_lock(Path(sys.argv[1]), command="nmtprune study --out held"):
    print("held", flush=True)
    time.sleep(600)
"""


def test_second_driver_is_refused_and_a_killed_holder_frees_the_lock(tmp_path):
    out = tmp_path / "study"
    out.mkdir()
    Store(out / "study.db")                                # a study in progress, for --status
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(out)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        r = nmt("study", "--data", tmp_path, "--out", out, "--quiet")
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 2 and len(lines) == 1, r.stderr
        assert lines[0].startswith(f"error: {out} is in use by another study driver (pid {holder.pid} on ")
        assert "nmtprune study --out held" in lines[0]
        with pytest.raises(NmtpruneError, match=f"in use by another study driver \\(pid {holder.pid} "):
            run_study(str(tmp_path), str(out), progress=False)
        status = nmt("study", "--status", "--out", out)    # reading the store needs no lock
        assert status.returncode == 0 and json.loads(status.stdout)["done"] == 0, status.stderr
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    with study_lock(out, command="nmtprune study (next)"):         # the kernel dropped the killed holder's lock
        assert json.loads((out / ".lock").read_text())["pid"] == os.getpid()
    with study_lock(out):                                  # and this one released its own on leaving
        pass
