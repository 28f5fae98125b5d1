"""Study configuration and the plan: which runs each experiment needs.

A study config (YAML) names the data, the dense baseline, how runs are
evaluated and retrained, and a grid per experiment. Each experiment in
:data:`EXPERIMENTS` is a planner ``(settings) -> [run spec]``; runs shared by
several experiments (same criterion, allocation, sparsity, ...) run once.
"""
from __future__ import annotations

import copy
import hashlib
import json
from importlib import resources
from pathlib import Path

import yaml

from .errors import NmtpruneError, choose

METHODS = [("magnitude", "class_blind"), ("magnitude", "class_uniform"), ("magnitude", "class_distribution"),
           ("random", "class_blind")]


def _run(kind: str, criterion: str | None = None, allocation: str | None = None, sparsity: float = 0.0,
         retrained: bool = False, init: str | None = None, only_classes=None, bleu: bool = True,
         snip_batches: int | None = None) -> dict:
    return {"kind": kind, "criterion": criterion, "allocation": allocation, "sparsity": float(sparsity),
            "retrained": retrained, "init": init, "only_classes": only_classes, "bleu": bleu,
            "snip_batches": snip_batches}


def plan_headline(s):
    return [_run("prune", "magnitude", "class_blind", x, rt) for x in s["sparsities"] for rt in (False, True)]


def plan_no_retrain(s):
    return [_run("prune", c, a, x) for c, a in METHODS for x in s["sparsities"]]


def plan_retrain(s):
    runs = []
    for x in s["sparsities"]:
        runs += [_run("prune", "magnitude", "class_blind", x), _run("prune", "magnitude", "class_blind", x, True),
                 _run("prune", "random", "class_blind", x, True), _run("scratch", "magnitude", "class_blind", x,
                                                                       init=s["init"])]
    return runs


def plan_class_share(s):
    runs = [_run("prune", "magnitude", a, s["compare_at"]) for a in ("class_blind", "class_distribution")]
    for x in s["sparsities"]:
        runs += [_run("prune", c, "class_blind", x) for c in ("magnitude", "obd", "snip")]
    return runs


def plan_sensitivity(s, classes):
    runs = []
    for cls in classes:
        runs += [_run("prune", "magnitude", a, s["sparsity"], only_classes=[cls], bleu=False)
                 for a in ("class_uniform", "class_blind", "class_distribution")]
        runs.append(_run("prune", "obd", "class_blind", s["sparsity"], only_classes=[cls], bleu=False))
    return runs


def plan_max_pruned(s, classes):
    return [_run("prune", "magnitude", "class_uniform", x, only_classes=[c], bleu=False)
            for c in classes for x in s["sparsities"]]


def plan_mask_heatmaps(s):
    return [_run("prune", c, "class_blind", s["sparsity"]) for c in ("magnitude", "obd", "snip")]


def plan_sentence_bleu(s):
    return [_run("prune", c, a, s["sparsity"]) for c, a in METHODS + [("obd", "class_blind"),
                                                                    ("snip", "class_blind")]]


def plan_extreme(s):
    runs = []
    for c in ("magnitude", "random", "obd", "snip"):
        runs += [_run("prune", c, "class_blind", x) for x in s["sparsities"]]
        runs += [_run("prune", c, "class_blind", x, True) for x in s["retrain_sparsities"]]
    return runs


def plan_snip_init(s):
    return [_run("snip_train", "snip", "class_blind", s["sparsity"], init=i, snip_batches=s["batches"])
            for i in s["inits"]]


def plan_snip_batches(s):
    return [_run("snip_train", "snip", "class_blind", s["sparsity"], init=s["init"], snip_batches=b)
            for b in s["batches"]]


def plan_attention(s):
    return [_run("prune", "magnitude", "class_blind", s["sparsity"], True)]


# name: (planner, default settings, needs the weight classes)
EXPERIMENTS = {
    "headline": (plan_headline, {"sparsities": [0.8, 0.9]}, False),
    "no_retrain": (plan_no_retrain, {"sparsities": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]}, False),
    "retrain": (plan_retrain, {"sparsities": [0.5, 0.6, 0.7, 0.8, 0.9], "init": "uniform"}, False),
    "class_share": (plan_class_share, {"compare_at": 0.9, "sparsities": [0.5, 0.8]}, False),
    "sensitivity": (plan_sensitivity, {"sparsity": 0.9}, True),
    "max_pruned": (plan_max_pruned, {"sparsities": [0.3, 0.5, 0.7, 0.9]}, True),
    "mask_heatmaps": (plan_mask_heatmaps, {"sparsity": 0.8}, False),
    "sentence_bleu": (plan_sentence_bleu, {"sparsity": 0.8}, False),
    "extreme": (plan_extreme, {"sparsities": [0.9, 0.95, 0.98, 0.99, 0.995],
                               "retrain_sparsities": [0.9, 0.95, 0.98, 0.99, 0.995]}, False),
    "snip_init": (plan_snip_init, {"sparsity": 0.9, "batches": 1, "inits": [
        "uniform", "kaiming_uniform", "kaiming_normal", "xavier_uniform", "xavier_normal"]}, False),
    "snip_batches": (plan_snip_batches, {"sparsity": 0.9, "init": "kaiming_normal", "batches": [1, 4, 16]}, False),
    "attention": (plan_attention, {"sparsity": 0.9, "sentence": 0}, False),
}

# baseline.checkpoint: an already-trained dense checkpoint to prune instead of training one (one seed).
TOP_KEYS = {"src": "de", "tgt": "en", "prepare": {},
            "baseline": {"preset": "small", "model": {}, "train": {}, "checkpoint": None},
            "evaluation": {"split": "test_2016_flickr", "beam": 5, "batch_size": 64},
            "retrain": {}, "scratch": {}, "scoring": {"batches": 1, "batch_size": 64}, "experiments": {}}


def load_config(path: str | Path | None = None, preset: str | None = None) -> dict:
    """Load and validate a study config (a file, or a shipped preset)."""
    if path is not None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as e:
            raise NmtpruneError(f"{path}: cannot read study config ({e.strerror})") from None
        where = str(path)
    else:
        choose("study preset", preset or "quick", ("quick", "full"))
        text = (resources.files("nmtprune") / "presets" / f"{preset or 'quick'}.yaml").read_text()
        where = f"preset {preset or 'quick'}"
    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as e:
        raise NmtpruneError(f"{where}: not valid YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(raw, dict):
        raise NmtpruneError(f"{where}: a study config is a mapping of settings")
    cfg = copy.deepcopy(TOP_KEYS)
    for k, v in raw.items():
        if k not in TOP_KEYS:
            raise NmtpruneError(f"{where}: unknown key {k!r}; valid: {', '.join(TOP_KEYS)}")
        cfg[k] = {**cfg[k], **v} if isinstance(cfg[k], dict) and isinstance(v, dict) else v
    if not isinstance(cfg["baseline"], dict):
        raise NmtpruneError(f"{where}: baseline is a mapping (preset, model, train, checkpoint)")
    for k in cfg["baseline"]:
        if k not in TOP_KEYS["baseline"]:
            raise NmtpruneError(f"{where}: unknown key {k!r} in baseline; valid: {', '.join(TOP_KEYS['baseline'])}")
    exps = {}
    for name, settings in (raw.get("experiments") or {}).items():
        if name not in EXPERIMENTS:
            raise NmtpruneError(f"{where}: unknown experiment {name!r}; valid: {', '.join(EXPERIMENTS)}")
        defaults = EXPERIMENTS[name][1]
        for k in settings or {}:
            if k not in defaults:
                raise NmtpruneError(f"{where}: unknown key {k!r} in experiment {name!r}; "
                                    f"valid: {', '.join(defaults)}")
        exps[name] = {**defaults, **(settings or {})}
    if not exps:
        raise NmtpruneError(f"{where}: no experiments listed; valid: {', '.join(EXPERIMENTS)}")
    cfg["experiments"] = exps
    return cfg


def config_hash(obj) -> str:
    return hashlib.sha1(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:12]


def context_hash(cfg: dict) -> str:
    """Hash of everything a run's result depends on besides its own spec."""
    return config_hash({k: cfg[k] for k in ("src", "tgt", "prepare", "baseline", "evaluation", "retrain",
                                            "scratch", "scoring")})


def plan(cfg: dict, classes: list[str], seeds: int) -> list[dict]:
    """Every run of the study, deduplicated, each with its ``id`` and first ``experiment``."""
    runs: dict[str, dict] = {}
    for seed in range(seeds):
        dense = {**_run("dense"), "seed": seed, "experiment": "baseline"}
        runs[config_hash({k: v for k, v in dense.items() if k not in ("experiment", "bleu")})] = dense
        for name, settings in cfg["experiments"].items():
            planner, _, needs_classes = EXPERIMENTS[name]
            for r in (planner(settings, classes) if needs_classes else planner(settings)):
                r = {**r, "seed": seed}
                rid = config_hash({k: v for k, v in r.items() if k not in ("experiment", "bleu")})
                if rid in runs:
                    runs[rid]["bleu"] = runs[rid]["bleu"] or r["bleu"]
                else:
                    runs[rid] = {**r, "experiment": name}
    for rid, r in runs.items():
        r["id"] = rid
    # Cheap runs first so figures fill in early; training-heavy runs last.
    order = {"dense": 0, "prune": 1, "scratch": 2, "snip_train": 3}
    return sorted(runs.values(), key=lambda r: (order[r["kind"]], r["retrained"], r["seed"]))
