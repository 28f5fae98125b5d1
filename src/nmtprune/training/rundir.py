"""A run directory: created once, its ``config.json`` checked before a ``--resume``.

A run directory is never overwritten: a new run refuses a directory that holds
one, and resuming checks that every setting that shapes the run is unchanged.
``config.json`` holds every resolved setting, so ``train --config`` (or
``retrain --config``) given that file replays the run (:func:`read_run_config`).
"""
from __future__ import annotations

from pathlib import Path

import yaml

from ..checkpoint.model_file import copy_tokenizers
from ..config import load_yaml
from ..errors import NmtpruneError
from ..fileio import ensure_writable_dir, read_json, write_json
from .distributed import is_main
from .state import STATE_FILE, load_training_state

# Settings that may change when resuming (extending a run); everything else must match.
_RESUMABLE = {"epochs", "max_minutes", "max_steps"}
# Settings added since a run may have started: the value such a run used (set it to resume).
_LEGACY = {"batch_multiple": 1, "lr_epochs": [], "prune_to": 0.0, "prune_start": 0.0, "prune_end": 0.5,
           "prune_every": 0, "prune_criterion": "magnitude", "prune_allocation": "class_blind",
           "distill_weight": 0.5, "distill_temperature": 1.0, "loss_norm": "tokens", "prune_granularity": "weight",
           "prune_classes": None}
# The keys of a run's config.json, by run kind; a --config file has (some of) the same keys.
RUN_KEYS = {"train": ("kind", "preset", "model", "train", "prep", "mask", "snip"),
            "retrain": ("kind", "source", "model", "train", "prep", "mask", "snip", "schedule", "teacher")}


def read_run_config(path, kind: str) -> dict:
    """The settings of ``nmtprune {kind} --config PATH``: a YAML file with (some of) the keys of
    a run's ``config.json``, that file itself, or a run directory (its ``config.json``).

    Unknown keys are errors listing the valid ones; a config of another kind of run is refused.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "config.json"
    try:
        cfg = load_yaml(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise NmtpruneError(f"{path}: cannot read the run config ({e.strerror})") from None
    except yaml.YAMLError as e:
        raise NmtpruneError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(cfg, dict):
        raise NmtpruneError(f"{path}: a run config is a mapping of settings ({', '.join(RUN_KEYS[kind])})")
    was = cfg.get("kind", kind)
    if was != kind:
        raise NmtpruneError(f"{path}: the config of a {was!r} run, not of a {kind} run"
                            + (f"; replay it with 'nmtprune {was} --config'" if was in RUN_KEYS else ""))
    for k, v in cfg.items():
        if k not in RUN_KEYS[kind]:
            raise NmtpruneError(f"unknown key {k!r} in {path}; valid: {', '.join(RUN_KEYS[kind])}")
        if k in ("model", "train", "snip") and v is not None and not isinstance(v, dict):
            raise NmtpruneError(f"{path}: {k} is a mapping of settings, got {v!r}")
    return cfg


def check_resume(rundir: Path, run_cfg: dict) -> None:
    """Raise naming the first setting of ``run_cfg`` that differs from the run in ``rundir``."""
    old = read_json(rundir / "config.json")
    for section in ("model", "train"):
        for k, v in run_cfg[section].items():
            # A setting newer than the run's config had, for that run, the behaviour of before.
            was = old.get(section, {}).get(k, _LEGACY.get(k))
            if k not in _RESUMABLE and was != v:
                raise NmtpruneError(f"--resume: {section}.{k} is {v!r} but the run in {rundir} used "
                                    f"{was!r}; use the same settings or a new --out")
    for k in ("prep", "mask", "snip"):
        if old.get(k) != run_cfg.get(k):
            raise NmtpruneError(f"--resume: {k} differs from the run in {rundir}")


def prior_state(rundir: Path, run_cfg: dict, resume: bool) -> dict | None:
    """The training state to resume from (None for a new run); refuses to overwrite a run."""
    if resume:
        if not (rundir / "config.json").is_file():
            raise NmtpruneError(f"--resume: {rundir} holds no run to resume (no config.json)")
        check_resume(rundir, run_cfg)
        return load_training_state(rundir)
    if (rundir / STATE_FILE).exists() or (rundir / "config.json").exists():
        raise NmtpruneError(f"{rundir} already holds a run; use --resume to continue it or another --out")
    return None


def start_rundir(rundir: Path, run_cfg: dict, tok_files: dict[str, Path]) -> dict[str, str]:
    """Create the run directory; rank 0 writes its config and tokenizers. Returns tokenizer names."""
    ensure_writable_dir(rundir)
    if not is_main():
        return {s: p.name for s, p in tok_files.items()}
    write_json(rundir / "config.json", run_cfg)
    return copy_tokenizers(tok_files, rundir)
