"""Validated configuration: a dataclass built from a plain dict (YAML, JSON, CLI overrides).

Unknown keys are errors that list the valid ones, so a typo in a config file or
a ``--set`` never passes silently. The dataclasses themselves live with their
stage: :class:`nmtprune.data.prepared.PrepareConfig`,
:class:`nmtprune.model.config.ModelConfig`, :class:`nmtprune.training.config.TrainConfig`.
"""
from __future__ import annotations

import dataclasses
import re

import yaml

from .errors import NmtpruneError


class _Loader(yaml.SafeLoader):
    """YAML as configs mean it: PyYAML (YAML 1.1) reads ``1e-3`` or ``1e-05`` (what ``json.dumps``
    writes for 0.00001) as a string; here it is the number, as in JSON and YAML 1.2."""


_Loader.add_implicit_resolver("tag:yaml.org,2002:float", re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
                              list("-+0123456789"))


def load_yaml(text: str):
    """Parse YAML (or JSON) config text; exponent numbers without a dot are floats."""
    return yaml.load(text, Loader=_Loader)


def from_dict(cls, d: dict, where: str):
    """Build dataclass ``cls`` from ``d``; unknown keys are errors listing the valid ones."""
    names = [f.name for f in dataclasses.fields(cls)]
    for k in d:
        if k not in names:
            raise NmtpruneError(f"unknown key {k!r} in {where}; valid: {', '.join(names)}")
    return cls(**d)
