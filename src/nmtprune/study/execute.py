"""Running one planned run of the study: a registry of run kinds, each a function.

``dense`` evaluates the baseline, ``prune`` prunes it (and retrains when the
spec says so), ``scratch`` trains from a fresh initialisation (its own seed)
with a mask found on the baseline, ``rewind`` trains with that mask from the
baseline's own initial weights (Frankle & Carbin's lottery ticket),
``snip_train`` SNIP-prunes at initialisation and trains. Every kind returns the
run's metrics (sparsity per class, perplexity, BLEU when asked; optimizer
steps for the kinds that train).
"""
from __future__ import annotations

import dataclasses
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..checkpoint.load import load_checkpoint
from ..checkpoint.model_file import MODEL_FILE
from ..data.prepared import Prepared
from ..decode.evaluate import evaluate_checkpoint
from ..decode.metrics import perplexity, sentence_bleu
from ..decode.translation import check_decoding
from ..errors import NmtpruneError, choose
from ..fileio import read_json, write_json
from ..model.masks import save_masks
from ..prune import Pruning, compute_masks, inspect, prune
from ..prune.checkpoints import scoring_data
from ..runtime import resolve_device
from ..training.logs import console_muted
from ..training.recipes import RECIPES, split_settings
from ..training.run import retrain, train
from ..training.schedules import dense_run


def evaluate_run(ckpt_dir: Path, cfg: dict, spec: dict, device: str) -> dict:
    """Sparsity per class, perplexity, and (when ``spec["bleu"]``) BLEU/chrF and sentence BLEU."""
    ev = cfg["evaluation"]
    ck = load_checkpoint(ckpt_dir, device=device)
    metrics = inspect(ckpt_dir, sizes=False)
    metrics = {"sparsity": metrics["sparsity"], "classes": metrics["classes"],
               **{k: metrics[k] for k in ("vocab_coverage",) if k in metrics}}
    if spec["bleu"]:
        check_decoding(ev["beam"], 0)
        r = evaluate_checkpoint(ck, ev["split"], None, ev["beam"], ev["batch_size"], resolve_device(device),
                                out_dir=str(ckpt_dir), return_hyps=True)
        refs = Prepared(ck.prep).load(ev["split"]).raw_tgt
        sb = sentence_bleu(r["hyps"], refs)
        write_json(ckpt_dir / "sentence_bleu.json", sb)
        metrics.update({k: r[k] for k in ("ppl", "bleu", "chrf", "signature", "sentences")})
    else:
        metrics["ppl"] = perplexity(ck.model, Prepared(ck.prep).load(ev["split"]), device=device)
    return metrics


def baseline_steps(baseline: Path) -> int:
    """The optimizer steps the dense baseline trained (its ``summary.json``, or that of the run
    a given ``baseline.checkpoint`` came from)."""
    summary = read_json(baseline / "summary.json")
    if "steps" not in summary and summary.get("from_checkpoint"):
        src = Path(summary["from_checkpoint"])
        src = src if src.is_dir() else src.parent
        if (src / "summary.json").is_file():
            summary = read_json(src / "summary.json")
    if not isinstance(summary.get("steps"), int):
        raise NmtpruneError(f"{baseline}: the dense baseline's step count is unknown (no summary.json with "
                            "steps); set scratch.max_steps in the study config")
    return summary["steps"]


# Seeds of the dense baseline (initial weights, batch order, dropout) and of re-initialised
# sparse-from-scratch runs: distinct, so "from scratch" never starts from the baseline's weights.
BASELINE_SEED, SCRATCH_SEED = 1234, 4321


def given_run(baseline: Path) -> dict:
    """The ``config.json`` of the run a given ``baseline.checkpoint`` was trained by (its preset,
    model and train settings: precision, seed, init, ...); empty for a baseline the study trained
    itself or a checkpoint copied away from its run."""
    src = read_json(baseline / "summary.json").get("from_checkpoint")
    if not src:
        return {}
    d = dense_run(Path(src) / MODEL_FILE if Path(src).is_dir() else Path(src), {})
    return read_json(d / "config.json") if d is not None else {}


def baseline_seed(baseline: Path) -> int:
    """The seed the dense baseline was trained with (its initial weights: the rewind arm's start)."""
    return int(given_run(baseline).get("train", {}).get("seed", BASELINE_SEED))


def _train_settings(cfg: dict, seed: int, baseline: Path) -> tuple[str, dict, dict]:
    """Preset, model and train settings of a from-scratch training run (baseline + ``scratch``):
    the study's baseline settings, or for a given checkpoint its own run's (so a bf16-trained
    baseline's sparse arms train in bf16 too, with its architecture and initialisation).

    Unless ``scratch`` sets ``max_steps``, the run trains exactly as many optimizer steps as
    the dense baseline did (See et al. compared sparse-from-scratch at equal training): early
    stopping is off so it cannot end sooner, and the best checkpoint is still the one kept.
    """
    b, run = cfg["baseline"], given_run(baseline)
    model = {k: v for k, v in run.get("model", {}).items() if k not in ("src_vocab", "tgt_vocab")}
    train = {**run.get("train", {}), **b.get("train", {}), **cfg["scratch"], "seed": seed}
    if "max_steps" not in cfg["scratch"]:
        train.update(max_steps=baseline_steps(baseline), early_stop=0)
    return run.get("preset") or b.get("preset", "small"), {**model, **b.get("model", {})}, train


@dataclass(frozen=True)
class RunContext:
    """What every run of a study shares: its config, prepared data, the dense baseline of the
    run's seed, the device and whether to draw progress bars."""
    cfg: dict
    prep: Path
    baseline: Path
    device: str = "cpu"
    progress: bool = False


def spec_pruning(spec: dict, cfg: dict) -> Pruning:
    """The :class:`Pruning` of a run spec, scored with the study's ``scoring`` settings."""
    sc = cfg["scoring"]
    return Pruning(spec["sparsity"], criterion=spec["criterion"], allocation=spec["allocation"],
                   batches=sc["batches"], batch_size=sc["batch_size"], hessian=sc.get("hessian", "fisher"),
                   seed=spec["seed"], only_classes=spec["only_classes"],
                   granularity=spec.get("granularity", "weight"))


def run_dense(spec: dict, ctx: RunContext, rundir: Path) -> dict:
    steps = read_json(ctx.baseline / "summary.json").get("steps")     # the budget the trained arms match
    return {**evaluate_run(ctx.baseline, ctx.cfg, spec, ctx.device), **({"steps": steps} if steps is not None else {})}


def run_prune(spec: dict, ctx: RunContext, rundir: Path) -> dict:
    cfg, device = ctx.cfg, ctx.device
    pruned = rundir / "pruned"
    settings = retrain_settings(cfg, spec)
    recipe = settings.get("recipe", "gradual")             # the best recipe (benchmarks/recovery.py)
    one_cut = not spec["retrained"] or recipe == "oneshot" or spec["only_classes"]
    if one_cut:          # a recipe from the dense model needs no one-shot cut (OBD scoring is not cheap)
        with console_muted():                # its line is in pruned/prune.log
            prune(ctx.baseline, spec_pruning(spec, cfg), pruned, device=device, score_cache=str(score_cache(rundir)))
    if not spec["retrained"]:
        return evaluate_run(pruned, cfg, spec, device)
    if one_cut:
        schedule, overrides = split_settings(settings)
        with console_muted():
            retrain(pruned, rundir / "retrained", train_overrides={**overrides, "seed": BASELINE_SEED + spec["seed"]},
                    device=device, progress=ctx.progress, schedule=schedule)
        model = rundir / "retrained"
    else:                                  # the study's retraining is a recovery recipe from the dense model
        model = _recipe(recipe, spec, ctx, rundir / "recipe")
    return {**evaluate_run(model, cfg, spec, device), "recipe": recipe, "budget": retrain_budget(settings),
            "model_dir": _within(model, rundir), **steps_under(rundir)}


def score_cache(rundir: Path) -> Path:
    """The study's cache of OBD/SNIP scores (``<study>/scores``; run dirs are ``<study>/runs/<id>``)."""
    return rundir.parents[1] / "scores"


def _within(model: Path, rundir: Path) -> str:
    """``model``'s path relative to ``rundir`` (one may be absolute: iterate resolves its paths)."""
    return os.path.relpath(Path(model).resolve(), rundir.resolve())


def steps_under(rundir: Path) -> dict:
    """The optimizer steps all the trainings under ``rundir`` took (for the captions' budgets):
    iterative pruning's rounds each leave a ``summary.json``, a one-cut retrain or gradual run one."""
    summaries = [read_json(p) for p in sorted(rundir.rglob("summary.json"))]
    return {"steps": sum(s.get("steps", 0) for s in summaries)} if summaries else {}


def retrain_settings(cfg: dict, spec: dict) -> dict:
    """How a retrained run retrains: the study's ``retrain`` settings, with its experiment's own
    ``retraining`` over them (the spec carries those only where the experiment sets any)."""
    return {**cfg["retrain"], **(spec.get("retraining") or {})}


def retrain_budget(r: dict) -> str:
    """A run's retraining budget (its :func:`retrain_settings`) in words, for captions."""
    steps = f"{r['max_steps']} steps" if r.get("max_steps") else f"{r.get('epochs', 'two thirds of the preset')} epochs"
    return f"{steps}, {r.get('schedule', 'restart')} learning rates"


def _recipe(name: str, spec: dict, ctx: RunContext, out: Path) -> Path:
    settings = {**retrain_settings(ctx.cfg, spec), "seed": BASELINE_SEED + spec["seed"]}
    with console_muted():
        return RECIPES[choose("recipe", name, RECIPES)].run(
            ctx.baseline, out, spec_pruning(spec, ctx.cfg), settings, device=ctx.device, progress=ctx.progress)


def run_recipe(spec: dict, ctx: RunContext, rundir: Path) -> dict:
    """A recovery recipe (``spec["recipe"]``) at the study's retraining budget."""
    model = _recipe(spec["recipe"], spec, ctx, rundir)
    return {**evaluate_run(model, ctx.cfg, spec, ctx.device), "recipe": spec["recipe"],
            "budget": retrain_budget(retrain_settings(ctx.cfg, spec)), "model_dir": _within(model, rundir),
            **steps_under(rundir)}


def _train_masked(spec: dict, ctx: RunContext, rundir: Path, *, seed: int, init: str | None) -> dict:
    """Train with the mask ``spec`` finds on the trained baseline, from ``seed``'s initial weights."""
    pruning = dataclasses.replace(spec_pruning(spec, ctx.cfg), hessian="fisher")
    ck = load_checkpoint(ctx.baseline, device=ctx.device)
    data = scoring_data(ck, pruning, device=ctx.device, cache=str(score_cache(rundir)))
    masks = compute_masks(ck.model, pruning, data=data)
    save_masks(rundir / "mask.safetensors", masks)
    preset, model, train_settings = _train_settings(ctx.cfg, seed, ctx.baseline)
    with console_muted():
        summary = train(ctx.prep, rundir / "trained", preset=preset, model_overrides=model,
                        train_overrides=train_settings, mask=str(rundir / "mask.safetensors"), init=init,
                        device=ctx.device, progress=ctx.progress)
    return {**evaluate_run(rundir / "trained", ctx.cfg, spec, ctx.device), "steps": summary["steps"]}


def run_scratch(spec: dict, ctx: RunContext, rundir: Path) -> dict:
    """Sparse from scratch, re-initialised (See et al.): its own seed and ``spec["init"]``."""
    return _train_masked(spec, ctx, rundir, seed=SCRATCH_SEED + spec["seed"], init=spec["init"])


def run_rewind(spec: dict, ctx: RunContext, rundir: Path) -> dict:
    """Rewind to the original init (Frankle & Carbin): the baseline's seed and init scheme, so the
    kept weights start exactly where the dense baseline's started."""
    return _train_masked(spec, ctx, rundir, seed=baseline_seed(ctx.baseline) + spec["seed"], init=None)


def run_snip_train(spec: dict, ctx: RunContext, rundir: Path) -> dict:
    snip = {"sparsity": spec["sparsity"], "batches": spec["snip_batches"],
            "batch_size": ctx.cfg["scoring"]["batch_size"], "seed": spec["seed"]}
    preset, model, train_settings = _train_settings(ctx.cfg, BASELINE_SEED + spec["seed"], ctx.baseline)
    with console_muted():
        summary = train(ctx.prep, rundir / "trained", preset=preset, model_overrides=model,
                        train_overrides=train_settings, init=spec["init"], snip=snip, device=ctx.device,
                        progress=ctx.progress)
    return {**evaluate_run(rundir / "trained", ctx.cfg, spec, ctx.device), "steps": summary["steps"]}


# kind -> function, in cost order (the plan runs cheap kinds first so figures fill in early).
RUN_KINDS: dict[str, Callable[..., dict]] = {
    "dense": run_dense,
    "prune": run_prune,
    "scratch": run_scratch,
    "rewind": run_rewind,
    "snip_train": run_snip_train,
    "recipe": run_recipe,
}


def execute(spec: dict, ctx: RunContext, rundir: Path) -> dict:
    """Run one planned run in ``rundir`` (started clean) and return its metrics."""
    if rundir.exists():                      # an unfinished earlier attempt: start clean
        shutil.rmtree(rundir)
    rundir.mkdir(parents=True)
    return RUN_KINDS[choose("run kind", spec["kind"], RUN_KINDS)](spec, ctx, rundir)
