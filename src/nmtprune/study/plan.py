"""The plan: every run of a study, deduplicated, each with its ``id`` and first ``experiment``.

Runs shared by several experiments (same criterion, allocation, sparsity, ...)
run once; the run id is the hash of its spec.
"""
from __future__ import annotations

from ..prune.saliency import NEEDS_DATA
from .config import config_hash
from .execute import RUN_KINDS, retrain_settings
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


# A training whose length is the dense baseline's: longer than any retraining.
_BASELINE_LENGTH = float("inf")


def training_steps(r: dict, cfg: dict) -> float:
    """A rough count of the optimizer steps run ``r`` trains, only to order runs: its budget's
    ``max_steps``, else its epochs times 1,000 (the same guess for every run), else the
    baseline's length (sparse-from-scratch, rewind and SNIP training without ``max_steps``)."""
    if r["kind"] in ("scratch", "rewind", "snip_train"):
        return cfg["scratch"].get("max_steps") or _BASELINE_LENGTH
    if r["retrained"] or r["kind"] == "recipe":
        s = retrain_settings(cfg, r)
        return s.get("max_steps") or 1000 * (s.get("epochs") or 20)
    return 0


def longest_first(runs: list[dict], cfg: dict) -> list[dict]:
    """The order to hand runs to an executor that runs several at once: the first cut of each
    data-driven criterion (OBD, SNIP) that reads the study's score cache first, so it has
    written the scores before the others that read them start (they would each compute them
    again); then the longest trainings, so none is left running alone at the end; then those
    that decode a test set before those that only score perplexity."""
    first: dict[tuple, str] = {}
    for r in runs:
        if r["kind"] == "prune" and r["criterion"] in NEEDS_DATA and not r["retrained"]:
            first.setdefault((r["criterion"], r["seed"]), r["id"])
    leaders = set(first.values())
    return sorted(runs, key=lambda r: (r["id"] not in leaders, -training_steps(r, cfg), not r["bleu"]))
