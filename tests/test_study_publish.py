"""Publishing a study: results.csv beside the report, `nmtprune report --export DIR`."""
import json
import sqlite3
import subprocess
import sys

import pytest

from nmtprune.errors import NmtpruneError


def test_results_csv_has_every_run_and_export_publishes_only_the_report(study, tmp_path):
    import csv
    out, _ = study
    r = subprocess.run([sys.executable, "-m", "nmtprune", "report", str(out), "--export", str(tmp_path / "pub")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    db = sqlite3.connect(out / "study.db")
    done = {rid: json.loads(m) for rid, m in db.execute("SELECT id, metrics FROM runs WHERE status='done'")}
    with open(tmp_path / "pub" / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert {row["id"] for row in rows} == set(done) and len(rows) == len(done)
    for row in rows:                     # the CSV's numbers are the store's
        m = done[row["id"]]
        assert float(row["achieved_sparsity"]) == pytest.approx(m["sparsity"], rel=1e-5)
        assert float(row["ppl"]) == pytest.approx(m["ppl"], rel=1e-5)
        assert (row["bleu"] == "") == ("bleu" not in m)
        if "bleu" in m:
            assert float(row["bleu"]) == pytest.approx(m["bleu"]) and row["signature"] == m["signature"]
    assert {row["recipe"] for row in rows if row["kind"] == "recipe"} == {"oneshot", "gradual", "gradual_kd",
                                                                         "iterative"}
    # the published set: report, CSV and exactly the figures the report links; nothing else travels
    pub = tmp_path / "pub"
    assert sorted(p.name for p in pub.iterdir()) == ["figures", "report.md", "results.csv"]
    assert sorted(p.name for p in (pub / "figures").iterdir()) == sorted(p.name for p in (out / "figures").glob("*.png"))
    (pub / "figures" / "old_figure.png").write_bytes(b"stale")
    (pub / "small.yaml").write_text("kept: true\n")
    from nmtprune.study.publish import publish
    publish(out, pub)
    assert not (pub / "figures" / "old_figure.png").exists() and (pub / "small.yaml").read_text() == "kept: true\n"
    with pytest.raises(NmtpruneError, match="study directory itself"):
        publish(out, out)


def test_report_table_names_each_recipe_and_counts_a_shared_run_once(study):
    """The study's retraining (gradual) and the recipes run of gradual are one computation: one row
    per recipe, and no spread made of different recipes or of a run counted twice (one seed here)."""
    out, _ = study
    table = (out / "report.md").read_text().split("| method | sparsity |")[1]
    for recipe in ("oneshot", "gradual", "gradual_kd", "iterative"):
        rows = [line for line in table.splitlines() if line.startswith(f"| class-blind + {recipe} | 90.0% |")]
        assert len(rows) == 1 and "±" not in rows[0], rows


def test_report_names_the_study_dir_as_its_command_did_never_an_absolute_path(tmp_path):
    from nmtprune.study.report import study_dir_words
    assert study_dir_words("nmtprune study --config x.yaml --out studies/small --quiet", tmp_path) == "studies/small"
    assert study_dir_words("nmtprune study --out=runs/s", tmp_path) == "runs/s"
    assert study_dir_words(None, tmp_path / "mine") == "mine"


def test_published_report_names_no_absolute_path(tmp_path):
    from nmtprune.study.publish import relative_paths
    base = tmp_path / "proj"
    base.mkdir()
    text = f"Reproduce: `nmtprune study --data {tmp_path}/shared/data --out {base}/studies/q` (see /usr/share/x)"
    got = relative_paths(text, base)
    assert got == "Reproduce: `nmtprune study --data ../shared/data --out studies/q` (see /usr/share/x)"


def test_the_headline_figure_title_states_its_finding():
    from nmtprune.study.figures.sparsity import headline_finding
    rows = [("80%", 0.64, 0, 9), ("80% + retrain", 32.24, 0, 9), ("90%", 0.01, 0, 9), ("90% + retrain", 5.51, 0, 9)]
    assert headline_finding(rows, 36.56) == ("At 80% / 90% of weights removed: one cut 0.6 / 0.0 BLEU, "
                                             "retrained 32.2 / 5.5 (dense 36.6)")
    assert headline_finding(rows[:1], 36.56).endswith("(BLEU 36.6)")      # nothing retrained to compare


def _run(kind, crit, alloc, x, bleu, *, retrained=False, ppl=10.0, only=None, seed=0, **extra):
    return {"kind": kind, "criterion": crit, "allocation": alloc, "sparsity": x, "retrained": retrained,
            "only_classes": only, "granularity": None, "seed": seed, "init": None,
            "metrics": {"bleu": bleu, "ppl": ppl, **extra}}


def test_figure_titles_state_findings_from_their_runs():
    """Each title is computed from the runs: the allocations where they differ most, each arm at
    the experiment's largest sparsity, and the class pruning hurts most (here, as on the real
    models, the one that lost the smallest weights)."""
    from nmtprune.study.figures import findings
    runs = [_run("dense", None, None, 0.0, 36.6, ppl=8.0)]
    for x, (cb, cu, cd, rnd) in {0.5: (35.2, 34.5, 34.5, 0.4), 0.7: (16.3, 25.4, 22.9, 0.1)}.items():
        for (c, a), b in zip([("magnitude", "class_blind"), ("magnitude", "class_uniform"),
                              ("magnitude", "class_distribution"), ("random", "class_blind")], (cb, cu, cd, rnd)):
            runs.append(_run("prune", c, a, x, b))
    assert findings.no_retrain(runs, {"sparsities": [0.5, 0.7]}) == (
        "Without retraining, at 70%: class-uniform 25.4, class-distribution 22.9, class-blind 16.3, random 0.1 BLEU")
    runs += [_run("prune", "magnitude", "class_blind", 0.7, 30.0, retrained=True),
             _run("scratch", "magnitude", "class_blind", 0.7, 2.0), _run("rewind", "magnitude", "class_blind", 0.7, 3.0)]
    assert findings.retrain(runs, {"sparsities": [0.5, 0.7]}) == (
        "At 70%: retrained 30.0, one cut 16.3, rewind 3.0, from scratch 2.0 BLEU")
    for c, ppl, mx in (("softmax", 300.0, 0.15), ("tgt_embed", 10.0, 0.25)):
        runs.append(_run("prune", "magnitude", "class_uniform", 0.9, 0.0, ppl=ppl, only=[c],
                         classes={c: {"max_pruned_abs": mx}}))
    from nmtprune.study.figures.classes import max_pruned_points, sensitivity_changes
    s = {"sparsities": [0.5, 0.9], "sparsity": 0.9}
    assert findings.max_pruned(max_pruned_points(runs, s), 0.9) == (
        "At 90% of one class: softmax hurts most (perplexity +292.0), though it lost the smallest weights "
        "(largest |w| removed 0.150)")
    assert findings.sensitivity(sensitivity_changes(runs, s, "magnitude", "class_uniform"), 0.9) == (
        "Pruning 90% of one class alone: softmax hurts most (perplexity +292.0), tgt_embed least (+2.0)")
    assert findings.max_pruned(max_pruned_points(runs, s), 0.5) == "Perplexity change against the largest |w| removed"
    assert findings.ranked({"a": 1.0, "b": None, "c": 2.5}) == "c 2.5, a 1.0 BLEU"
