"""What a retraining keeps of its dense run, and the schedules it refuses."""
import json

from nmtprune.api import retrain, train

from helpers import TINY_MODEL, TINY_TRAIN, nmt


def test_retrain_keeps_the_dense_runs_own_settings_unless_told(prep_dir, tmp_path):
    dense = tmp_path / "dense"
    train(prep_dir, dense, preset="tiny", model_overrides=TINY_MODEL,
          train_overrides={**TINY_TRAIN, "max_steps": 1, "precision": "bf16", "label_smoothing": 0.05},
          progress=False)
    retrain(dense, tmp_path / "g", train_overrides={"max_steps": 1}, prune_to=0.5, progress=False)
    t = json.loads((tmp_path / "g" / "config.json").read_text())["train"]
    assert (t["precision"], t["label_smoothing"], t["batch_tokens"]) == ("bf16", 0.05, TINY_TRAIN["batch_tokens"])
    # through a one-cut checkpoint too (provenance: pruned from -> trained), and overridable
    r = nmt("prune", dense, "--sparsity", "0.5", "--out", tmp_path / "p", "--quiet")
    assert r.returncode == 0, r.stderr
    retrain(tmp_path / "p", tmp_path / "r", train_overrides={"max_steps": 1, "precision": "fp32"}, progress=False)
    t = json.loads((tmp_path / "r" / "config.json").read_text())["train"]
    assert (t["precision"], t["label_smoothing"]) == ("fp32", 0.05)
