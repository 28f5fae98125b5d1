"""One loader for every model file: a ``.safetensors`` checkpoint (or its run
directory) or an exported ``.nmtz``, chosen by the file's type.

It sits above both formats, so neither imports the other: a new format is one
loader function and one entry in :data:`LOADERS`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch

from .model_file import Checkpoint, load_model_file
from .nmtz import load_nmtz

# file suffix -> loader(path, device=...); anything else is a checkpoint file or a run/prune directory.
LOADERS: dict[str, Callable[..., Checkpoint]] = {".nmtz": load_nmtz}


def load_checkpoint(spec: str | Path, *, device: str | torch.device = "cpu") -> Checkpoint:
    """Load a model file (checkpoint, run directory or ``.nmtz``) onto ``device``, with its mask."""
    for suffix, loader in LOADERS.items():
        if str(spec).endswith(suffix):
            return loader(spec, device=device)
    return load_model_file(spec, device=device)
