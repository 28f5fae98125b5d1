"""The checkpoint file: a safetensors state dict whose metadata holds the config.

A checkpoint ``X.safetensors`` is a plain state dict (it loads into a plain
:class:`Seq2Seq`); its metadata holds the model config, the names of the
tokenizer files (stored next to it) and the prepared data it was trained on, both as an
absolute path and relative to the checkpoint, so a run moved or copied together with its
prepared data keeps working (the relative path is tried first).
A pruned checkpoint has its mask beside it in ``X.masks.safetensors``.
A run or prune directory stands for its ``model.safetensors``. Load any model
file (this one or an exported ``.nmtz``) with :func:`nmtprune.checkpoint.load.load_checkpoint`.
"""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from ..config import from_dict
from ..data.tokenizers import Tokenizer, load_tokenizer
from ..errors import NmtpruneError
from ..fileio import atomic_path
from ..model.config import ModelConfig
from ..model.masks import Masks, check_agreement, check_masks, load_masks
from ..model.seq2seq import Seq2Seq

FORMAT = "nmtprune/1"
MODEL_FILE = "model.safetensors"


@dataclass
class Checkpoint:
    """A loaded checkpoint: model (eval mode), optional masks, tokenizers and metadata."""
    model: Seq2Seq
    path: Path
    src_tok: Tokenizer
    tgt_tok: Tokenizer
    prep: str | None
    info: dict = field(default_factory=dict)
    masks: Masks | None = None
    tokenizer_files: dict = field(default_factory=dict)

    def prepared_dir(self, *, data: str | None = None, option: str = "--data") -> str:
        """``data`` if given, else the prepared directory this model was trained on; a one-line
        error naming ``option`` when neither is there (a run moved without its data)."""
        if data:
            return data
        if not self.prep:
            raise NmtpruneError(f"{self.path} records no prepared data; pass {option} PREPDIR")
        if not (Path(self.prep) / "prep.json").is_file():
            raise NmtpruneError(f"{self.path}: its prepared data {self.prep} is gone (moved or deleted); "
                                f"pass {option} PREPDIR")
        return self.prep


def prep_fields(prep: str | None, model_file: Path) -> dict[str, str]:
    """What a model file records of its prepared data: the absolute path and the path
    relative to the file's directory."""
    if not prep:
        return {"prep": "", "prep_rel": ""}
    absolute = Path(prep).resolve()
    return {"prep": str(absolute), "prep_rel": os.path.relpath(absolute, model_file.resolve().parent)}


def locate_prep(recorded: str | None, rel: str | None, model_file: Path) -> str | None:
    """The prepared directory of a model file: relative to the file when that is there (a
    moved run with its data), else the recorded absolute path (even if gone: callers say so)."""
    if rel:
        here = model_file.parent / rel
        if (here / "prep.json").is_file():
            return str(here.resolve())
    return recorded or None


def resolve(spec: str | Path) -> Path:
    """A checkpoint file, or the ``model.safetensors`` of a run/prune directory."""
    p = Path(spec)
    if p.is_dir():
        p = p / MODEL_FILE
    if not p.is_file():
        raise NmtpruneError(f"{spec}: no checkpoint found (expected a checkpoint file or a directory "
                            f"with {MODEL_FILE})")
    return p


def masks_path(ckpt: Path) -> Path:
    return ckpt.with_name(ckpt.name.replace(".safetensors", "") + ".masks.safetensors")


def copy_tokenizers(files: dict[str, Path], out_dir: Path) -> dict[str, str]:
    """Copy tokenizer files into ``out_dir`` (once) and return their names there."""
    names = {}
    for side, src in files.items():
        dst = out_dir / src.name
        if src.resolve() != dst.resolve():
            with atomic_path(dst) as tmp:
                shutil.copyfile(src, tmp)
        names[side] = src.name
    return names


def save_checkpoint(path: str | Path, model: Seq2Seq, tokenizers: dict[str, str], prep: str | None, *,
                    info: dict | None = None) -> Path:
    """Write ``model``'s state dict atomically with its config in the metadata."""
    path = Path(path)
    meta = {"format": FORMAT, "model_config": json.dumps(dataclasses.asdict(model.cfg)),
            "tokenizers": json.dumps(tokenizers), **prep_fields(prep, path), "info": json.dumps(info or {})}
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    with atomic_path(path) as tmp:
        save_file(state, str(tmp), metadata=meta)
    return path


def read_metadata(path: Path) -> dict:
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except (SafetensorError, OSError, ValueError) as e:
        raise NmtpruneError(f"{path}: not a readable checkpoint (truncated, or not a safetensors file: {e})") \
            from None
    if meta.get("format") != FORMAT:
        raise NmtpruneError(f"{path}: not an nmtprune checkpoint (format {meta.get('format')!r})")
    return meta


def read_weights(path: Path) -> dict[str, torch.Tensor]:
    """The state dict stored in checkpoint file ``path``."""
    try:
        with safe_open(str(path), framework="pt") as f:
            return {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, ValueError) as e:
        raise NmtpruneError(f"{path}: truncated or corrupt checkpoint ({e})") from None


def load_model_file(spec: str | Path, *, device: str | torch.device = "cpu") -> Checkpoint:
    """Load a checkpoint (file or directory) onto ``device``, with its mask if it has one."""
    path = resolve(spec)
    meta = read_metadata(path)
    cfg = from_dict(ModelConfig, json.loads(meta["model_config"]), f"{path} model config")
    model = Seq2Seq(cfg)
    state = read_weights(path)
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        raise NmtpruneError(f"{path}: weights do not match the stored config ({str(e).splitlines()[0]})") \
            from None
    model.to(device).eval()
    tok_names = json.loads(meta["tokenizers"])
    tok_files = {side: path.parent / name for side, name in tok_names.items()}
    masks = None
    mp = masks_path(path)
    if mp.is_file():
        masks = load_masks(mp)
        check_masks(model, masks, source=str(mp))
        check_agreement(model, masks, source=str(mp))
        masks = {k: v.to(device) for k, v in masks.items()}
    return Checkpoint(model, path, load_tokenizer(tok_files["src"]), load_tokenizer(tok_files["tgt"]),
                      locate_prep(meta.get("prep"), meta.get("prep_rel"), path), json.loads(meta.get("info", "{}")), masks, tok_files)
