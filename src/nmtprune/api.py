"""Python API mirroring the CLI: prepare, train, translate, evaluate.

The CLI is a thin argparse layer over these functions.
"""
from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import torch

from .checkpoint import Checkpoint, copy_tokenizers, load_checkpoint
from .config import ModelConfig, TrainConfig, from_dict, get_preset
from .data import Corpus, Prepared, PrepareConfig, find_splits, prepare as _prepare, _read_pair
from .errors import NmtpruneError
from .fileio import atomic_write, ensure_writable_dir, read_json, write_json
from .masks import Masks, check_masks, load_masks
from .metrics import bleu_chrf, perplexity
from .model import build_model
from .perf import tune_allocator
from .distributed import barrier, init_from_env, is_main
from .training import fit, load_state
from .translation import translate_lines
from .workers import check_workers

__all__ = ["prepare", "train", "translate", "evaluate", "retrain", "resolve_device"]


def resolve_device(name: str = "cpu") -> torch.device:
    """``cpu``, ``cuda`` (error if absent) or ``auto``."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise NmtpruneError(f"--device {name}: CUDA is not available on this machine")
    if name != "cpu" and not name.startswith("cuda"):
        raise NmtpruneError(f"unknown device {name!r}; valid: cpu, cuda, auto")
    return torch.device(name)


def prepare(out, data=None, src="de", tgt="en", files=None, log=print, **settings) -> Path:
    """Prepare raw parallel text (see :class:`nmtprune.data.PrepareConfig` for settings)."""
    cfg = from_dict(PrepareConfig, {"src": src, "tgt": tgt, **settings}, "prepare settings")
    return _prepare(out, cfg, data, files, log)


def _configs(preset: str, model_overrides: dict | None, train_overrides: dict | None):
    p = get_preset(preset)
    m = from_dict(ModelConfig, {**dataclasses.asdict(p.model), **(model_overrides or {})}, "model config")
    t = from_dict(TrainConfig, {**dataclasses.asdict(p.train), **(train_overrides or {})}, "train config")
    return m, t.validate()


# Settings that may change when resuming (extending a run); everything else must match.
_RESUMABLE = {"epochs", "max_minutes", "max_steps"}
# Settings added since a run may have started: the value such a run used (set it to resume).
_LEGACY = {"batch_multiple": 1}


def _check_resume(rundir: Path, run_cfg: dict) -> None:
    old = read_json(rundir / "config.json")
    for section in ("model", "train"):
        for k, v in run_cfg[section].items():
            # A setting newer than the run's config had, for that run, the behaviour of before.
            was = old.get(section, {}).get(k, _LEGACY.get(k))
            if k not in _RESUMABLE and was != v:
                raise NmtpruneError(f"--resume: {section}.{k} is {v!r} but the run in {rundir} used "
                                    f"{was!r}; use the same settings or a new --out")
    for k in ("prep", "mask", "snip"):
        if old.get(k) != run_cfg.get(k):
            raise NmtpruneError(f"--resume: {k} differs from the run in {rundir}")


def _prior_state(rundir: Path, run_cfg: dict, resume: bool) -> dict | None:
    """The training state to resume from (None for a new run); refuses to overwrite a run."""
    if resume:
        if not (rundir / "config.json").is_file():
            raise NmtpruneError(f"--resume: {rundir} holds no run to resume (no config.json)")
        _check_resume(rundir, run_cfg)
        return load_state(rundir)
    if (rundir / "state.pt").exists() or (rundir / "config.json").exists():
        raise NmtpruneError(f"{rundir} already holds a run; use --resume to continue it or another --out")
    return None


def _start_rundir(rundir: Path, run_cfg: dict, tok_files: dict[str, Path]) -> dict[str, str]:
    """Create the run directory; rank 0 writes its config and tokenizers. Returns tokenizer names."""
    ensure_writable_dir(rundir)
    if not is_main():
        return {s: p.name for s, p in tok_files.items()}
    write_json(rundir / "config.json", run_cfg)
    return copy_tokenizers(tok_files, rundir)


def train(prep_dir, out, preset: str = "small", model_overrides: dict | None = None,
          train_overrides: dict | None = None, resume: bool = False, device: str = "cpu",
          mask: str | None = None, init: str | None = None, snip: dict | None = None,
          progress: bool = True, log=print) -> dict:
    """Train a model on a prepared directory; returns the run summary.

    Args:
        mask: a mask file: sparse training from scratch (re-initialised, mask fixed).
        init: initialisation scheme overriding the preset's.
        snip: ``{"sparsity", "batches", "batch_size"}``: SNIP-prune at initialisation, then train.
    """
    tune_allocator()
    prep = Prepared(prep_dir)
    overrides = dict(model_overrides or {})
    if init is not None:
        overrides["init"] = init
    mcfg, tcfg = _configs(preset, overrides, train_overrides)
    mcfg.src_vocab, mcfg.tgt_vocab = prep.meta["vocab_sizes"]["src"], prep.meta["vocab_sizes"]["tgt"]
    mcfg.validate()
    if mask is not None and snip is not None:
        raise NmtpruneError("--mask and --snip-sparsity cannot be combined")
    rundir = Path(out)
    run_cfg = {"kind": "train", "preset": preset, "model": dataclasses.asdict(mcfg),
               "train": dataclasses.asdict(tcfg), "prep": str(prep.path.resolve()),
               "mask": str(Path(mask).resolve()) if mask else None, "snip": snip}
    state = _prior_state(rundir, run_cfg, resume)
    dev = init_from_env(resolve_device(device))
    barrier()          # every rank has checked the run directory before rank 0 writes to it
    model = build_model(mcfg, seed=tcfg.seed)
    masks: Masks | None = None
    if mask is not None:
        masks = load_masks(mask)
        check_masks(model, masks, mask)
    train_c, valid_c = prep.load(prep.cfg.train_split), prep.load(prep.cfg.valid_split)
    if snip is not None and state is None:
        from .prune import snip_masks
        masks = snip_masks(model, train_c, snip, dev)
    elif snip is not None:
        from .checkpoint import masks_path, MODEL_FILE
        masks = load_masks(masks_path(rundir / MODEL_FILE))
    tok_files = {s: prep.path / prep.meta["tokenizers"][s] for s in ("src", "tgt")}
    tokenizers = _start_rundir(rundir, run_cfg, tok_files)
    info = {"src_lang": prep.cfg.src, "tgt_lang": prep.cfg.tgt, "preset": preset}
    summary = fit(model, train_c, valid_c, tcfg, rundir, tokenizers, str(prep.path.resolve()), masks,
                  dev, state, info, progress, log)
    if is_main():
        write_json(rundir / "summary.json", summary)
    return summary


def translate(ckpt: str | Checkpoint, lines: list[str], beam: int = 5, batch_size: int = 64,
              device: str = "cpu", workers: int = 0, **kw) -> list[str]:
    """Translate raw sentences with a checkpoint (path or loaded).

    ``workers``: decoding processes on CPU (0 = one per core; see :mod:`nmtprune.workers`).
    """
    _check_decoding(beam, workers)
    tune_allocator()
    dev = resolve_device(device)
    ck = ckpt if isinstance(ckpt, Checkpoint) else load_checkpoint(ckpt, dev)
    return translate_lines(ck.model, ck.src_tok, ck.tgt_tok, lines, beam, batch_size, dev,
                           workers=workers, **kw)


def _check_decoding(beam: int, workers: int) -> None:
    if beam < 1 or beam > 100:
        raise NmtpruneError(f"--beam must be between 1 and 100, got {beam}")
    check_workers(workers)      # before loading anything


def _eval_corpus(ck: Checkpoint, split: str, data: str | None) -> Corpus:
    if data is None:
        if not ck.prep:
            raise NmtpruneError(f"{ck.path} records no prepared data; pass --data DIR")
        return Prepared(ck.prep).load(split)
    src_lang, tgt_lang = ck.info.get("src_lang"), ck.info.get("tgt_lang")
    if not src_lang or not tgt_lang:
        raise NmtpruneError(f"{ck.path} records no language pair; cannot find files in --data {data}")
    splits = find_splits(Path(data), src_lang, tgt_lang)
    if split not in splits:
        raise NmtpruneError(f"split {split!r} not found in {data} for {src_lang}-{tgt_lang}; "
                            f"found: {', '.join(sorted(splits)) or 'none'}")
    raw_src, raw_tgt = _read_pair(*splits[split])
    src = [np.asarray(ck.src_tok.encode(s), dtype="int32") for s in raw_src]
    tgt = [np.asarray(ck.tgt_tok.encode(t), dtype="int32") for t in raw_tgt]
    return Corpus(src, tgt, split, raw_src, raw_tgt)


def evaluate(ckpt: str | Checkpoint, split: str = "test_2016_flickr", data: str | None = None,
             beam: int = 5, batch_size: int = 64, device: str = "cpu", out_dir: str | None = None,
             progress: bool = False, alpha: float = 1.0, kernels: str = "dense", workers: int = 0) -> dict:
    """Perplexity, BLEU and chrF of a checkpoint on a split; writes the hypotheses.

    Returns:
        ``{"ppl", "bleu", "chrf", "signature", "sentences", "hypotheses", ...}``.
    """
    _check_decoding(beam, workers)
    tune_allocator()
    dev = resolve_device(device)
    ck = ckpt if isinstance(ckpt, Checkpoint) else load_checkpoint(ckpt, dev)
    corpus = _eval_corpus(ck, split, data)
    if not corpus.raw_src:
        raise NmtpruneError(f"split {split!r} has no raw reference text (it is the training split?)")
    t0 = time.time()
    ppl = perplexity(ck.model, corpus, device=dev)
    hyps = translate_lines(ck.model, ck.src_tok, ck.tgt_tok, corpus.raw_src, beam, batch_size, dev,
                           progress=progress, alpha=alpha, kernels=kernels, workers=workers)
    result = {"ppl": round(ppl, 4), **bleu_chrf(hyps, corpus.raw_tgt), "sentences": len(hyps),
              "split": split, "beam": beam, "checkpoint": str(ck.path), "seconds": round(time.time() - t0, 2)}
    target_dir = Path(out_dir) if out_dir else ck.path.parent
    ensure_writable_dir(target_dir)
    hyp_path = target_dir / f"hyp.{split}.beam{beam}.txt"
    atomic_write(hyp_path, "".join(h + "\n" for h in hyps))
    result["hypotheses"] = str(hyp_path)
    atomic_write(target_dir / f"eval.{split}.beam{beam}.json", json.dumps(result, indent=2) + "\n")
    return result


def retrain_config(preset: str | None, overrides: dict | None) -> TrainConfig:
    """After See et al.: the preset's settings with a short schedule (4 epochs); SGD
    restarts at half the learning rate, as theirs did. Adam keeps the preset's rate:
    its fresh moments already make the first steps small, and on the `small` model
    a quarter of the rate recovered 4.6x slower (valid ppl 143 vs 31 after 2
    epochs at 80% class-blind). Any key can be overridden."""
    base = get_preset(preset if preset in ("tiny", "small", "paper") else "small").train
    d = dataclasses.asdict(base)
    d.update(lr=base.lr * (0.5 if base.optimizer == "sgd" else 1.0), epochs=4, max_minutes=0.0,
             early_stop=2, sgd_decay_start=1)
    d.update(overrides or {})
    return from_dict(TrainConfig, d, "retrain config").validate()


def retrain(ckpt, out, train_overrides: dict | None = None, resume: bool = False, device: str = "cpu",
            data: str | None = None, progress: bool = True, log=print) -> dict:
    """Continue training a pruned checkpoint with its mask fixed (pruned weights stay exactly 0)."""
    tune_allocator()
    dev = init_from_env(resolve_device(device))
    ck = load_checkpoint(ckpt, "cpu")
    if ck.masks is None:
        raise NmtpruneError(f"{ck.path} has no mask ({ck.path.name.replace('.safetensors', '')}"
                            ".masks.safetensors): nothing to keep fixed; prune it first with 'nmtprune prune'")
    prep_path = data or ck.prep
    if not prep_path:
        raise NmtpruneError(f"{ck.path} records no training data; pass --data PREPDIR")
    prep = Prepared(prep_path)
    tcfg = retrain_config(ck.info.get("preset"), train_overrides)
    rundir = Path(out)
    run_cfg = {"kind": "retrain", "source": str(ck.path.resolve()), "model": dataclasses.asdict(ck.model.cfg),
               "train": dataclasses.asdict(tcfg), "prep": str(prep.path.resolve()), "mask": None, "snip": None}
    state = _prior_state(rundir, run_cfg, resume)
    barrier()
    tokenizers = _start_rundir(rundir, run_cfg, ck.tokenizer_files)
    info = {**ck.info, "retrained_from": str(ck.path)}
    info.pop("epoch", None)
    summary = fit(ck.model, prep.load(prep.cfg.train_split), prep.load(prep.cfg.valid_split), tcfg, rundir,
                  tokenizers, str(prep.path.resolve()), ck.masks, dev, state, info, progress, log)
    if is_main():
        write_json(rundir / "summary.json", summary)
    return summary
