"""``nmtprune export``: write a checkpoint as one ``.nmtz`` file; its size per weight class.

A checkpoint whose mask removes whole hidden units is written as the smaller dense model
(:func:`nmtprune.model.units.shrink`): smaller matrices, no mask for those units.

The format itself (tensor encodings, header, checksum) is :mod:`nmtprune.checkpoint.nmtz`.
"""
from __future__ import annotations

import json
import lzma
from pathlib import Path

from ..errors import choose
from ..model.classes import weight_class
from ..model.masks import Masks
from ..model.seq2seq import Seq2Seq
from ..model.units import removed_unit_keep, shrink
from .load import load_checkpoint
from .model_file import prep_fields
from .nmtz import VALUES, encode_tensor, format_version, write_nmtz


def _count(per_class: dict[str, dict], name: str, w, blobs: dict[str, bytes]) -> None:
    """Add one tensor's dense fp32 bytes and exported bytes to its weight class."""
    c = per_class.setdefault(weight_class(name), {"dense_bytes": 0, "export_bytes": 0})
    c["dense_bytes"] += w.numel() * 4
    c["export_bytes"] += sum(len(b) for b in blobs.values())


def export_sizes(model: Seq2Seq, masks: Masks | None, *, values: str = "fp32") -> dict[str, dict]:
    """Dense fp32 bytes and exported bytes per weight class, without writing a file."""
    per_class: dict[str, dict] = {}
    for name, w in model.state_dict().items():
        _, blobs = encode_tensor(w, (masks or {}).get(name), values)
        _count(per_class, name, w, blobs)
    return per_class


def without_removed_units(model: Seq2Seq, masks: Masks | None) -> tuple[Seq2Seq, Masks | None]:
    """The smaller dense model when ``masks`` remove whole hidden units (``--granularity unit``),
    with the masks left inside the kept units; else ``model`` and ``masks`` as they are."""
    keep = removed_unit_keep(model, masks)
    return (model, masks) if keep is None else shrink(model, keep, masks=masks)


def export(ckpt, out, *, values: str = "fp32") -> dict:
    """Write ``out`` (.nmtz) from a checkpoint; returns sizes per class and in total."""
    choose("--values", values, VALUES)
    ck = load_checkpoint(ckpt)
    model, masks = without_removed_units(ck.model, ck.masks)
    masks = masks or {}
    header = {"format_version": format_version(values), "model_config": json.loads(json.dumps(model.cfg.__dict__)),
              "info": ck.info, **prep_fields(ck.prep, Path(out)), "values": values, "tensors": {}, "tokenizers": {}}
    payload = bytearray()

    def put(data: bytes) -> list[int]:
        payload.extend(data)
        return [len(payload) - len(data), len(data)]

    per_class: dict[str, dict] = {}
    for name, w in model.state_dict().items():
        entry, blobs = encode_tensor(w, masks.get(name), values)
        entry["blobs"] = {k: put(b) for k, b in blobs.items()}
        header["tensors"][name] = entry
        _count(per_class, name, w, blobs)
    if header["format_version"] >= 3:          # one stream: the two files share most of their bytes
        joint = b""
        for side, path in ck.tokenizer_files.items():
            data = path.read_bytes()
            header["tokenizers"][side] = {"name": path.name, "part": [len(joint), len(data)]}
            joint += data
        header["tokenizers_blob"] = put(lzma.compress(joint, preset=9))
    else:
        for side, path in ck.tokenizer_files.items():
            header["tokenizers"][side] = {"name": path.name, "blob": put(lzma.compress(path.read_bytes()))}
    write_nmtz(out, header, bytes(payload))
    dense = sum(w.numel() * 4 for w in ck.model.state_dict().values())   # the model as given, in fp32
    size = Path(out).stat().st_size
    return {"file": str(out), "values": values, "bytes": size, "dense_bytes": dense, "ratio": size / dense,
            "has_mask": bool(masks), "classes": per_class,
            "parameters": sum(w.numel() for w in model.state_dict().values()),
            "parameters_before": sum(w.numel() for w in ck.model.state_dict().values())}
