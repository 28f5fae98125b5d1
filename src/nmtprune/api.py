"""Python API mirroring the CLI: prepare, train, translate, evaluate, retrain.

The CLI is a thin argparse layer over these functions; each is a thin layer
over its stage (``data``, ``training``, ``decode``), which do the work.
"""
from __future__ import annotations

from pathlib import Path

from .checkpoint.load import load_checkpoint
from .checkpoint.model_file import Checkpoint
from .config import from_dict
from .data.prepare import prepare as _prepare
from .data.prepared import PrepareConfig
from .decode.evaluate import evaluate_checkpoint
from .decode.translation import check_decoding, translate_lines
from .runtime import resolve_device
from .training.run import retrain, train

__all__ = ["prepare", "train", "translate", "evaluate", "retrain"]


def prepare(out, *, data=None, src="de", tgt="en", files=None, progress: bool = False, **settings) -> Path:
    """Prepare raw parallel text (see :class:`nmtprune.data.prepared.PrepareConfig` for settings).

    ``progress``: bars (on stderr) while the tokenizers train and the splits are tokenized.
    """
    cfg = from_dict(PrepareConfig, {"src": src, "tgt": tgt, **settings}, "prepare settings")
    return _prepare(out, cfg, data_dir=data, files=files, progress=progress)


def translate(ckpt: str | Checkpoint, lines: list[str], *, beam: int = 5, batch_size: int = 64,
              device: str = "cpu", workers: int = 0, progress: bool = False, shortlist: bool = False,
              **kw) -> list[str]:
    """Translate raw sentences with a checkpoint (path or loaded).

    ``workers``: decoding processes on CPU (0 = one per core; see :mod:`nmtprune.decode.workers`).
    ``shortlist``: score only each batch's shortlisted target words (:mod:`nmtprune.decode.shortlist`).
    ``progress``: a bar (on stderr) over the sentences decoded.
    """
    check_decoding(beam, workers)
    dev = resolve_device(device)
    ck = ckpt if isinstance(ckpt, Checkpoint) else load_checkpoint(ckpt, device=dev)
    return translate_lines(ck.model, ck.src_tok, ck.tgt_tok, lines, beam=beam, batch_size=batch_size, device=dev,
                           workers=workers, progress=progress, shortlist=_shortlist(ck, shortlist), **kw)


def evaluate(ckpt: str | Checkpoint, *, split: str = "test_2016_flickr", data: str | None = None,
             beam: int = 5, batch_size: int = 64, device: str = "cpu", out_dir: str | None = None,
             progress: bool = False, alpha: float = 1.0, kernels: str = "dense", workers: int = 0,
             shortlist: bool = False) -> dict:
    """Perplexity, BLEU and chrF of a checkpoint on a split; writes the hypotheses.

    Returns:
        ``{"ppl", "bleu", "chrf", "signature", "sentences", "hypotheses", ...}``.
    """
    check_decoding(beam, workers)
    dev = resolve_device(device)
    ck = ckpt if isinstance(ckpt, Checkpoint) else load_checkpoint(ckpt, device=dev)
    return evaluate_checkpoint(ck, split, data, beam, batch_size, dev, out_dir=out_dir, progress=progress,
                               alpha=alpha, kernels=kernels, workers=workers, shortlist=_shortlist(ck, shortlist))


def _shortlist(ck: Checkpoint, wanted: bool):
    """The model's shortlist (from its prepared training data) where ``wanted``, else None."""
    from .decode.shortlist import checkpoint_shortlist
    return checkpoint_shortlist(ck) if wanted else None
