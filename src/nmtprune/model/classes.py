"""Weight classes (See et al. 2016): every parameter belongs to exactly one.

``src_embed``, ``tgt_embed``, ``enc_layer{i}``, ``dec_layer{i}``, ``attention``
(W_a and W_c) and ``softmax``, found from the full ``state_dict`` name.
"""
from __future__ import annotations

import re

from torch import nn


_CLASS_RULES = [
    (re.compile(r"^encoder\.embed\."), lambda m: "src_embed"),
    (re.compile(r"^decoder\.embed\."), lambda m: "tgt_embed"),
    (re.compile(r"^encoder\.lstm\.\w+_l(\d+)(_reverse)?$"), lambda m: f"enc_layer{m.group(1)}"),
    (re.compile(r"^decoder\.layers\.(\d+)\."), lambda m: f"dec_layer{m.group(1)}"),
    (re.compile(r"^decoder\.(attention|attn_out)\."), lambda m: "attention"),
    (re.compile(r"^decoder\.out\."), lambda m: "softmax"),
]


def weight_class(name: str) -> str:
    """See et al.'s weight class of a full parameter name."""
    for pattern, cls in _CLASS_RULES:
        m = pattern.match(name)
        if m:
            return cls(m)
    raise KeyError(f"parameter {name!r} belongs to no weight class")


def weight_classes(model: nn.Module) -> dict[str, list[str]]:
    """``{class: [full parameter names]}``; every parameter is in exactly one class."""
    out: dict[str, list[str]] = {}
    for name, _ in model.named_parameters():
        out.setdefault(weight_class(name), []).append(name)
    return out
