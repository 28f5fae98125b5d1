"""Shared by the benchmark scripts: write a result to benchmarks/results/NAME.json and print it
as the last line of stdout (scripts outside the test suite read that line)."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

HISTORY = 9          # earlier runs kept beside the latest where asked (noisy rates want several)


def save_result(name: str, result: dict, history: bool = False) -> None:
    """Write ``result`` (with the time it was measured) atomically; with ``history`` the
    previous file's runs move under ``earlier_runs`` (newest first, up to HISTORY)."""
    out = Path(__file__).parent / "results" / f"{name}.json"
    out.parent.mkdir(exist_ok=True)
    result = {**result, "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    if history and out.is_file():
        try:
            old = json.loads(out.read_text())
        except json.JSONDecodeError:
            old = None
        if isinstance(old, dict):
            earlier = old.pop("earlier_runs", None) or old.pop("earlier_runs_this_session", None) or []
            result["earlier_runs"] = ([old] + earlier)[:HISTORY]
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    os.replace(tmp, out)
    print(json.dumps({k: v for k, v in result.items() if k != "earlier_runs"}))
