"""A study's configuration (YAML): validated against the experiments' defaults, and hashed.

A study config names the data, the dense baseline, how runs are evaluated and
retrained, and a grid per experiment (keys: :data:`TOP_KEYS`; experiments and
their settings: :data:`nmtprune.study.experiments.EXPERIMENTS`).
"""
from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
from importlib import resources
from pathlib import Path

import yaml

from ..errors import NmtpruneError, choose
from ..model.init import INIT_SCHEMES
from ..training.config import TrainConfig
from ..training.recipes import RECIPES
from ..training.schedules import SCHEDULES
from .experiments import EXPERIMENTS

# baseline.checkpoint: an already-trained dense checkpoint to prune instead of training one (one seed).
# scoring: OBD/SNIP score 0 for every embedding row of a token the scoring sentences lack; 2,048
# sentences contain ~75% of a 4k-piece Multi30k vocabulary (64 sentences: ~11%), so the zero-scored
# rows no longer decide the OBD/SNIP curves (the report states the share and the coverage).
TOP_KEYS = {"src": "de", "tgt": "en", "prepare": {},
            "baseline": {"preset": "small", "model": {}, "train": {}, "checkpoint": None},
            "evaluation": {"split": "test_2016_flickr", "beam": 5, "batch_size": 64},
            "retrain": {}, "scratch": {}, "scoring": {"batches": 32, "batch_size": 64}, "experiments": {}}
PRESETS = ("quick", "full")          # the shipped study configs, presets/{name}.yaml


def load_config(*, path: str | Path | None = None, preset: str | None = None) -> dict:
    """Load and validate a study config (a file, or a shipped preset)."""
    if path is not None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as e:
            raise NmtpruneError(f"{path}: cannot read study config ({e.strerror})") from None
        where = str(path)
    else:
        choose("study preset", preset or "quick", PRESETS)
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
    listed = raw.get("experiments") or {}
    if listed == "all":                      # every registered experiment at its defaults
        listed = {name: None for name in EXPERIMENTS}
    if not isinstance(listed, dict):
        raise NmtpruneError(f"{where}: experiments is a mapping (experiment: settings) or 'all'")
    exps = {}
    for name, settings in listed.items():
        if name not in EXPERIMENTS:
            raise NmtpruneError(f"{where}: unknown experiment {name!r}; valid: {', '.join(EXPERIMENTS)}")
        defaults = EXPERIMENTS[name].defaults
        for k in settings or {}:
            if k not in defaults:
                raise NmtpruneError(f"{where}: unknown key {k!r} in experiment {name!r}; "
                                    f"valid: {', '.join(defaults)}")
        exps[name] = {**defaults, **(settings or {})}
        for key in ("init", "inits"):    # checked now, before any run, not when its run starts
            if key in defaults:
                value = exps[name][key]
                for scheme in value if key == "inits" and isinstance(value, list) else [value]:
                    if not isinstance(scheme, str) or scheme not in INIT_SCHEMES:
                        raise NmtpruneError(f"{where}: unknown init {scheme!r} in experiment {name!r}; "
                                            f"valid: {', '.join(INIT_SCHEMES)}")
    for name, settings in exps.items():
        if "retraining" in settings:
            settings["retraining"] = _retraining(settings["retraining"], f"{where}: experiment {name!r}")
    if not exps:
        raise NmtpruneError(f"{where}: no experiments listed; valid: {', '.join(EXPERIMENTS)}")
    cfg["experiments"] = exps
    try:          # checks that need the registries (recipe names, schedules) fail here, before any run
        for name, settings in exps.items():
            EXPERIMENTS[name].runs(settings, [])
        if isinstance(cfg["retrain"], dict):
            choose("retrain recipe", cfg["retrain"].get("recipe", "gradual"), RECIPES)
            choose("retrain schedule", cfg["retrain"].get("schedule", "restart"), SCHEDULES)
    except NmtpruneError as e:
        raise NmtpruneError(f"{where}: {e}") from None
    return cfg


# What an experiment's ``retraining`` may set: the keys of the study's ``retrain`` section.
RETRAIN_KEYS = ("recipe", "schedule", "rounds", *(f.name for f in dataclasses.fields(TrainConfig)))


def _retraining(value, where: str) -> dict:
    """An experiment's own retraining settings, checked (a mapping of :data:`RETRAIN_KEYS`)."""
    value = value or {}
    if not isinstance(value, dict):
        raise NmtpruneError(f"{where}: retraining is a mapping of retrain settings, e.g. {{max_steps: 500}}")
    for k in value:
        if k not in RETRAIN_KEYS:
            raise NmtpruneError(f"{where}: unknown key {k!r} in retraining; valid: {', '.join(RETRAIN_KEYS)}")
    try:
        if "recipe" in value:
            choose("retrain recipe", value["recipe"], RECIPES)
        if "schedule" in value:
            choose("retrain schedule", value["schedule"], SCHEDULES)
    except NmtpruneError as e:
        raise NmtpruneError(f"{where}: {e}") from None
    return value


def config_hash(obj) -> str:
    return hashlib.sha1(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:12]


def context_hash(cfg: dict) -> str:
    """Hash of everything a run's result depends on besides its own spec."""
    return config_hash({k: cfg[k] for k in ("src", "tgt", "prepare", "baseline", "evaluation", "retrain",
                                            "scratch", "scoring")})
