"""A tiny study end to end on real data: store, figures and report agree; resume; bad configs."""
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
import torch
import yaml

from nmtprune.prune.pruning import Pruning
from nmtprune.errors import NmtpruneError
from nmtprune.study.runner import run_study, study_status
from nmtprune.study.config import load_config
from nmtprune.study.experiments import EXPERIMENTS

from helpers import TINY_STUDY

def test_store_figures_and_report_agree(study):
    out, _ = study
    db = sqlite3.connect(out / "study.db")
    rows = db.execute("SELECT status, COUNT(*) FROM runs GROUP BY status").fetchall()
    assert dict(rows).get("failed", 0) == 0, db.execute("SELECT error FROM runs WHERE status='failed'").fetchall()
    planned = json.loads(db.execute("SELECT value FROM meta WHERE key='planned'").fetchone()[0])
    assert dict(rows)["done"] == len(planned)
    # every experiment drew its figure and the report embeds it
    report = (out / "report.md").read_text()
    figs = sorted(p.name for p in (out / "figures").glob("*.png"))
    assert len(figs) == len(EXPERIMENTS)
    for f in figs:
        assert f"figures/{f}" in report
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") == len(figs)
    # the table agrees with the store
    bleu = db.execute("SELECT metrics FROM runs WHERE kind='prune' AND criterion='random' AND sparsity=0.5 "
                      "AND retrained=0 AND json_extract(spec, '$.only_classes') IS NULL").fetchone()
    m = json.loads(bleu[0])
    assert f"| random | 50.0% | {m['bleu']:.2f} |" in report
    assert "nrefs:1|case:mixed" in report and "Reproduce:" in report
    # OBD/SNIP: the share of zero-scored weights per class and the vocabulary coverage are stored and reported
    snip = json.loads(db.execute("SELECT metrics FROM runs WHERE kind='prune' AND criterion='snip' AND "
                                 "json_extract(spec, '$.only_classes') IS NULL").fetchone()[0])
    assert snip["classes"]["src_embed"]["zero_score_share"] > 0 and snip["vocab_coverage"]["sentences"] == 4
    assert "## Scoring data of OBD and SNIP" in report and "src_embed zero %" in report
    # labels: perplexity per subword piece; the BLEU table carries the signature; attention names its split
    table = report.split("## BLEU, chrF and perplexity per method and sparsity")[1]
    assert "per target subword piece" in report and "BLEU: sacreBLEU `nrefs:1|case:mixed" in table
    assert "of `test_2016_flickr`" in report
    # exact sparsity recorded for a pruned run
    assert m["sparsity"] == pytest.approx(0.5, abs=1e-4)


def test_rerun_skips_finished_runs(study, raw_dir):
    out, cfg = study
    db = sqlite3.connect(out / "study.db")
    before = db.execute("SELECT id, finished FROM runs ORDER BY id").fetchall()
    run_study(str(raw_dir), str(out), config=str(cfg), progress=False)
    assert db.execute("SELECT id, finished FROM runs ORDER BY id").fetchall() == before
    assert study_status(str(out))["done"] == len(before)


def test_study_on_a_given_baseline_checkpoint(study, tmp_path):
    out, _ = study
    base = out / "baseline-seed0"
    files_before = sorted(p.name for p in base.iterdir())
    cfg = {**TINY_STUDY, "baseline": {"checkpoint": str(base)}, "experiments": {"headline": {"sparsities": [0.9]}}}
    f = tmp_path / "given.yaml"
    f.write_text(yaml.safe_dump(cfg))
    new = tmp_path / "given"
    run_study(None, str(new), config=str(f), progress=False)             # no --data: the checkpoint's prep is used
    assert not (new / "prep").exists()
    assert sorted(p.name for p in base.iterdir()) == files_before  # the user's run directory is untouched
    old = {(r[0], r[1], r[2]): json.loads(r[3]) for r in sqlite3.connect(out / "study.db").execute(
        "SELECT kind, sparsity, retrained, metrics FROM runs WHERE kind IN ('dense', 'prune') AND criterion "
        "IS NOT 'random' AND json_extract(spec, '$.only_classes') IS NULL AND "
        "(criterion IS NULL OR criterion='magnitude') AND (allocation IS NULL OR allocation='class_blind')")}
    got = {(r[0], r[1], r[2]): json.loads(r[3]) for r in sqlite3.connect(new / "study.db").execute(
        "SELECT kind, sparsity, retrained, metrics FROM runs")}
    assert set(got) == {("dense", 0.0, 0), ("prune", 0.9, 0), ("prune", 0.9, 1)}
    for key in (("dense", 0.0, 0), ("prune", 0.9, 0)):             # same model and evaluation: same numbers
        assert got[key]["bleu"] == old[key]["bleu"] and got[key]["ppl"] == pytest.approx(old[key]["ppl"])
    assert (new / "figures" / "fig0_headline.png").is_file()
    with pytest.raises(NmtpruneError, match="one seed"):
        run_study(None, str(tmp_path / "g2"), config=str(f), seeds=2, progress=False)
    cfg["baseline"] = {"checkpoint": str(next((out / "runs").glob("*/pruned")))}
    f.write_text(yaml.safe_dump(cfg))
    with pytest.raises(NmtpruneError, match="has a pruning mask"):
        run_study(None, str(tmp_path / "g3"), config=str(f), progress=False)


def test_report_rebuilds_from_store_alone(study, tmp_path):
    out, _ = study
    (out / "report.md").unlink()
    r = subprocess.run([sys.executable, "-m", "nmtprune", "report", str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert (out / "report.md").is_file()


def test_killed_study_resumes_without_redoing(raw_dir, tmp_path):
    small = {**TINY_STUDY, "experiments": {"no_retrain": {"sparsities": [0.2, 0.4, 0.6, 0.8]},
                                           "extreme": {"sparsities": [0.9], "retrain_sparsities": [0.9]}}}
    cfg = tmp_path / "s.yaml"
    cfg.write_text(yaml.safe_dump(small))
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "nmtprune", "study", "--config", str(cfg), "--data", str(raw_dir), "--out",
           str(out), "--quiet"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 900      # generous: a loaded machine is slow; an idle one breaks out early
    done = 0
    while time.time() < deadline and p.poll() is None:
        if (out / "study.db").exists():
            try:
                done = sqlite3.connect(out / "study.db").execute(
                    "SELECT COUNT(*) FROM runs WHERE status='done'").fetchone()[0]
            except sqlite3.Error:
                done = 0
            if done >= 3:
                break
        time.sleep(0.2)
    p.send_signal(signal.SIGKILL)
    p.wait()
    db = sqlite3.connect(out / "study.db")
    first = dict(db.execute("SELECT id, finished FROM runs WHERE status='done'").fetchall())
    assert len(first) >= 3
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    after = dict(db.execute("SELECT id, finished FROM runs WHERE status='done'").fetchall())
    planned = json.loads(db.execute("SELECT value FROM meta WHERE key='planned'").fetchone()[0])
    assert sorted(after) == sorted(planned)                     # every run present once
    assert all(after[k] == v for k, v in first.items())         # finished runs were not redone


@pytest.mark.parametrize("text, message", [
    ("experiments: {pruning: {}}", "unknown experiment 'pruning'; valid: headline, no_retrain, retrain"),
    ("experiments: {no_retrain: {sparsity: [0.5]}}", "unknown key 'sparsity' in experiment 'no_retrain'"),
    ("model: {}\nexperiments: {no_retrain: {}}", "unknown key 'model'; valid: src, tgt"),
    ("baseline: {ckpt: x}\nexperiments: {no_retrain: {}}", "unknown key 'ckpt' in baseline; valid: preset"),
    ("experiments: [oops", "not valid YAML"),
    ("experiments: {retrain: {init: bogus}}", "unknown init 'bogus' in experiment 'retrain'; valid: uniform"),
    ("experiments: {snip_init: {inits: [uniform, nope]}}", "unknown init 'nope' in experiment 'snip_init'"),
])
def test_bad_study_config(tmp_path, text, message):
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    with pytest.raises(NmtpruneError, match=message):
        load_config(path=f)


def test_foreign_database_and_changed_config_are_refused(raw_dir, tmp_path, study):
    out = tmp_path / "foreign"
    out.mkdir()
    db = sqlite3.connect(out / "study.db")
    db.execute("CREATE TABLE people (name TEXT)")
    db.commit()
    before = (out / "study.db").read_bytes()
    with pytest.raises(NmtpruneError, match="not an nmtprune study store"):
        run_study(str(raw_dir), str(out), preset="quick", progress=False)
    assert (out / "study.db").read_bytes() == before
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "study.db").write_text("hello")
    with pytest.raises(NmtpruneError, match="not an SQLite database"):
        run_study(str(raw_dir), str(tmp_path / "junk"), preset="quick", progress=False)
    existing, _ = study
    other = tmp_path / "other.yaml"
    other.write_text(yaml.safe_dump({**TINY_STUDY, "evaluation": {"split": "test_2016_flickr", "beam": 1}}))
    with pytest.raises(NmtpruneError, match="different config"):
        run_study(str(raw_dir), str(existing), config=str(other), progress=False)


def test_recipe_runs_end_at_their_sparsity_and_retraining_uses_the_recipe(study):
    out, _ = study
    db = sqlite3.connect(out / "study.db")
    rows = db.execute("SELECT json_extract(spec, '$.recipe'), sparsity, metrics FROM runs WHERE kind='recipe'").fetchall()
    assert sorted(r[0] for r in rows) == ["gradual", "gradual_kd", "iterative", "oneshot"]
    for _, s, m in rows:
        assert json.loads(m)["sparsity"] == pytest.approx(s, abs=1e-4)
    m = json.loads(db.execute("SELECT metrics FROM runs WHERE kind='prune' AND retrained=1 AND "
                              "criterion='magnitude' AND sparsity=0.9").fetchone()[0])
    assert m["recipe"] == "gradual" and m["sparsity"] == pytest.approx(0.9, abs=1e-4)


def test_unknown_recipe_is_a_one_line_error(tmp_path):
    cfg = tmp_path / "s.yaml"
    cfg.write_text(yaml.safe_dump({**TINY_STUDY, "experiments": {"recipes": {"recipes": ["magic"]}}}))
    with pytest.raises(NmtpruneError, match="unknown recipe 'magic'"):
        load_config(path=cfg)
    cfg.write_text(yaml.safe_dump({**TINY_STUDY, "retrain": {"recipe": "magic"}}))
    with pytest.raises(NmtpruneError, match="s.yaml: unknown retrain recipe 'magic'"):
        load_config(path=cfg)



def test_scratch_is_reinitialised_and_rewind_starts_from_the_baselines_init(study, tmp_path):
    """Item 1: "from scratch" never starts from the dense baseline's weights; "rewind" exactly does."""
    from nmtprune.checkpoint.load import load_checkpoint
    from nmtprune.model.masks import apply_masks, load_masks
    from nmtprune.model.seq2seq import build_model
    from nmtprune.study.execute import RUN_KINDS, RunContext
    from nmtprune.study.grids import spec
    out, cfg_file = study
    cfg = load_config(path=cfg_file)
    cfg["scratch"] = {"epochs": 0, "max_steps": 1}           # no training: the run keeps its initial weights
    base = out / "baseline-seed0"
    init = build_model(load_checkpoint(base).model.cfg, seed=1234)    # the baseline's own initial weights
    same = {}
    for kind in ("scratch", "rewind"):
        s = {**spec(kind, Pruning(0.5), init="uniform" if kind == "scratch" else None, bleu=False), "seed": 0}
        (tmp_path / kind).mkdir()
        RUN_KINDS[kind](s, RunContext(cfg, out / "prep", base), tmp_path / kind)
        start = dict(build_model(init.cfg, seed=1234).named_parameters())
        ref = build_model(init.cfg, seed=1234)
        apply_masks(ref, load_masks(tmp_path / kind / "mask.safetensors"))
        got = load_checkpoint(tmp_path / kind / "trained").model.state_dict()
        same[kind] = all(torch.equal(got[n], p) for n, p in ref.state_dict().items())
        assert start                                                   # (the reference built fine)
    assert same == {"scratch": False, "rewind": True}


def test_change_figures_keep_improvements_and_subtract_same_seed_dense(tmp_path, monkeypatch):
    """Perplexity changes below 0 are drawn (symlog), not clipped to 1e-3; each seed minus its own dense."""
    from nmtprune.study.figures import classes
    drawn = {}
    monkeypatch.setattr(classes, "save", lambda fig, out, name: drawn.setdefault(name, fig) and name)
    runs = [{"kind": "dense", "seed": 0, "metrics": {"ppl": 10.0}},
            {"kind": "dense", "seed": 1, "metrics": {"ppl": 20.0}}]
    for seed, ppl in ((0, 9.0), (1, 19.0)):                  # each one better than its own dense by 1
        for alloc in ("class_uniform", "class_blind", "class_distribution"):
            runs.append({"kind": "prune", "criterion": "magnitude", "allocation": alloc, "only_classes": ["softmax"],
                         "sparsity": 0.5, "retrained": False, "seed": seed,
                         "metrics": {"ppl": ppl, "classes": {"softmax": {"max_pruned_abs": 0.1}}}})
    classes.fig_sensitivity(runs, tmp_path, {"sparsity": 0.5})
    classes.fig_max_pruned(runs, tmp_path, {"sparsities": [0.5]})
    bars = drawn["fig4_sensitivity.png"].axes[0]
    assert bars.get_yscale() == "symlog" and [p.get_height() for p in bars.patches][:1] == [-1.0]
    line = drawn["fig5_max_pruned.png"].axes[0]
    assert line.get_yscale() == "symlog" and list(line.lines[0].get_ydata()) == [-1.0]
