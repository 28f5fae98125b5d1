"""Iterative magnitude pruning (Han et al. 2015; Frankle & Carbin 2019 with rewinding).

Round r of R prunes the same share of the weights still kept, so the sparsity
after round r is 1 - (1 - S)^(r/R), then retrains with the mask fixed. With
``rewind_to`` (a checkpoint of the same architecture, e.g. an early one of the
dense run) the kept weights are reset to their values there before each
retraining: the lottery-ticket procedure.
"""
from __future__ import annotations

import logging
import shutil
from pathlib import Path

from ..checkpoint.load import load_checkpoint
from ..checkpoint.model_file import MODEL_FILE, save_checkpoint
from ..errors import NmtpruneError
from ..fileio import ensure_writable_dir, log_file, read_json, write_json
from ..model.masks import apply_masks
from ..prune.checkpoints import prune
from ..prune.pruning import Pruning
from .curves import summary_writer
from .run import check_prune_to, retrain

logger = logging.getLogger(__name__)
LOG_FILE = "iterate.log"


def round_sparsities(target: float, rounds: int) -> list[float]:
    """Sparsity after each round: every round removes the same share of what is left."""
    return [1.0 - (1.0 - target) ** (r / rounds) for r in range(1, rounds + 1)]


def iterate(ckpt, out, pruning: Pruning, *, rounds: int = 3, epochs: int = 2, rewind_to: str | None = None,
            train_overrides: dict | None = None, device: str = "cpu", progress: bool = True,
            schedule: str = "restart", tensorboard: bool = False) -> dict:
    """Prune ``ckpt`` to ``pruning.sparsity`` in ``rounds`` rounds of prune + ``epochs`` epochs of
    retraining (each round ``pruning`` at that round's sparsity).

    Writes ``out/round{r}/pruned`` and ``out/round{r}/retrained`` (each with its log) and
    ``out/iterate.log``; the last retrained model is the result. Rerunning resumes after
    the last finished round (an unfinished round is redone). With ``tensorboard`` each
    retraining writes its curves (``round{r}/retrained/tensorboard``).
    Returns ``{"rounds": [...], "final": path}``.
    """
    check_prune_to(pruning.sparsity)
    if tensorboard:                # each round's retraining writes curves: fail before the first cut
        summary_writer()
    if rounds < 1:
        raise NmtpruneError(f"--rounds must be >= 1, got {rounds}")
    out = ensure_writable_dir(out)
    rewind = load_checkpoint(rewind_to) if rewind_to else None
    src, done = str(ckpt), []
    # iterate.log: the rounds, and every retraining's messages (each round's own logs have them too)
    with log_file(out / LOG_FILE, logger=__package__):
        for r, s in enumerate(round_sparsities(pruning.sparsity, rounds), 1):
            pruned, retrained = out / f"round{r}" / "pruned", out / f"round{r}" / "retrained"
            if (retrained / "summary.json").is_file():          # a rerun resumes after the finished rounds
                done.append({"round": r, "sparsity": read_json(pruned / "prune.json")["stats"]["sparsity"],
                             "best_valid_ppl": read_json(retrained / "summary.json")["best_valid_ppl"]})
                src = str(retrained)
                continue
            if retrained.exists():                               # killed mid-round: redo the round
                shutil.rmtree(out / f"round{r}")
            stats = prune(src, pruning.at(s), pruned, device=device, progress=progress)
            if rewind is not None:
                ck = load_checkpoint(pruned)
                ck.model.load_state_dict(rewind.model.state_dict())
                apply_masks(ck.model, ck.masks)
                save_checkpoint(pruned / MODEL_FILE, ck.model,
                                {k: Path(v).name for k, v in ck.tokenizer_files.items()}, ck.prep,
                                info={**ck.info, "rewound_to": str(rewind.path)})
            summary = retrain(pruned, retrained, train_overrides={"epochs": epochs, **(train_overrides or {})},
                              device=device, progress=progress, schedule=schedule, tensorboard=tensorboard)
            logger.info(f"round {r}/{rounds}: sparsity {stats['sparsity']:.4f}, "
                        f"valid ppl {summary['best_valid_ppl']:.2f}")
            done.append({"round": r, "sparsity": stats.get("unit_sparsity", stats["sparsity"]),
                         "best_valid_ppl": summary["best_valid_ppl"]})
            src = str(retrained)
    result = {"rounds": done, "final": src}
    write_json(out / "iterate.json", result)
    return result
