"""Masks: ``{full parameter name: bool tensor}``, True = keep.

Applied in place under ``no_grad`` -- no hooks, no ``weight_orig`` -- so a
masked model is a plain model and its checkpoint a plain state dict. During
training the gradient is masked before the optimizer step and the weights are
re-masked after it, so neither SGD nor Adam's moments can revive a pruned weight.
"""
from __future__ import annotations

from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from ..errors import NmtpruneError
from ..fileio import atomic_path

Masks = dict[str, torch.Tensor]


def check_masks(model: nn.Module, masks: Masks, *, source: str = "mask") -> None:
    """Raise naming the first mask entry that does not match a parameter of ``model``."""
    params = dict(model.named_parameters())
    for name, m in masks.items():
        if name not in params:
            raise NmtpruneError(f"{source}: {name!r} is not a parameter of this model")
        if tuple(m.shape) != tuple(params[name].shape):
            raise NmtpruneError(f"{source}: {name!r} has shape {tuple(m.shape)}, the model's parameter "
                                f"has {tuple(params[name].shape)}")
        if m.dtype != torch.bool:
            raise NmtpruneError(f"{source}: {name!r} is {m.dtype}, expected bool")


@torch.no_grad()
def check_agreement(model: nn.Module, masks: Masks, *, source: str = "mask") -> None:
    """Raise when a weight the mask removes is not exactly zero: the mask file and the weights
    beside it are not one pruned model (one was replaced, or the weights were changed later).
    Loading never applies a mask, so what is evaluated is what the file holds."""
    params = dict(model.named_parameters())
    for name, m in masks.items():
        alive = int(params[name].ne(0).logical_and(~m.to(params[name].device)).sum())
        if alive:
            raise NmtpruneError(f"{source} disagrees with its weights: {alive} weights of {name!r} it removes "
                                "are not zero (prune the checkpoint again, or delete the mask file to use it as dense)")


@torch.no_grad()
def apply_masks(model: nn.Module, masks: Masks) -> None:
    """Zero the pruned weights in place."""
    params = dict(model.named_parameters())
    for name, m in masks.items():
        p = params[name]
        p.mul_(m.to(p.device, p.dtype))


def mask_grads(model: nn.Module, masks: Masks) -> None:
    """Zero the gradients of pruned weights in place (call between backward and step)."""
    params = dict(model.named_parameters())
    for name, m in masks.items():
        g = params[name].grad
        if g is not None:
            g.mul_(m.to(g.device, g.dtype))


def save_masks(path: str | Path, masks: Masks) -> None:
    with atomic_path(path) as tmp:
        save_file({k: v.contiguous().cpu() for k, v in masks.items()}, str(tmp),
                  metadata={"nmtprune": "masks"})


def load_masks(path: str | Path) -> Masks:
    path = Path(path)
    if not path.is_file():
        raise NmtpruneError(f"{path}: mask file not found")
    try:
        masks = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise NmtpruneError(f"{path}: not a readable mask file ({e})") from None
    return {k: v.bool() for k, v in masks.items()}


def sparsity_of(masks: Masks) -> float:
    total = sum(m.numel() for m in masks.values())
    return 1.0 - sum(int(m.sum()) for m in masks.values()) / total if total else 0.0
