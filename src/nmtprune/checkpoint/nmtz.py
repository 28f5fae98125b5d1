"""The ``.nmtz`` format: one self-contained file for a (pruned) model that is really small.

Layout: ``b"NMTZ"``, format version (u16), header length (u64), a JSON header
(config, tokenizers, and per tensor: shape, encoding, dtype, blob offsets),
the blobs, then the SHA-256 of everything before it. A pruned tensor is stored
as a packed bitmask (np.packbits, then LZMA: a mask at 80% sparsity carries
~0.72 bits of information per weight, not 1) plus its kept values in row-major
order; values are fp32 (lossless), fp16, int8 with one fp32 scale per row, or
int4 (two per byte, low nibble first, levels -7..7) with one fp16 scale per row.

Versions: files with int4 values are format version 3, all others stay version 1
(an older reader refuses a newer file with "upgrade nmtprune"). In version 3 a
matrix's packed levels and its scales are LZMA-compressed where that is shorter
(its entry's ``lzma`` lists those blobs; at 4 bits a weight the levels carry
~3.4 bits), vectors (biases) are fp16 (fp32 biases would be a twentieth of
such a file), and the two tokenizer files are one LZMA stream
(``tokenizers_blob``; each side's ``part`` is its offset and length in it),
since SentencePiece models of one corpus share most of their bytes (the
normalization table). Version 2 (int4 levels and scales stored raw, fp32
biases, each tokenizer compressed alone) is still read.
"""
from __future__ import annotations

import hashlib
import json
import lzma
import shutil
import struct
import tempfile
import weakref
from pathlib import Path

import numpy as np
import torch

from ..config import from_dict
from ..data.tokenizers import load_tokenizer
from ..errors import NmtpruneError
from ..fileio import atomic_write
from ..model.config import ModelConfig
from ..model.seq2seq import Seq2Seq
from .model_file import Checkpoint, locate_prep

MAGIC = b"NMTZ"
VERSION = 3                  # the newest this code reads and writes (3: int4, compressed; 2: int4)
VALUES = ("fp32", "fp16", "int8", "int4")
_NP = {"fp32": np.float32, "fp16": np.float16}
# Quantized values: (largest level, the scales' dtype). int4 keeps its scales in fp16 (at 4 bits a
# value, fp32 scales would be a tenth of a unit-pruned model's file); int8's stay fp32 (version 1).
_LEVELS = {"int8": (127, np.float32), "int4": (7, np.float16)}
_RAW = [{"id": lzma.FILTER_LZMA2, "preset": 9}]        # raw LZMA2 for int4 levels and scales (version 3)


def format_version(values: str) -> int:
    """The format version written for ``values`` (old readers keep reading the rest)."""
    return 3 if values == "int4" else 1


def _encode_values(v: np.ndarray, rows: np.ndarray | None, n_rows: int, values: str) -> dict[str, bytes]:
    """Kept values (1-D, row-major) -> blobs; int8/int4 get per-row scales (rows = row id of each value)."""
    if values in _NP:
        return {"values": v.astype(_NP[values]).tobytes()}
    top, dtype = _LEVELS[values]
    amax = np.zeros(n_rows, np.float32)
    if v.size:
        np.maximum.at(amax, rows, np.abs(v))
    # quantize against the scale as stored (fp16-rounded for int4), so decoding is exact to the level
    scale = np.where(amax > 0, amax / top, 1.0).astype(dtype).astype(np.float32)
    q = np.clip(np.rint(v / scale[rows]), -top, top).astype(np.int8)
    if values == "int4":
        u = np.append(q + 8, 8).astype(np.uint8) if q.size % 2 else (q + 8).astype(np.uint8)
        return {"values": (u[0::2] | (u[1::2] << 4)).tobytes(), "scales": scale.astype(dtype).tobytes()}
    return {"values": q.tobytes(), "scales": scale.tobytes()}


def _decode_levels(entry: dict, blob, count: int, n_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Quantized values: (levels as float32, per-row scales as float32)."""
    _, dtype = _LEVELS[entry["values"]]
    if entry["values"] == "int4":
        packed = np.frombuffer(blob("values"), np.uint8)
        u = np.empty(packed.size * 2, np.uint8)
        u[0::2], u[1::2] = packed & 0xF, packed >> 4
        q = u[:count].astype(np.float32) - 8
    else:
        q = np.frombuffer(blob("values"), np.int8, count=count).astype(np.float32)
    return q, np.frombuffer(blob("scales"), dtype, count=n_rows).astype(np.float32)


def encode_tensor(w: torch.Tensor, mask: torch.Tensor | None, values: str) -> tuple[dict, dict[str, bytes]]:
    """One tensor -> (header entry without offsets, blobs)."""
    arr = w.detach().cpu().float().numpy()
    shape = list(arr.shape)
    # vectors (biases) are tiny: fp32, or fp16 beside 4-bit matrices
    quantize = values if arr.ndim >= 2 else ("fp16" if values == "int4" else "fp32")
    n_rows = shape[0] if arr.ndim >= 2 else 1
    flat = arr.reshape(n_rows, -1)
    if mask is None:
        rows = np.repeat(np.arange(n_rows), flat.shape[1])
        return _compressed({"shape": shape, "encoding": "dense", "values": quantize},
                           _encode_values(flat.reshape(-1), rows, n_rows, quantize))
    m = mask.cpu().numpy().reshape(n_rows, -1)
    rows = np.nonzero(m)[0]
    blobs = _encode_values(flat[m], rows, n_rows, quantize)
    blobs["mask"] = lzma.compress(np.packbits(m.reshape(-1)).tobytes(), preset=6)
    return _compressed({"shape": shape, "encoding": "bitmask", "values": quantize}, blobs)


def _compressed(entry: dict, blobs: dict[str, bytes]) -> tuple[dict, dict[str, bytes]]:
    """Version 3 (int4 files): levels and scales LZMA-compressed where that is shorter (raw LZMA2:
    no container bytes); ``entry["lzma"]`` names them."""
    if entry["values"] == "int4":
        for k in ("values", "scales"):
            packed = lzma.compress(blobs[k], format=lzma.FORMAT_RAW, filters=_RAW)
            if len(packed) < len(blobs[k]):
                blobs[k] = packed
                entry.setdefault("lzma", []).append(k)
    return entry, blobs


def decode_tensor(entry: dict, blob) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(weights, mask or None) from a header entry and ``blob(name) -> bytes``."""
    if entry.get("lzma"):
        raw, packed = blob, set(entry["lzma"])

        def blob(k: str) -> bytes:
            data = raw(k)
            return lzma.decompress(data, format=lzma.FORMAT_RAW, filters=_RAW) if k in packed else data
    shape = entry["shape"]
    n = int(np.prod(shape))
    n_rows = shape[0] if len(shape) >= 2 else 1
    mask = None
    if entry["encoding"] == "bitmask":
        mask = np.unpackbits(np.frombuffer(lzma.decompress(blob("mask")), np.uint8), count=n).astype(bool)
    count = n if mask is None else int(mask.sum())
    if entry["values"] in _LEVELS:
        q, scale = _decode_levels(entry, blob, count, n_rows)
        rows = np.nonzero(mask.reshape(n_rows, -1))[0] if mask is not None else np.repeat(np.arange(n_rows), n // n_rows)
        vals = q * scale[rows]
    else:
        vals = np.frombuffer(blob("values"), _NP[entry["values"]], count=count).astype(np.float32)
    out = np.zeros(n, np.float32)
    if mask is None:
        out[:] = vals
    else:
        out[mask] = vals
    t = torch.from_numpy(out.reshape(shape))
    return t, (torch.from_numpy(mask.reshape(shape)) if mask is not None else None)


def write_nmtz(path, header: dict, payload: bytes) -> None:
    """Write the file atomically: magic, version (the header's ``format_version``), header length,
    JSON header, blobs, SHA-256."""
    head = json.dumps(header).encode()
    body = MAGIC + struct.pack("<HQ", header["format_version"], len(head)) + head + payload
    atomic_write(path, body + hashlib.sha256(body).digest())


def read_nmtz(path) -> tuple[dict, bytes]:
    """The header and the blobs of an ``.nmtz`` file, after checking magic, version and checksum."""
    path = Path(path)
    if not path.is_file():
        raise NmtpruneError(f"{path}: no such file")
    raw = path.read_bytes()
    if raw[:4] != MAGIC:
        raise NmtpruneError(f"{path}: not an .nmtz file")
    if len(raw) < 46:
        raise NmtpruneError(f"{path}: truncated .nmtz file")
    version, hlen = struct.unpack("<HQ", raw[4:14])
    if version > VERSION:
        raise NmtpruneError(f"{path}: .nmtz format version {version} is newer than this nmtprune reads "
                            f"(up to {VERSION}); upgrade nmtprune")
    if hashlib.sha256(raw[:-32]).digest() != raw[-32:]:
        raise NmtpruneError(f"{path}: checksum mismatch: the file is corrupted or truncated")
    header = json.loads(raw[14:14 + hlen])
    return header, raw[14 + hlen:-32]


def load_nmtz(path, *, device="cpu") -> Checkpoint:
    """Load an exported model as a :class:`Checkpoint` (weights dense in memory, masks restored)."""
    header, payload = read_nmtz(path)
    cfg = from_dict(ModelConfig, header["model_config"], f"{path} model config")
    try:
        model = Seq2Seq(cfg)
    except NmtpruneError as e:
        raise NmtpruneError(f"{path}: {e}") from None
    state, masks = {}, {}
    for name, entry in header["tensors"].items():
        t, m = decode_tensor(entry, lambda k, e=entry: payload[e["blobs"][k][0]:sum(e["blobs"][k])])
        state[name] = t
        if m is not None:
            masks[name] = m
    try:
        model.load_state_dict(state)
    except RuntimeError as e:        # e.g. a unit-pruned file whose config was edited: sizes differ
        raise NmtpruneError(f"{path}: its header's model config disagrees with its matrices "
                            f"({str(e).splitlines()[1].strip() if len(str(e).splitlines()) > 1 else e})") from None
    model.to(device).eval()
    tmp = Path(tempfile.mkdtemp(prefix="nmtz-"))
    files, toks = {}, {}
    joint = header.get("tokenizers_blob")          # version 3: both files in one LZMA stream
    joint = lzma.decompress(payload[joint[0]:sum(joint)]) if joint else None
    for side, t in header["tokenizers"].items():
        data = joint[t["part"][0]:sum(t["part"])] if joint is not None else \
            lzma.decompress(payload[t["blob"][0]:sum(t["blob"])])
        files[side] = tmp / t["name"]
        files[side].write_bytes(data)
        # The one loader, which knows every tokenizer file kind by its name (SentencePiece,
        # word level, a --joint model's per-side .side.npz).
        toks[side] = load_tokenizer(files[side])
    ck = Checkpoint(model, Path(path), toks["src"], toks["tgt"], locate_prep(header.get("prep"), header.get("prep_rel"), Path(path)), header.get("info", {}),
                    {k: v.to(device) for k, v in masks.items()} or None, files)
    # The tokenizer files exist only so a loaded .nmtz can be re-saved (prune, retrain);
    # they go away with the checkpoint object (or at exit) instead of piling up in /tmp.
    weakref.finalize(ck, shutil.rmtree, tmp, True)
    return ck
