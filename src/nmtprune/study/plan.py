"""The plan: every run of a study, deduplicated, each with its ``id`` and first ``experiment``.

Runs shared by several experiments (same criterion, allocation, sparsity, ...)
run once; the run id is the hash of its spec.
"""
from __future__ import annotations

from .config import config_hash
from .execute import RUN_KINDS
from .experiments import EXPERIMENTS
from .grids import spec


def plan(cfg: dict, classes: list[str], seeds: int) -> list[dict]:
    """Every run of the study, deduplicated, each with its ``id`` and first ``experiment``."""
    runs: dict[str, dict] = {}
    for seed in range(seeds):
        dense = {**spec("dense", None), "seed": seed, "experiment": "baseline"}
        runs[config_hash({k: v for k, v in dense.items() if k not in ("experiment", "bleu")})] = dense
        for name, settings in cfg["experiments"].items():
            for r in EXPERIMENTS[name].runs(settings, classes):
                r = {**r, "seed": seed}
                rid = config_hash({k: v for k, v in r.items() if k not in ("experiment", "bleu")})
                if rid in runs:
                    runs[rid]["bleu"] = runs[rid]["bleu"] or r["bleu"]
                else:
                    runs[rid] = {**r, "experiment": name}
    for rid, r in runs.items():
        r["id"] = rid
    # Cheap runs first so figures fill in early; training-heavy runs last (RUN_KINDS is in cost order).
    order = list(RUN_KINDS)
    return sorted(runs.values(), key=lambda r: (order.index(r["kind"]), r["retrained"], r["seed"]))
