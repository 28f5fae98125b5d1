"""``nmtprune study``: prepare -> dense baseline(s) -> every planned run -> report.

Resumable by construction: the prepared data and the baselines resume from
their own files, each run is recorded in the SQLite store when it finishes
(one transaction), and a rerun skips finished runs and redoes unfinished ones.
A failing run is recorded as failed and the study goes on.
"""
from __future__ import annotations

import json
import shlex
import shutil
import sys
import time
import traceback
from pathlib import Path

import torch
from tqdm import tqdm

from .errors import NmtpruneError
from .fileio import ensure_writable_dir, write_json
from .store import Store
from .study_plan import context_hash, load_config, plan

STORE_FILE = "study.db"


def _log(msg: str) -> None:
    tqdm.write(msg, file=sys.stderr)


def _baseline(cfg: dict, prep: Path, out: Path, seed: int, device: str, progress: bool) -> Path:
    from .api import train
    rundir = out / f"baseline-seed{seed}"
    summary = rundir / "summary.json"
    if summary.is_file():
        return rundir
    b = cfg["baseline"]
    resume = (rundir / "state.pt").is_file()
    if not resume and rundir.exists():
        shutil.rmtree(rundir)
    train(prep, rundir, b.get("preset", "small"), b.get("model", {}), {**b.get("train", {}), "seed": 1234 + seed},
          resume=resume, device=device, progress=progress, log=_log)
    return rundir


def _given_baseline(spec: str, out: Path) -> tuple[Path, Path]:
    """Copy an already-trained dense checkpoint in as ``baseline-seed0``; returns (its prep, its run dir).

    Copied (not referenced) so the study's evaluation files never land in the
    user's own run directory; the prepared data is the checkpoint's own.
    """
    from .checkpoint import MODEL_FILE, copy_tokenizers, load_checkpoint, save_checkpoint
    rundir = out / "baseline-seed0"
    ck = load_checkpoint(spec)
    if ck.masks is not None:
        raise NmtpruneError(f"baseline.checkpoint {spec}: has a pruning mask; the study needs a dense baseline")
    if not ck.prep or not (Path(ck.prep) / "prep.json").is_file():
        raise NmtpruneError(f"baseline.checkpoint {spec}: its prepared data {ck.prep!r} is missing "
                            "(the study evaluates on it and trains sparse models on it)")
    if not (rundir / "summary.json").is_file():
        rundir.mkdir(parents=True, exist_ok=True)
        save_checkpoint(rundir / MODEL_FILE, ck.model, copy_tokenizers(ck.tokenizer_files, rundir), ck.prep,
                        ck.info)
        write_json(rundir / "summary.json", {"from_checkpoint": str(Path(spec).resolve())})
    return Path(ck.prep), rundir


def _evaluate(ckpt_dir: Path, cfg: dict, spec: dict, device: str) -> dict:
    from .api import evaluate
    from .checkpoint import load_checkpoint
    from .metrics import perplexity, sentence_bleu
    from .prune import inspect
    ev = cfg["evaluation"]
    ck = load_checkpoint(ckpt_dir, device)
    metrics = inspect(ckpt_dir, sizes=False)
    metrics = {"sparsity": metrics["sparsity"], "classes": metrics["classes"]}
    if spec["bleu"]:
        r = evaluate(ck, ev["split"], beam=ev["beam"], batch_size=ev["batch_size"], device=device,
                     out_dir=str(ckpt_dir))
        hyps = Path(r["hypotheses"]).read_text(encoding="utf-8").splitlines()
        from .data import Prepared
        refs = Prepared(ck.prep).load(ev["split"]).raw_tgt
        sb = sentence_bleu(hyps, refs)
        write_json(ckpt_dir / "sentence_bleu.json", sb)
        metrics.update({k: r[k] for k in ("ppl", "bleu", "chrf", "signature", "sentences")})
    else:
        from .data import Prepared
        metrics["ppl"] = perplexity(ck.model, Prepared(ck.prep).load(ev["split"]), device=device)
    return metrics


def execute(spec: dict, cfg: dict, prep: Path, baseline: Path, rundir: Path, device: str,
            progress: bool) -> dict:
    """Run one planned experiment run in ``rundir`` and return its metrics."""
    from .api import retrain, train
    from .checkpoint import MODEL_FILE, load_checkpoint, masks_path
    from .masks import save_masks
    from .prune import compute_masks, prune, scoring_data
    if rundir.exists():                      # an unfinished earlier attempt: start clean
        shutil.rmtree(rundir)
    rundir.mkdir(parents=True)
    sc, seed = cfg["scoring"], spec["seed"]
    b = cfg["baseline"]
    if spec["kind"] == "dense":
        return _evaluate(baseline, cfg, spec, device)
    if spec["kind"] == "prune":
        pruned = rundir / "pruned"
        prune(baseline, spec["criterion"], spec["allocation"], spec["sparsity"], pruned, sc["batches"],
              sc["batch_size"], sc.get("hessian", "fisher"), seed, only_classes=spec["only_classes"], device=device)
        if not spec["retrained"]:
            return _evaluate(pruned, cfg, spec, device)
        retrain(pruned, rundir / "retrained", {**cfg["retrain"], "seed": 1234 + seed}, device=device,
                progress=progress, log=lambda m: None)
        return _evaluate(rundir / "retrained", cfg, spec, device)
    if spec["kind"] == "scratch":
        ck = load_checkpoint(baseline, device)
        data = scoring_data(ck, None, sc["batches"], sc["batch_size"], "fisher", seed, device)
        masks = compute_masks(ck.model, spec["criterion"], spec["allocation"], spec["sparsity"], data)
        save_masks(rundir / "mask.safetensors", masks)
        train(prep, rundir / "trained", b.get("preset", "small"), b.get("model", {}),
              {**b.get("train", {}), **cfg["scratch"], "seed": 1234 + seed}, mask=str(rundir / "mask.safetensors"),
              init=spec["init"], device=device, progress=progress, log=lambda m: None)
        return _evaluate(rundir / "trained", cfg, spec, device)
    if spec["kind"] == "snip_train":
        snip = {"sparsity": spec["sparsity"], "batches": spec["snip_batches"], "batch_size": sc["batch_size"],
                "seed": seed}
        train(prep, rundir / "trained", b.get("preset", "small"), b.get("model", {}),
              {**b.get("train", {}), **cfg["scratch"], "seed": 1234 + seed}, init=spec["init"], snip=snip,
              device=device, progress=progress, log=lambda m: None)
        return _evaluate(rundir / "trained", cfg, spec, device)
    raise NmtpruneError(f"unknown run kind {spec['kind']!r}")


def _open_store(out: Path, cfg_hash: str, force: bool) -> Store:
    store = Store(out / STORE_FILE)
    old = store.get_meta("config_hash")
    if old is not None and old != cfg_hash and not force:
        raise NmtpruneError(f"{out} holds a study made with a different config ({old} != {cfg_hash}); "
                            "use another --out, or --force to redo the runs whose settings changed")
    store.set_meta("config_hash", cfg_hash)
    return store


def run_study(data: str | None, out: str, config: str | None = None, preset: str | None = "quick", seeds: int = 1,
              device: str = "cpu", force: bool = False, progress: bool = True, command: str | None = None) -> Path:
    """Run (or resume) a whole study and write its report. Returns the study directory."""
    from .api import prepare
    from .checkpoint import load_checkpoint
    from .perf import tune_allocator
    from .prune import prunable_classes
    from .report import write_report
    tune_allocator()
    cfg = load_config(config, None if config else preset)
    if seeds < 1:
        raise NmtpruneError(f"--seeds must be >= 1, got {seeds}")
    out = ensure_writable_dir(out)
    ctx = context_hash(cfg)
    store = _open_store(out, ctx, force)
    store.set_meta("config", json.dumps(cfg))
    store.set_meta("command", command or "")
    store.set_meta("seeds", str(seeds))
    stages = json.loads(store.get_meta("stages") or "{}")
    t0 = time.time()
    given = cfg["baseline"].get("checkpoint")
    if given:
        if seeds != 1:
            raise NmtpruneError(f"--seeds {seeds}: a study on a given baseline.checkpoint has one seed")
        prep, rundir = _given_baseline(given, out)
        baselines = [rundir]
    else:
        if not data:
            raise NmtpruneError("study: --data DIR is required (the raw parallel corpus), "
                                "unless the config names a baseline.checkpoint")
        prep = out / "prep"
        if not (prep / "prep.json").is_file():
            prepare(prep, data, cfg["src"], cfg["tgt"], log=_log, **cfg["prepare"])
        stages["prepare"] = stages.get("prepare", 0) + time.time() - t0
        t0 = time.time()
        baselines = [_baseline(cfg, prep, out, s, device, progress) for s in range(seeds)]
    stages["baseline"] = stages.get("baseline", 0) + time.time() - t0
    store.set_meta("stages", json.dumps(stages))
    classes = list(prunable_classes(load_checkpoint(baselines[0]).model))
    runs = plan(cfg, classes, seeds)
    store.set_meta("planned", json.dumps([r["id"] for r in runs]))
    todo = [r for r in runs if store.status(r["id"]) != "done" or _stale(store, r["id"], ctx)]
    _log(f"study: {len(runs)} runs planned, {len(runs) - len(todo)} already done, {len(todo)} to run")
    t0 = time.time()
    bar = tqdm(total=len(runs), initial=len(runs) - len(todo), desc="study", unit="run", disable=not progress)
    for spec in todo:
        bar.set_postfix_str(f"{spec['experiment']}: {spec['kind']} {spec['criterion'] or ''} "
                            f"{spec['allocation'] or ''} {spec['sparsity']:g}")
        store.start(spec["id"], spec, ctx)
        try:
            metrics = execute(spec, cfg, prep, baselines[spec["seed"]], out / "runs" / spec["id"], device, False)
            store.finish(spec["id"], metrics)
        except Exception as e:  # one failing run must not lose the others
            store.fail(spec["id"], f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=3)}")
            _log(f"run {spec['id']} failed: {type(e).__name__}: {e}")
        bar.update(1)
    bar.close()
    stages["runs"] = stages.get("runs", 0) + time.time() - t0
    store.set_meta("stages", json.dumps(stages))
    t0 = time.time()
    write_report(out)
    stages["report"] = time.time() - t0
    store.set_meta("stages", json.dumps(stages))
    return out


def _stale(store: Store, run_id: str, ctx: str) -> bool:
    row = store.db.execute("SELECT config_hash FROM runs WHERE id=?", (run_id,)).fetchone()
    return row is not None and row[0] != ctx


def study_status(out: str) -> dict:
    store = Store(Path(out) / STORE_FILE, create=False)
    planned = json.loads(store.get_meta("planned") or "[]")
    counts = store.counts()
    per_exp: dict[str, dict] = {}
    for r in store.runs(status=None):
        per_exp.setdefault(r["experiment"], {}).setdefault(r["status"], 0)
        per_exp[r["experiment"]][r["status"]] += 1
    return {"planned": len(planned), "done": counts.get("done", 0), "failed": counts.get("failed", 0),
            "running_or_killed": counts.get("running", 0), "experiments": per_exp}


def command_line(argv: list[str]) -> str:
    return "nmtprune " + " ".join(shlex.quote(a) for a in argv)
