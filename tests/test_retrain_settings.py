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


def test_precision_auto_is_resolved_to_what_the_device_runs_natively(prep_dir, tmp_path, monkeypatch):
    """``auto`` becomes bf16 where the CPU has native bf16 (AVX512-BF16 or AMX), else fp32; the
    run records the resolved value, so a retraining inherits it and a resume compares it."""
    import torch

    from nmtprune import runtime
    cpu = torch.device("cpu")
    assert runtime.resolve_precision("fp32", cpu) == "fp32" and runtime.resolve_precision("bf16", cpu) == "bf16"
    for native, expected in ((True, "bf16"), (False, "fp32")):
        monkeypatch.setattr(runtime, "native_bf16", lambda device, native=native: native)
        assert runtime.resolve_precision("auto", cpu) == expected
        run = tmp_path / expected
        train(prep_dir, run, preset="tiny", model_overrides=TINY_MODEL,
              train_overrides={**TINY_TRAIN, "max_steps": 1, "precision": "auto"}, progress=False)
        assert json.loads((run / "config.json").read_text())["train"]["precision"] == expected
    retrain(tmp_path / "bf16", tmp_path / "g", train_overrides={"max_steps": 1}, prune_to=0.5, progress=False)
    assert json.loads((tmp_path / "g" / "config.json").read_text())["train"]["precision"] == "bf16"
