"""Evaluate a loaded checkpoint on a split: perplexity, BLEU, chrF; hypotheses written beside it."""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch

from ..checkpoint.model_file import Checkpoint
from ..data.corpus import Corpus, find_splits, read_pair
from ..data.prepared import Prepared
from ..data.resolve import resolve_data
from ..errors import NmtpruneError
from ..fileio import atomic_write, ensure_writable_dir
from .metrics import bleu_chrf, perplexity
from .shortlist import Shortlist
from .translation import translate_lines


def eval_corpus(ck: Checkpoint, split: str, data: str | None) -> Corpus:
    """``split`` of the checkpoint's prepared data, or of raw directory ``data`` tokenized
    with the checkpoint's own tokenizers."""
    if data is None:
        return Prepared(ck.prepared_dir(option="--data")).load(split)
    src_lang, tgt_lang = ck.info.get("src_lang"), ck.info.get("tgt_lang")
    if not src_lang or not tgt_lang:
        raise NmtpruneError(f"{ck.path} records no language pair; cannot find files in --data {data}")
    splits = find_splits(resolve_data(data, langs=(src_lang, tgt_lang)), src_lang, tgt_lang)
    if split not in splits:
        raise NmtpruneError(f"split {split!r} not found in {data} for {src_lang}-{tgt_lang}; "
                            f"found: {', '.join(sorted(splits)) or 'none'}")
    raw_src, raw_tgt = read_pair(*splits[split])
    src = [np.asarray(ck.src_tok.encode(s), dtype="int32") for s in raw_src]
    tgt = [np.asarray(ck.tgt_tok.encode(t), dtype="int32") for t in raw_tgt]
    return Corpus(src, tgt, split, raw_src, raw_tgt)


def evaluate_checkpoint(ck: Checkpoint, split: str, data: str | None, beam: int, batch_size: int,
                        device: torch.device, *, out_dir: str | None = None, progress: bool = False,
                        alpha: float = 1.0, kernels: str = "dense", workers: int = 0,
                        return_hyps: bool = False, shortlist: Shortlist | None = None) -> dict:
    """Perplexity, BLEU and chrF of ``ck`` on ``split``; writes the hypotheses and the JSON.

    Perplexity is per target subword piece (EOS included) and always computed in fp32
    (``ppl_precision``), whatever ``kernels`` decodes the translations.

    Returns:
        ``{"ppl", "bleu", "chrf", "signature", "sentences", "hypotheses", ...}``, and with
        ``return_hyps`` the translations as decoding returned them (``hyps``, a list: re-reading
        the file with ``str.splitlines`` would also split on \x0b, \x1c, \u2028, ...).
    """
    corpus = eval_corpus(ck, split, data)
    if not corpus.raw_src:
        raise NmtpruneError(f"split {split!r} has no raw reference text (it is the training split?)")
    t0 = time.time()
    ppl = perplexity(ck.model, corpus, device=device)
    hyps = translate_lines(ck.model, ck.src_tok, ck.tgt_tok, corpus.raw_src, beam=beam, batch_size=batch_size,
                           device=device, progress=progress, alpha=alpha, kernels=kernels, workers=workers,
                           shortlist=shortlist)
    result = {"ppl": round(ppl, 4),
              # Perplexity is always the fp32 teacher-forced one, whatever kernels decode.
              "ppl_precision": "fp32", "kernels": kernels, "shortlist": shortlist is not None,
              **bleu_chrf(hyps, corpus.raw_tgt), "sentences": len(hyps),
              "split": split, "beam": beam, "checkpoint": str(ck.path), "seconds": round(time.time() - t0, 2)}
    target_dir = Path(out_dir) if out_dir else ck.path.parent
    ensure_writable_dir(target_dir)
    hyp_path = target_dir / f"hyp.{split}.beam{beam}.txt"
    atomic_write(hyp_path, "".join(h + "\n" for h in hyps))
    result["hypotheses"] = str(hyp_path)
    atomic_write(target_dir / f"eval.{split}.beam{beam}.json", json.dumps(result, indent=2) + "\n")
    return {**result, "hyps": hyps} if return_hyps else result
