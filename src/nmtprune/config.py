"""Validated configuration: a dataclass built from a plain dict (YAML, JSON, CLI overrides).

Unknown keys are errors that list the valid ones, so a typo in a config file or
a ``--set`` never passes silently. The dataclasses themselves live with their
stage: :class:`nmtprune.data.prepared.PrepareConfig`,
:class:`nmtprune.model.config.ModelConfig`, :class:`nmtprune.training.config.TrainConfig`.
"""
from __future__ import annotations

import dataclasses

from .errors import NmtpruneError


def from_dict(cls, d: dict, where: str):
    """Build dataclass ``cls`` from ``d``; unknown keys are errors listing the valid ones."""
    names = [f.name for f in dataclasses.fields(cls)]
    for k in d:
        if k not in names:
            raise NmtpruneError(f"unknown key {k!r} in {where}; valid: {', '.join(names)}")
    return cls(**d)
