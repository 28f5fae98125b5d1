"""Every run directory has its log: train and retrain (train.log), a pruned checkpoint
(prune.log), iterate (iterate.log and its rounds' own), a study (study.log and its runs' own)."""
from pathlib import Path

import yaml

from helpers import TINY_MODEL, TINY_TRAIN
from nmtprune.prune.pruning import Pruning
from nmtprune.api import train
from nmtprune.cli import main
from nmtprune.study.runner import run_study, study_status
from nmtprune.training.iterate import iterate

MINI_STUDY = {
    "prepare": {"vocab_size": 300},
    "baseline": {"preset": "tiny", "model": {"emb_dim": 16, "enc_hidden": 24, "dec_hidden": 24},
                 "train": {"epochs": 1, "max_steps": 2, "batch_tokens": 1500}},
    "evaluation": {"split": "test_2016_flickr", "beam": 1, "batch_size": 100},
    "retrain": {"max_steps": 2, "batch_tokens": 1500},
    "scoring": {"batches": 1, "batch_size": 4},
    "experiments": {"no_retrain": {"sparsities": [0.5]},
                    "recipes": {"sparsities": [0.5], "recipes": ["oneshot", "iterative"]}},
}


def test_train_prune_and_iterate_runs_have_logs(prep_dir, tmp_path, capsys):
    dense = tmp_path / "dense"
    train(prep_dir, dense, preset="tiny", model_overrides=TINY_MODEL, train_overrides={**TINY_TRAIN, "max_steps": 2}, progress=False)
    assert "epoch 1: train loss" in (dense / "train.log").read_text()
    # prune's line: on the console as the command always printed it, and in the output's prune.log
    assert main(["prune", str(dense), "--sparsity", "0.5", "--out", str(tmp_path / "p")]) == 0
    line = next(x for x in capsys.readouterr().err.splitlines() if x.startswith("pruned "))
    assert line.endswith(f"weights (50.00%) -> {tmp_path / 'p'}")
    assert line in (tmp_path / "p" / "prune.log").read_text()
    it = tmp_path / "it"
    iterate(dense, it, Pruning(0.75), rounds=2, epochs=1, train_overrides={"max_steps": 1, "batch_tokens": 1500},
            progress=False)
    log = (it / "iterate.log").read_text()
    assert "round 1/2: sparsity 0.5000" in log and "round 2/2" in log and "epoch 1: train loss" in log
    for r in (1, 2):
        assert "pruned " in (it / f"round{r}" / "pruned" / "prune.log").read_text()
        assert "epoch 1: train loss" in (it / f"round{r}" / "retrained" / "train.log").read_text()


def test_every_run_directory_of_a_study_has_its_log(raw_dir, tmp_path):
    cfg = tmp_path / "study.yaml"
    cfg.write_text(yaml.safe_dump(MINI_STUDY))
    out = tmp_path / "out"
    run_study(str(raw_dir), str(out), config=str(cfg), progress=False)
    assert study_status(str(out))["failed"] == 0
    assert "runs planned" in (out / "study.log").read_text()
    logs: dict[str, int] = {}
    for model in out.rglob("model.safetensors"):
        run: Path = model.parent
        names = [p.name for p in run.glob("*.log")]
        assert len(names) == 1, (run, names)              # train.log or prune.log
        assert (run / names[0]).stat().st_size > 0
        logs[names[0]] = logs.get(names[0], 0) + 1
    assert logs.get("train.log", 0) >= 3 and logs.get("prune.log", 0) >= 3       # baseline, retrained, rounds
    (iterative,) = [p.parent for p in out.rglob("iterate.json")]
    assert "round 3/3" in (iterative / "iterate.log").read_text()
