"""Shared by the benchmark scripts: write a result to benchmarks/results/NAME.json and print it
as the last line of stdout (scripts outside the test suite read that line).

Every result is stamped here, not by each script, so none can forget: ``provenance`` holds the
git commit (``-dirty`` when tracked files differ from it), Python and torch versions, the CPU
model, core and thread counts, the exact argv and the UTC time. Paths in the result are made
relative to the project root, so a results file does not leak one machine's layout. A file keeps
one schema per benchmark: a script writes the same keys every time (``schema`` names it).
"""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HISTORY = 9          # earlier runs kept beside the latest where asked (noisy rates want several)
ROOT = Path(__file__).resolve().parents[1]


def tune_process() -> None:
    """The benchmarks are applications, so they opt in to the allocator setting the CLI uses
    (the library leaves the process alone; see ``nmtprune.runtime.tune_allocator``)."""
    from nmtprune.runtime import tune_allocator
    tune_allocator()


def _git(*args: str) -> str:
    try:
        r = subprocess.run(["git", *args], capture_output=True, text=True, cwd=ROOT, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return r.stdout.strip() if r.returncode == 0 else ""


def cpu_model() -> str:
    info = Path("/proc/cpuinfo")
    if info.is_file():
        for line in info.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def provenance() -> dict:
    """Where and how this result was measured."""
    commit = _git("rev-parse", "--short", "HEAD") or "unknown"
    # Dirty = code differs from the commit; the results files themselves do not count.
    if _git("status", "--porcelain", "--untracked-files=no", "--", ".", ":!benchmarks/results"):
        commit += "-dirty"
    try:
        import torch
        torch_version, threads = torch.__version__, torch.get_num_threads()
    except ImportError:
        torch_version, threads = None, None
    return {"commit": commit, "python": platform.python_version(), "torch": torch_version,
            "cpu": cpu_model(), "cores": os.cpu_count(), "threads": threads,
            "argv": [relative(a) for a in sys.argv],
            "utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def relative(obj):
    """``obj`` with absolute paths inside the project's parent made relative to the project root."""
    if isinstance(obj, dict):
        return {k: relative(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [relative(v) for v in obj]
    if isinstance(obj, str) and obj.startswith("/") and obj.startswith(str(ROOT.parent) + "/"):
        return os.path.relpath(obj, ROOT)
    if isinstance(obj, str) and str(ROOT.parent) + "/" in obj:        # a command line, NAME=PATH, ...
        if " " in obj:
            return " ".join(relative(w) for w in obj.split(" "))
        return obj.replace(str(ROOT) + "/", "").replace(str(ROOT.parent) + "/", "../")
    return obj


def save_result(name: str, result: dict, history: bool = False, quiet: bool = False) -> None:
    """Write ``result`` (stamped with its provenance) atomically; with ``history`` the previous
    file's runs move under ``earlier_runs`` (newest first, up to HISTORY)."""
    out = ROOT / "benchmarks" / "results" / f"{name}.json"
    out.parent.mkdir(exist_ok=True)
    prov = provenance()
    result = {"schema": name, **relative(result), "measured_at": prov["utc"], "provenance": prov}
    if history and out.is_file():
        try:
            old = json.loads(out.read_text())
        except json.JSONDecodeError:
            old = None
        if isinstance(old, dict):
            earlier = old.pop("earlier_runs", None) or old.pop("earlier_runs_this_session", None) or []
            result["earlier_runs"] = ([old] + earlier)[:HISTORY]
    tmp = out.with_suffix(f".json.tmp{os.getpid()}")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    os.replace(tmp, out)
    if not quiet:
        print(json.dumps({k: v for k, v in result.items() if k != "earlier_runs"}))
