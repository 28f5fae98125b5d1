"""``nmtprune study``: prepare -> dense baseline(s) -> every planned run -> report.

Resumable by construction: the prepared data and the baselines resume from
their own files, each run is recorded in the SQLite store when it finishes
(one transaction), and a rerun skips finished runs and redoes unfinished ones.
A failing run is recorded as failed and the study goes on. The work itself
runs in this process or on a Ray cluster (``executors``); either way this
process, holding the study directory's lock, is the store's one writer.
"""
from __future__ import annotations

import json
import logging
import shlex
import shutil
import time
import traceback
from functools import partial
from pathlib import Path

from tqdm import tqdm

from ..checkpoint.load import load_checkpoint
from ..checkpoint.model_file import MODEL_FILE, copy_tokenizers, save_checkpoint
from ..config import from_dict
from ..data.prepare import prepare
from ..data.prepared import PrepareConfig
from ..data.resolve import resolve_data
from ..errors import NmtpruneError
from ..fileio import ensure_writable_dir, log_file, read_json, write_json
from ..prune.compute import prunable_classes
from ..training.presets import get_preset
from ..training.run import train
from .config import context_hash, load_config
from .execute import BASELINE_SEED, RunContext, execute
from .executors import ExecutorOptions, make_executor
from .experiments import EXPERIMENTS
from .lock import study_lock
from .plan import longest_first, plan
from .report import write_report
from .store import Store

logger = logging.getLogger(__name__)
STORE_FILE = "study.db"
LOG_FILE = "study.log"


def _baseline(cfg: dict, prep: Path, out: Path, seed: int, device: str, progress: bool) -> Path:
    """Train (or resume, or reuse) the dense baseline of ``seed``; returns its run directory."""
    rundir = out / f"baseline-seed{seed}"
    summary = rundir / "summary.json"
    if summary.is_file():
        return rundir
    b = cfg["baseline"]
    resume = (rundir / "state.pt").is_file()
    if not resume and rundir.exists():
        shutil.rmtree(rundir)
    train(prep, rundir, preset=b.get("preset", "small"), model_overrides=b.get("model", {}),
          train_overrides={**b.get("train", {}), "seed": BASELINE_SEED + seed}, resume=resume, device=device,
          progress=progress)
    return rundir


def _given_baseline(spec: str, out: Path) -> tuple[Path, Path]:
    """Copy an already-trained dense checkpoint in as ``baseline-seed0``; returns (its prep, its run dir).

    Copied (not referenced) so the study's evaluation files never land in the
    user's own run directory; the prepared data is the checkpoint's own.
    """
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
                        info=ck.info)
        # Its step count is the budget the sparse-from-scratch and SNIP runs match.
        src = ck.path.parent / "summary.json"
        steps = read_json(src).get("steps") if src.is_file() else None
        write_json(rundir / "summary.json", {"from_checkpoint": str(Path(spec).resolve()),
                                             **({"steps": steps} if isinstance(steps, int) else {})})
    return Path(ck.prep), rundir


def _open_store(out: Path, cfg_hash: str, force: bool) -> Store:
    store = Store(out / STORE_FILE)
    old = store.get_meta("config_hash")
    if old is not None and old != cfg_hash and not force:
        raise NmtpruneError(f"{out} holds a study made with a different config ({old} != {cfg_hash}); "
                            "use another --out, or --force to redo the runs whose settings changed")
    store.set_meta("config_hash", cfg_hash)
    return store


def run_study(data: str | None, out: str, *, config: str | None = None, preset: str | None = "quick",
              seeds: int = 1, device: str = "cpu", force: bool = False, progress: bool = True,
              command: str | None = None, executor: str = "local", options: ExecutorOptions | None = None) -> Path:
    """Run (or resume) a whole study and write its report; its messages also go to ``study.log``.
    Returns the study directory.

    ``executor``: where the baselines and runs compute (:data:`executors.EXECUTORS`); the
    results come back here, and this process alone writes the store and the report. The study
    directory is locked for the whole study: a second driver on it is refused.
    """
    cfg = load_config(path=config, preset=None if config else preset)
    if seeds < 1:
        raise NmtpruneError(f"--seeds must be >= 1, got {seeds}")
    ex = make_executor(executor, options=options)      # a missing Ray is refused before any work
    if ex.remote and device.startswith("cuda") and not (options and options.run_gpus > 0):
        raise NmtpruneError(f"--device {device} with --executor {executor} needs --run-gpus > 0 "
                            "(Ray hides the GPUs from tasks that declare none)")
    # Absolute: tasks on other nodes (and other working directories) get these paths.
    out = ensure_writable_dir(out).resolve()
    with study_lock(out, command=command), ex:
        ctx = context_hash(cfg)
        store = _open_store(out, ctx, force)
        with log_file(out / LOG_FILE):          # only once the store says this is a study directory
            _run(cfg, store, ctx, data, out, seeds=seeds, device=device, progress=progress, command=command, ex=ex)
    return out


def _run(cfg: dict, store: Store, ctx: str, data: str | None, out: Path, *, seeds: int, device: str,
         progress: bool, command: str | None, ex) -> None:
    """The study in ``out``: data, baselines, the runs not done yet, their data for figures, the report."""
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
            raise NmtpruneError("study: --data DIR or a corpus name (e.g. multi30k) is required, "
                                "unless the config names a baseline.checkpoint")
        prep = out / "prep"
        if not (prep / "prep.json").is_file():
            # The baseline preset's own prepare settings (paper: word level, 50k), then the config's.
            preset = get_preset(cfg["baseline"].get("preset", "small")).prepare
            settings = {"src": cfg["src"], "tgt": cfg["tgt"], **preset, **cfg["prepare"]}
            data = resolve_data(data, langs=(cfg["src"], cfg["tgt"]), progress=progress)   # a corpus name: fetched here
            prepare(prep, from_dict(PrepareConfig, settings, "prepare settings"), data_dir=data)
        stages["prepare"] = stages.get("prepare", 0) + time.time() - t0
        t0 = time.time()
        # The baselines: the one dependency of every run (a remote executor trains them in parallel).
        baselines = ex.map(partial(_baseline, cfg, prep, out, device=device, progress=progress and not ex.remote),
                           range(seeds))
    stages["baseline"] = stages.get("baseline", 0) + time.time() - t0
    store.set_meta("stages", json.dumps(stages))
    classes = list(prunable_classes(load_checkpoint(baselines[0]).model))
    runs = plan(cfg, classes, seeds)
    store.set_meta("planned", json.dumps([r["id"] for r in runs]))
    todo = [r for r in runs if store.status(r["id"]) != "done" or _stale(store, r["id"], ctx)]
    if ex.remote:            # several runs at once: the longest first (one at a time: the cheap first)
        todo = longest_first(todo, cfg)
    logger.info(f"study: {len(runs)} runs planned, {len(runs) - len(todo)} already done, {len(todo)} to run")
    t0 = time.time()
    bar = tqdm(total=len(runs), initial=len(runs) - len(todo), desc="study", unit="run", disable=not progress)

    def started(spec: dict) -> None:
        store.start(spec["id"], spec, ctx)
        if not ex.remote:
            bar.set_postfix_str(_describe(spec))

    run = partial(_run_one, cfg, prep, baselines, out, device)
    for spec, result, seconds in ex.as_completed(run, todo, started):
        if isinstance(result, BaseException):
            store.fail(spec["id"], _error_text(result), seconds=seconds)
            logger.warning(f"run {spec['id']} failed: {type(result).__name__}: {result}")
        else:
            store.finish(spec["id"], result, seconds=seconds)
        if ex.remote:
            bar.set_postfix_str(f"done: {_describe(spec)}")
        bar.update(1)
    bar.close()
    stages["runs"] = stages.get("runs", 0) + time.time() - t0
    store.set_meta("stages", json.dumps(stages))
    _collect(cfg, out, store)
    t0 = time.time()
    write_report(out)
    stages["report"] = time.time() - t0
    store.set_meta("stages", json.dumps(stages))


def _run_one(cfg: dict, prep: Path, baselines: list[Path], out: Path, device: str, spec: dict) -> dict:
    """One planned run, in its own directory under the study; wherever the executor runs it."""
    return execute(spec, RunContext(cfg, prep, baselines[spec["seed"]], device), out / "runs" / spec["id"])


def _describe(spec: dict) -> str:
    return (f"{spec['experiment']}: {spec['kind']} {spec['criterion'] or ''} {spec['allocation'] or ''} "
            f"{spec['sparsity']:g}")


def _error_text(e: BaseException) -> str:
    """A failed run's record: the exception and where it came from (a remote task's own traceback)."""
    tb = getattr(e, "remote_traceback", None) or "".join(
        traceback.format_exception(type(e), e, e.__traceback__, limit=3))
    return f"{type(e).__name__}: {e}\n{tb}"


def _stale(store: Store, run_id: str, ctx: str) -> bool:
    recorded = store.run_config_hash(run_id)
    return recorded is not None and recorded != ctx


def _collect(cfg: dict, out: Path, store: Store) -> None:
    """Data the figures need from the trained models (e.g. attention), computed once the runs are done."""
    runs = store.runs(status="done")
    for name, settings in cfg["experiments"].items():
        collect = EXPERIMENTS[name].collect
        if collect is None:
            continue
        try:
            collect(out, EXPERIMENTS[name].visible(runs, settings), settings)
        except (KeyError, IndexError, ValueError, TypeError, NmtpruneError) as e:   # its figure says it is missing
            logger.warning(f"data for {name} skipped: {type(e).__name__}: {e}")


def study_status(out: str) -> dict:
    """Runs planned, done, failed and unfinished, in total and per experiment."""
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
    """The command that reproduces a study, for its report."""
    return "nmtprune " + " ".join(shlex.quote(a) for a in argv)
