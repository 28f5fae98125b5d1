"""Retraining schedules: which learning rate each retraining epoch uses.

After Renda, Frankle & Carbin (2020): *fine-tuning* continues at the dense
run's final learning rate; *learning-rate rewinding* replays the dense run's
own per-epoch schedule from ``epochs`` before its end, so the pruned model
gets the large early rates that move it back into a good region before the
rates decay again. *replay* plays the dense run's whole schedule, compressed
to the retraining's epochs (rewinding to the start of training when fewer
epochs are spent than the dense run took): large rates while the model
relearns, the dense run's final rates at its end. *restart* is the preset's
learning rate with the usual plateau decay (See et al. restarted SGD at half
the rate). The dense run's
schedule is read from its ``log.csv``, found by following the checkpoint's
provenance (retrained from -> pruned from -> trained).
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

from ..checkpoint.model_file import read_metadata, resolve
from ..errors import NmtpruneError
from ..fileio import read_json

# restart is the default: on `small` it beat replay and rewind on the validation split at 80% and 90%
# (benchmarks/results/recovery.json).
SCHEDULES = ("restart", "finetune", "rewind", "replay")


def dense_lrs(path: Path, info: dict) -> list[float]:
    """Per-epoch learning rates of the training run the checkpoint at ``path`` descends from."""
    d = path.parent
    for _ in range(8):
        cfg = d / "config.json"
        if cfg.is_file() and read_json(cfg).get("kind") == "train" and (d / "log.csv").is_file():
            with open(d / "log.csv", newline="") as f:
                lrs = [float(r["lr"]) for r in csv.DictReader(f) if r.get("lr")]
            if lrs:
                return lrs
        src = info.get("retrained_from") or (info.get("prune") or {}).get("source")
        if not src:
            break
        p = resolve(src)
        info, d = json.loads(read_metadata(p).get("info", "{}")), p.parent
    raise NmtpruneError(f"{path}: cannot find the log.csv of the dense training run it comes from "
                        "(needed by --schedule finetune/rewind/replay); use --schedule restart or --set lr_epochs=[...]")


def schedule_lrs(name: str, epochs: int, history: list[float]) -> list[float]:
    """``lr_epochs`` for a retraining of ``epochs`` epochs under schedule ``name``."""
    if name == "finetune":
        return [history[-1]]
    if name == "replay":
        return [history[min(len(history) - 1, e * len(history) // epochs)] for e in range(epochs)]
    if name == "rewind":
        tail = history[-epochs:] if epochs <= len(history) else history
        return [history[0]] * max(0, epochs - len(history)) + tail
    return []
