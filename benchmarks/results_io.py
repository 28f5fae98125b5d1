"""Shared by the benchmark scripts: write a result to benchmarks/results/NAME.json and print it
as the last line of stdout (scripts outside the test suite read that line)."""
from __future__ import annotations

import json
from pathlib import Path


def save_result(name: str, result: dict) -> None:
    out = Path(__file__).parent / "results" / f"{name}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))
