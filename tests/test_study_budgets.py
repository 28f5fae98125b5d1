"""Study budgets: shipped presets have no wall-clock bound; the same config and seed give the same numbers."""
import json
import sqlite3

import pytest
import yaml

from nmtprune.study.config import load_config
from nmtprune.study.executors import ExecutorOptions
from nmtprune.study.runner import run_study

from test_study import TINY_STUDY


def _walk(node, path=""):
    """Every (dotted key, value) of a nested YAML mapping."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _walk(v, f"{path}.{k}" if path else str(k))
    else:
        yield path, node


@pytest.mark.parametrize("preset", ["quick", "full"])
def test_shipped_study_presets_have_no_wall_clock_budget(preset):
    from importlib import resources

    from nmtprune.training.presets import configs
    raw = yaml.safe_load((resources.files("nmtprune") / "presets" / f"{preset}.yaml").read_text())
    assert [k for k, v in _walk(raw) if k.endswith("max_minutes") and v and v > 0] == []
    cfg = load_config(preset=preset)
    b = cfg["baseline"]
    _, t = configs(b["preset"], b["model"], {**b["train"], **cfg["scratch"]})
    assert t.max_minutes == 0 and (t.epochs > 0 or t.max_steps > 0)   # bounded by epochs/steps only


MICRO = {**TINY_STUDY, "baseline": {**TINY_STUDY["baseline"], "train": {"epochs": 1, "max_steps": 8,
                                                                       "batch_tokens": 1500}},
         "scratch": {"batch_tokens": 1500}, "experiments": {"retrain": {"sparsities": [0.9]}}}


def test_micro_study_twice_gives_identical_numbers_and_matched_budgets(raw_dir, tmp_path):
    """Twice in this process: identical numbers. Then ``--executor processes --run-cpus 1``: the
    same runs, done and timed in the workers, with the same numbers up to float rounding (one
    thread instead of two)."""
    cfg = tmp_path / "micro.yaml"
    cfg.write_text(yaml.safe_dump(MICRO))
    got = []
    for name, how in (("a", {}), ("b", {}), ("c", {"executor": "processes", "options": ExecutorOptions(run_cpus=1)})):
        run_study(str(raw_dir), str(tmp_path / name), config=str(cfg), progress=False, **how)
        rows = sqlite3.connect(tmp_path / name / "study.db").execute(
            "SELECT id, kind, status, metrics, seconds FROM runs ORDER BY id").fetchall()
        got.append({i: (k, st, json.loads(m)) for i, k, st, m, _ in rows})
        assert all(s is not None and s > 0 for *_, s in rows)
    assert got[0] == got[1] and all(st == "done" for _, st, _ in got[0].values())
    steps = {k: m["steps"] for k, _, m in got[0].values() if k != "prune"}
    assert steps == {"dense": 8, "scratch": 8, "rewind": 8}       # matched budgets
    procs = got[2]
    assert sorted(procs) == sorted(got[0]) and {st for _, st, _ in procs.values()} == {"done"}
    for i, (kind, _, m) in got[0].items():
        assert procs[i][2]["ppl"] == pytest.approx(m["ppl"], rel=1e-3), (kind, i)
        assert procs[i][2].get("steps") == m.get("steps")
    assert (tmp_path / "c" / "report.html").is_file()


def test_processes_executor_slots():
    from nmtprune.study.process_executor import slots
    assert (slots(1, 2), slots(2, 2), slots(4, 2), slots(1.5, 8)) == (2, 1, 1, 5)


def test_runs_side_by_side_start_with_the_score_cache_writers_then_the_longest():
    """The quick plan in the order an executor of several slots gets it: one OBD and one SNIP
    cut first (they write the scores the other cuts read), then the trainings by length (the
    headline's own 500 steps before the study's 100), the prune-only runs last, every run once."""
    from nmtprune.study.config import load_config
    from nmtprune.study.plan import longest_first, plan, training_steps
    cfg = load_config(preset="quick")
    classes = ["src_embed", "tgt_embed", "enc_layer0", "dec_layer0", "attention", "softmax"]
    runs = plan(cfg, classes, 1)
    order = longest_first(runs, cfg)
    assert sorted(r["id"] for r in order) == sorted(r["id"] for r in runs)
    assert [(r["criterion"], r["retrained"]) for r in order[:2]] == [("obd", False), ("snip", False)]
    steps = [training_steps(r, cfg) for r in order[2:]]
    assert steps == sorted(steps, reverse=True) and steps[0] == 500 and steps[-1] == 0
    assert {r["experiment"] for r in order[2:4]} == {"headline"}
    untrained = [r for r in order if training_steps(r, cfg) == 0][2:]
    assert [r["bleu"] for r in untrained] == sorted((r["bleu"] for r in untrained), reverse=True)


def test_run_steps_sum_every_training_under_the_run_dir(tmp_path):
    """Iterative pruning's rounds each train: a study run's steps are their sum, not the last round's."""
    from nmtprune.study.execute import steps_under
    run = tmp_path / "run"
    (run / "pruned").mkdir(parents=True)
    (run / "pruned" / "prune.json").write_text("{}")
    assert steps_under(run) == {}                                   # a one-cut run without retraining trains nothing
    for r, n in ((1, 30), (2, 30), (3, 40)):
        d = run / "recipe" / f"round{r}" / "retrained"
        d.mkdir(parents=True)
        (d / "summary.json").write_text(json.dumps({"steps": n, "epochs": 1}))
    assert steps_under(run) == {"steps": 100}


def test_a_given_checkpoints_own_run_sets_the_sparse_arms_precision_seed_and_model(tmp_path):
    """baseline.checkpoint: the scratch/SNIP arms train like the run that made it (its bf16, its
    architecture), and the rewind arm starts from that run's own seed's initial weights."""
    import json
    from nmtprune.study.execute import BASELINE_SEED, _train_settings, baseline_seed
    run, base = tmp_path / "dense", tmp_path / "study" / "baseline-seed0"
    run.mkdir()
    base.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"kind": "train", "preset": "tiny",
                                                 "model": {"attention": "dot", "src_vocab": 9, "init": "xavier"},
                                                 "train": {"precision": "bf16", "seed": 77, "lr": 0.01}}))
    (base / "summary.json").write_text(json.dumps({"from_checkpoint": str(run / "model.safetensors"), "steps": 40}))
    cfg = {"baseline": {"checkpoint": str(run)}, "scratch": {}}
    preset, model, train = _train_settings(cfg, 5, base)
    assert (preset, model) == ("tiny", {"attention": "dot", "init": "xavier"})
    assert (train["precision"], train["lr"], train["seed"], train["max_steps"]) == ("bf16", 0.01, 5, 40)
    assert baseline_seed(base) == 77
    (base / "summary.json").write_text(json.dumps({"steps": 40}))         # a baseline the study trained itself
    assert baseline_seed(base) == BASELINE_SEED and _train_settings(cfg, 5, base)[0] == "small"


def test_an_experiments_own_retraining_is_its_own_run_row_and_figure(raw_dir, tmp_path):
    """The headline may retrain longer than the study: its retrained run is a run of its own (the
    other runs keep their ids), it trains its own budget, and neither the figures nor the report's
    table average it with the study's retraining as if the two were seeds."""
    from nmtprune.study.plan import plan
    from nmtprune.study.report import results_table
    from nmtprune.study.store import Store
    own = {**MICRO, "retrain": {"max_steps": 3, "batch_tokens": 1500},
           "experiments": {"headline": {"sparsities": [0.9], "retraining": {"max_steps": 5}},
                           "retrain": {"sparsities": [0.9]}}}
    plain = {**own, "experiments": {"headline": {"sparsities": [0.9]}, "retrain": {"sparsities": [0.9]}}}
    ids = {}
    for name, c in (("own", own), ("plain", plain)):
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(c))
        ids[name] = {r["id"]: r for r in plan(load_config(path=tmp_path / f"{name}.yaml"), [], 1)}
    assert set(ids["plain"]) < set(ids["own"]) and len(ids["own"]) == len(ids["plain"]) + 1
    [extra] = [r for i, r in ids["own"].items() if i not in ids["plain"]]
    assert extra["retrained"] and extra["retraining"] == {"max_steps": 5} and extra["experiment"] == "headline"

    run_study(str(raw_dir), str(tmp_path / "s"), config=str(tmp_path / "own.yaml"), progress=False)
    runs = Store(tmp_path / "s" / "study.db", create=False).runs()
    retrained = {json.dumps(r.get("retraining")): r["metrics"] for r in runs if r["kind"] == "prune" and r["retrained"]}
    assert {k: m["steps"] for k, m in retrained.items()} == {"null": 3, '{"max_steps": 5}': 5}
    assert retrained['{"max_steps": 5}']["budget"].startswith("5 steps")
    labels = [row[0] for row in results_table(runs) if row[1] == "90.0%" and row[0].startswith("class-blind +")]
    assert sorted(labels) == ["class-blind + gradual", "class-blind + gradual (5 steps, restart learning rates)"]
    report = (tmp_path / "s" / "report.md").read_text()
    headline = report.split("## Headline")[1].split("##")[0]
    assert "(5 steps, restart learning rates)" in headline and "(3 steps" not in headline


def test_an_experiments_retraining_is_checked_when_the_config_loads(tmp_path):
    from nmtprune.errors import NmtpruneError
    for bad, message in (({"max_step": 5}, "unknown key 'max_step' in retraining; valid: recipe"),
                         ({"recipe": "magic"}, "experiment 'headline': unknown retrain recipe 'magic'"),
                         ([5], "retraining is a mapping")):
        f = tmp_path / "bad.yaml"
        f.write_text(yaml.safe_dump({**MICRO, "experiments": {"headline": {"retraining": bad}}}))
        with pytest.raises(NmtpruneError, match=message):
            load_config(path=f)
    f.write_text(yaml.safe_dump({**MICRO, "experiments": {"no_retrain": {"retraining": {"max_steps": 5}}}}))
    with pytest.raises(NmtpruneError, match="unknown key 'retraining' in experiment 'no_retrain'"):
        load_config(path=f)
