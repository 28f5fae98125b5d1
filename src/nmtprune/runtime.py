"""Where and how computation runs: the device, and the CPU allocator.

:func:`resolve_device` turns a ``--device`` name into a ``torch.device``.
:func:`tune_allocator` is a process-level speed setting: glibc serves large
allocations (the (tokens x vocab) softmax buffers) with fresh ``mmap`` pages
and returns them on free, so every training step pays page faults to zero
~100 MB again (measured: ~25% of a step's time on the ``small`` model).
Keeping freed memory in the heap removes that cost. It changes the whole process, so
only applications opt in: the `nmtprune` command line and the benchmark scripts call it;
`import nmtprune` and the API never do (a library user may call it too).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import sys

import torch

from .errors import NmtpruneError

_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4
_done = False


def tune_allocator() -> bool:
    """Ask glibc to keep large freed blocks (no mmap per allocation). Safe no-op elsewhere."""
    global _done
    if _done or not sys.platform.startswith("linux"):
        return _done
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        ok = libc.mallopt(_M_MMAP_MAX, 0) == 1
        ok = libc.mallopt(_M_TRIM_THRESHOLD, 1 << 30) == 1 and ok
    except (OSError, AttributeError):
        return False
    _done = ok
    return ok


def resolve_device(name: str) -> torch.device:
    """``cpu``, ``cuda`` (error if absent) or ``auto``."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise NmtpruneError(f"--device {name}: CUDA is not available on this machine")
    if name != "cpu" and not name.startswith("cuda"):
        raise NmtpruneError(f"unknown device {name!r}; valid: cpu, cuda, auto")
    return torch.device(name)


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` runs bfloat16 products natively: a CUDA device that supports them, or
    a CPU with AVX512-BF16 or AMX (elsewhere bf16 autocast emulates them, slower than fp32)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type != "cpu":
        return False
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")   # torch.cpu's own probes
    return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in checks)


def resolve_precision(precision: str, device: torch.device) -> str:
    """``auto``: ``bf16`` where :func:`native_bf16`, else ``fp32``; any other value as it is."""
    if precision != "auto":
        return precision
    return "bf16" if native_bf16(device) else "fp32"
