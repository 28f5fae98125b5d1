"""The Ray cases of ``test_study_ray.py``, run by it in a pytest process of their own (not collected
by the main run: the file name does not start with ``test_``). Ray's core worker ends its whole
process when its raylet dies, which would end the main test run without a summary."""
import json
import os
import sqlite3
import time

import pytest
import yaml

from nmtprune.errors import NmtpruneError
from nmtprune.study.runner import run_study

from helpers import nmt
from test_study_budgets import MICRO


def _ray():
    import ray
    return ray


def _runs(out) -> dict:
    rows = sqlite3.connect(out / "study.db").execute("SELECT id, status, finished, metrics FROM runs").fetchall()
    return {i: (st, fin, json.loads(m or "{}")) for i, st, fin, m in rows}


@pytest.fixture(scope="module")
def ray_session():
    """A local Ray instance of 2 CPUs for this module's tests."""
    from nmtprune.study.ray_executor import init_local
    ray = _ray()
    t0 = time.time()
    init_local(ray, num_cpus=2, log_to_driver=False)      # retried: Ray's start can time out under load
    print(f"Ray start-up: {time.time() - t0:.1f} s")
    yield ray
    ray.shutdown()


def test_micro_study_on_ray_matches_the_local_executor(raw_dir, tmp_path, ray_session):
    cfg = tmp_path / "micro.yaml"
    cfg.write_text(yaml.safe_dump(MICRO))
    t0 = time.time()
    run_study(str(raw_dir), str(tmp_path / "local"), config=str(cfg), progress=False)
    t1 = time.time()
    run_study(str(raw_dir), str(tmp_path / "ray"), config=str(cfg), progress=False, executor="ray")
    print(f"micro study: local {t1 - t0:.1f} s, ray {time.time() - t1:.1f} s")
    assert ray_session.is_initialized()               # a Ray session it did not start is left open
    local, remote = _runs(tmp_path / "local"), _runs(tmp_path / "ray")
    assert sorted(remote) == sorted(local) and len(local) == 6
    assert {st for st, _, _ in remote.values()} == {"done"}
    assert (tmp_path / "ray" / "report.html").is_file()
    diffs = {i: abs(remote[i][2]["bleu"] - local[i][2]["bleu"]) for i in local}
    print("BLEU |ray - local| per run:", {i[:8]: round(d, 4) for i, d in diffs.items()})
    assert max(diffs.values()) <= 0.5
    for i in local:                                   # seeded and independent of where it ran: same numbers
        assert remote[i][2]["ppl"] == pytest.approx(local[i][2]["ppl"], rel=1e-4)

    # The command line, joining this Ray instance as a cluster: a run the store saw as unfinished
    # (its driver killed) is redone, finished runs are not.
    db = sqlite3.connect(tmp_path / "ray" / "study.db", isolation_level=None)
    redo = db.execute("SELECT id FROM runs WHERE kind='prune' AND retrained=0").fetchone()[0]
    db.execute("UPDATE runs SET status='running', metrics=NULL WHERE id=?", (redo,))
    address = ray_session.get_runtime_context().gcs_address
    r = nmt("study", "--config", cfg, "--data", raw_dir, "--out", tmp_path / "ray", "--quiet",
            "--executor", "ray", "--ray-address", address, "--run-cpus", "1", "--max-retries", "1")
    assert r.returncode == 0, r.stderr
    again = _runs(tmp_path / "ray")
    assert {st for st, _, _ in again.values()} == {"done"}
    assert again[redo][2]["bleu"] == remote[redo][2]["bleu"] and again[redo][1] > remote[redo][1]
    assert all(again[i][1] == remote[i][1] for i in remote if i != redo)


def test_lost_workers_and_os_errors_are_retried_a_bounded_number_of_times(ray_session, tmp_path):
    from nmtprune.study.ray_executor import RayExecutor

    def flaky(item):                      # nested: Ray ships it by value to its workers
        with open(tmp_path / f"{item}.attempts", "a") as f:
            f.write("x")
        attempt = (tmp_path / f"{item}.attempts").stat().st_size
        if item == "lost-always" or (item == "lost-once" and attempt == 1):
            os._exit(1)                   # the worker dies mid-run
        if item == "oserror-once" and attempt == 1:
            raise OSError("shared filesystem hiccup")
        if item == "bug":
            raise ValueError("a bug")
        return item.upper()

    items = ["fine", "lost-once", "lost-always", "oserror-once", "bug"]
    submitted = []
    with RayExecutor(None, 1, 0, max_retries=1) as ex:
        got = {item: result for item, result, _ in ex.as_completed(flaky, items, submitted.append)}
        with pytest.raises(NmtpruneError, match="a task failed on Ray: ValueError: a bug"):
            ex.map(flaky, ["fine", "bug"])
    assert submitted == items and sorted(got) == sorted(items)
    assert got["fine"] == "FINE" and got["lost-once"] == "LOST-ONCE" and got["oserror-once"] == "OSERROR-ONCE"
    assert isinstance(got["lost-always"], ray_session.exceptions.RayError)          # lost twice: recorded failed
    assert isinstance(got["bug"], ValueError) and "a bug" in got["bug"].remote_traceback
    attempts = {item: (tmp_path / f"{item}.attempts").stat().st_size for item in items}
    assert attempts == {"fine": 2, "lost-once": 2, "lost-always": 2, "oserror-once": 2, "bug": 2}
