"""Initialisation schemes: a registry of functions, one per ``--init`` name.

``uniform``: U(-r, r) everywhere (Luong et al.). ``xavier_*``/``kaiming_*``:
matrices by that rule (fan_in = input columns), biases zero. ``default``: each
module's own ``reset_parameters`` (PyTorch defaults). A new scheme is one
function and one entry in :data:`INIT_SCHEMES`.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from ..errors import choose


def _uniform(model: nn.Module, init_range: float) -> None:
    for p in model.parameters():
        nn.init.uniform_(p, -init_range, init_range)


def _matrices(rule: Callable[[torch.Tensor], object]) -> Callable[[nn.Module, float], None]:
    """A scheme that fills every matrix by ``rule`` and zeroes vectors (biases)."""
    def init(model: nn.Module, init_range: float) -> None:
        for p in model.parameters():
            if p.dim() < 2:
                nn.init.zeros_(p)
            else:
                rule(p)
    return init


def _default(model: nn.Module, init_range: float) -> None:
    for m in model.modules():
        if m is not model and hasattr(m, "reset_parameters"):
            m.reset_parameters()


INIT_SCHEMES: dict[str, Callable[[nn.Module, float], None]] = {
    "uniform": _uniform,
    "xavier_uniform": _matrices(nn.init.xavier_uniform_),
    "xavier_normal": _matrices(nn.init.xavier_normal_),
    "kaiming_uniform": _matrices(lambda p: nn.init.kaiming_uniform_(p, nonlinearity="relu")),
    "kaiming_normal": _matrices(lambda p: nn.init.kaiming_normal_(p, nonlinearity="relu")),
    "default": _default,
}


@torch.no_grad()
def initialize(model: nn.Module, scheme: str, *, init_range: float = 0.1) -> None:
    """Re-initialise every parameter of ``model`` in place by ``scheme`` (see :data:`INIT_SCHEMES`)."""
    choose("init", scheme, INIT_SCHEMES)
    INIT_SCHEMES[scheme](model, init_range)
