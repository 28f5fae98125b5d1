"""Multi-process data-parallel training on ``torch.distributed``.

``torchrun --nproc-per-node N -m nmtprune train ...`` starts N processes;
:func:`init_from_env` joins them (gloo on CPU, NCCL on CUDA). Every rank builds
the same global batch order and trains on its own share of each global batch;
DistributedDataParallel averages gradients, and the loss is scaled by the
*global* token count so one N-process step equals one single-process step on
the whole batch. Only rank 0 writes files.
"""
from __future__ import annotations

import os

import torch
import torch.distributed as dist
from torch import nn


def init_from_env(device: torch.device) -> torch.device:
    """Join the process group if launched by torchrun (WORLD_SIZE > 1); return this rank's device."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or dist.is_initialized():
        return device
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return device


def world() -> tuple[int, int]:
    """(rank, world size); (0, 1) when not distributed."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_main() -> bool:
    return world()[0] == 0


def barrier() -> None:
    if world()[1] > 1:
        dist.barrier()


def all_sum(values: list[float], device) -> list[float]:
    """Sum a few numbers over all ranks (one collective)."""
    if world()[1] == 1:
        return values
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return t.tolist()


def shard(idx: list[int]) -> tuple[list[int], float]:
    """This rank's share of a global batch, and its loss weight (0 for a padding duplicate
    when the batch has fewer sentences than ranks, so every rank still runs backward)."""
    rank, n = world()
    mine = idx[rank::n]
    return (mine, 1.0) if mine else (idx[:1], 0.0)


class LossModule(nn.Module):
    """``forward(batch) -> (loss_sum, nll_sum)``, so DDP can wrap the loss computation."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, batch, label_smoothing: float = 0.0):
        return self.model.loss(batch, label_smoothing=label_smoothing)


def wrap(model: nn.Module, device: torch.device, *, loss_module: nn.Module | None = None) -> nn.Module:
    """The object whose call computes the loss (``loss_module``, e.g. distillation, else the
    model's own loss): DDP-wrapped when distributed."""
    mod = loss_module if loss_module is not None else LossModule(model)
    if world()[1] == 1:
        return mod
    return nn.parallel.DistributedDataParallel(mod, device_ids=[device.index] if device.type == "cuda" else None)
