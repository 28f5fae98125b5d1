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

import os
import shutil
from pathlib import Path
from typing import Callable

from ..checkpoint.load import load_checkpoint
from ..data.prepared import Prepared
from ..decode.evaluate import evaluate_checkpoint
from ..decode.metrics import perplexity, sentence_bleu
from ..decode.translation import check_decoding
from ..errors import NmtpruneError, choose
from ..fileio import read_json, write_json
from ..model.masks import save_masks
from ..prune import compute_masks, inspect, prune
from ..prune.checkpoints import scoring_data
from ..runtime import resolve_device
from ..training.logs import console_muted
from ..training.recipes import RECIPES, split_settings
from ..training.run import retrain, train


def evaluate_run(ckpt_dir: Path, cfg: dict, spec: dict, device: str) -> dict:
    """Sparsity per class, perplexity, and (when ``spec["bleu"]``) BLEU/chrF and sentence BLEU."""
    ev = cfg["evaluation"]
    ck = load_checkpoint(ckpt_dir, device)
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


def _train_settings(cfg: dict, seed: int, baseline: Path) -> tuple[str, dict, dict]:
    """Preset, model and train settings of a from-scratch training run (baseline + ``scratch``).

    Unless ``scratch`` sets ``max_steps``, the run trains exactly as many optimizer steps as
    the dense baseline did (See et al. compared sparse-from-scratch at equal training): early
    stopping is off so it cannot end sooner, and the best checkpoint is still the one kept.
    """
    b = cfg["baseline"]
    train = {**b.get("train", {}), **cfg["scratch"], "seed": seed}
    if "max_steps" not in cfg["scratch"]:
        train.update(max_steps=baseline_steps(baseline), early_stop=0)
    return b.get("preset", "small"), b.get("model", {}), train


def run_dense(spec: dict, cfg: dict, prep: Path, baseline: Path, rundir: Path, device: str, progress: bool) -> dict:
    steps = read_json(baseline / "summary.json").get("steps")     # the budget the trained arms match
    return {**evaluate_run(baseline, cfg, spec, device), **({"steps": steps} if steps is not None else {})}


def run_prune(spec: dict, cfg: dict, prep: Path, baseline: Path, rundir: Path, device: str, progress: bool) -> dict:
    sc, seed = cfg["scoring"], spec["seed"]
    pruned = rundir / "pruned"
    recipe = cfg["retrain"].get("recipe", "gradual")       # the best recipe (benchmarks/recovery.py)
    one_cut = not spec["retrained"] or recipe == "oneshot" or spec["only_classes"]
    if one_cut:          # a recipe from the dense model needs no one-shot cut (OBD scoring is not cheap)
        with console_muted():                # its line is in pruned/prune.log
            prune(baseline, spec["criterion"], spec["allocation"], spec["sparsity"], pruned, sc["batches"],
                  sc["batch_size"], sc.get("hessian", "fisher"), seed, only_classes=spec["only_classes"],
                  device=device, score_cache=str(score_cache(rundir)))
    if not spec["retrained"]:
        return evaluate_run(pruned, cfg, spec, device)
    if one_cut:
        schedule, settings = split_settings(cfg["retrain"])
        with console_muted():
            retrain(pruned, rundir / "retrained", {**settings, "seed": BASELINE_SEED + seed}, device=device,
                    progress=progress, schedule=schedule)
        model = rundir / "retrained"
    else:                                  # the study's retraining is a recovery recipe from the dense model
        model = _recipe(recipe, spec, cfg, baseline, rundir / "recipe", device, progress)
    return {**evaluate_run(model, cfg, spec, device), "recipe": recipe, "budget": retrain_budget(cfg),
            "model_dir": _within(model, rundir), **_steps(rundir)}


def score_cache(rundir: Path) -> Path:
    """The study's cache of OBD/SNIP scores (``<study>/scores``; run dirs are ``<study>/runs/<id>``)."""
    return rundir.parents[1] / "scores"


def _within(model: Path, rundir: Path) -> str:
    """``model``'s path relative to ``rundir`` (one may be absolute: iterate resolves its paths)."""
    return os.path.relpath(Path(model).resolve(), rundir.resolve())


def _steps(rundir: Path) -> dict:
    """The optimizer steps all the trainings under ``rundir`` took (for the captions' budgets):
    iterative pruning's rounds each leave a ``summary.json``, a one-cut retrain or gradual run one."""
    summaries = [read_json(p) for p in sorted(rundir.rglob("summary.json"))]
    return {"steps": sum(s.get("steps", 0) for s in summaries)} if summaries else {}


def retrain_budget(cfg: dict) -> str:
    """The study's retraining budget in words, for captions."""
    r = cfg["retrain"]
    steps = f"{r['max_steps']} steps" if r.get("max_steps") else f"{r.get('epochs', 'two thirds of the preset')} epochs"
    return f"{steps}, {r.get('schedule', 'restart')} learning rates"


def _recipe(name: str, spec: dict, cfg: dict, baseline: Path, out: Path, device: str, progress: bool) -> Path:
    sc = cfg["scoring"]
    settings = {**cfg["retrain"], "seed": BASELINE_SEED + spec["seed"]}
    with console_muted():
        return RECIPES[choose("recipe", name, RECIPES)](
            baseline, out, spec["sparsity"], spec["criterion"], spec["allocation"], settings,
            batches=sc["batches"], batch_size=sc["batch_size"], seed=spec["seed"], device=device, progress=progress)


def run_recipe(spec: dict, cfg: dict, prep: Path, baseline: Path, rundir: Path, device: str,
               progress: bool) -> dict:
    """A recovery recipe (``spec["recipe"]``) at the study's retraining budget."""
    model = _recipe(spec["recipe"], spec, cfg, baseline, rundir, device, progress)
    return {**evaluate_run(model, cfg, spec, device), "recipe": spec["recipe"], "budget": retrain_budget(cfg),
            "model_dir": _within(model, rundir), **_steps(rundir)}


def _train_masked(spec: dict, cfg: dict, prep: Path, baseline: Path, rundir: Path, device: str, progress: bool,
                  seed: int, init: str | None) -> dict:
    """Train with the mask ``spec`` finds on the trained baseline, from ``seed``'s initial weights."""
    sc = cfg["scoring"]
    ck = load_checkpoint(baseline, device)
    data = scoring_data(ck, None, sc["batches"], sc["batch_size"], "fisher", spec["seed"], device,
                        str(score_cache(rundir)))
    masks = compute_masks(ck.model, spec["criterion"], spec["allocation"], spec["sparsity"], data)
    save_masks(rundir / "mask.safetensors", masks)
    with console_muted():
        summary = train(prep, rundir / "trained", *_train_settings(cfg, seed, baseline),
                        mask=str(rundir / "mask.safetensors"), init=init, device=device, progress=progress)
    return {**evaluate_run(rundir / "trained", cfg, spec, device), "steps": summary["steps"]}


def run_scratch(spec: dict, cfg: dict, prep: Path, baseline: Path, rundir: Path, device: str,
                progress: bool) -> dict:
    """Sparse from scratch, re-initialised (See et al.): its own seed and ``spec["init"]``."""
    return _train_masked(spec, cfg, prep, baseline, rundir, device, progress, SCRATCH_SEED + spec["seed"],
                         spec["init"])


def run_rewind(spec: dict, cfg: dict, prep: Path, baseline: Path, rundir: Path, device: str,
               progress: bool) -> dict:
    """Rewind to the original init (Frankle & Carbin): the baseline's seed and init scheme, so the
    kept weights start exactly where the dense baseline's started."""
    return _train_masked(spec, cfg, prep, baseline, rundir, device, progress, BASELINE_SEED + spec["seed"], None)


def run_snip_train(spec: dict, cfg: dict, prep: Path, baseline: Path, rundir: Path, device: str,
                   progress: bool) -> dict:
    snip = {"sparsity": spec["sparsity"], "batches": spec["snip_batches"], "batch_size": cfg["scoring"]["batch_size"],
            "seed": spec["seed"]}
    with console_muted():
        summary = train(prep, rundir / "trained", *_train_settings(cfg, BASELINE_SEED + spec["seed"], baseline),
                        init=spec["init"], snip=snip, device=device, progress=progress)
    return {**evaluate_run(rundir / "trained", cfg, spec, device), "steps": summary["steps"]}


# kind -> function, in cost order (the plan runs cheap kinds first so figures fill in early).
RUN_KINDS: dict[str, Callable[..., dict]] = {
    "dense": run_dense,
    "prune": run_prune,
    "scratch": run_scratch,
    "rewind": run_rewind,
    "snip_train": run_snip_train,
    "recipe": run_recipe,
}


def execute(spec: dict, cfg: dict, prep: Path, baseline: Path, rundir: Path, device: str,
            progress: bool) -> dict:
    """Run one planned run in ``rundir`` (started clean) and return its metrics."""
    if rundir.exists():                      # an unfinished earlier attempt: start clean
        shutil.rmtree(rundir)
    rundir.mkdir(parents=True)
    return RUN_KINDS[choose("run kind", spec["kind"], RUN_KINDS)](spec, cfg, prep, baseline, rundir, device, progress)
