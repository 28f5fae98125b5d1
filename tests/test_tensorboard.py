"""--tensorboard: loss, perplexity, learning rate and sparsity per step (read back from the event
files), validation perplexity per epoch; without the package, a one-line error and no run."""
import math
import sys

import pytest

from helpers import TINY_MODEL, TINY_TRAIN
from nmtprune.prune.pruning import Pruning
from nmtprune.api import retrain, train
from nmtprune.cli import main
from nmtprune.errors import NmtpruneError
from nmtprune.prune import prune

TAGS = ("train/loss", "train/ppl", "train/lr", "train/sparsity")


def curves(rundir) -> dict:
    """``{tag: [(step, value), ...]}`` from the run's event files."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    acc = EventAccumulator(str(rundir / "tensorboard"))
    acc.Reload()
    return {t: [(e.step, e.value) for e in acc.Scalars(t)] for t in acc.Tags()["scalars"]}


def test_curves_per_step_while_training_and_retraining(prep_dir, tmp_path):
    pytest.importorskip("tensorboard")
    s = train(prep_dir, tmp_path / "run", preset="tiny", model_overrides=TINY_MODEL, train_overrides=TINY_TRAIN, progress=False, prune_to=0.5,
              tensorboard=True)
    c = curves(tmp_path / "run")
    assert set(TAGS) | {"valid/ppl"} <= set(c)
    n = s["steps"]
    for t in TAGS:                                     # one value per optimizer step
        assert [step for step, _ in c[t]] == list(range(1, n + 1)), t
    for (_, loss), (_, ppl) in zip(c["train/loss"], c["train/ppl"]):
        assert ppl == pytest.approx(math.exp(loss), rel=1e-4)
    assert all(v == pytest.approx(TINY_TRAIN["lr"]) for _, v in c["train/lr"])
    sp = [v for _, v in c["train/sparsity"]]          # gradual pruning: 0 -> 0.5, never down
    assert sp[0] == 0 and sp[-1] == pytest.approx(0.5, abs=1e-3) and sp == sorted(sp)
    assert [step for step, _ in c["valid/ppl"]] == [n]
    # retraining a pruned model: its fixed mask's sparsity at every step
    prune(tmp_path / "run", Pruning(0.7, criterion="magnitude", allocation="class_blind"), tmp_path / "p")
    s = retrain(tmp_path / "p", tmp_path / "re", train_overrides={"max_steps": 3, "batch_tokens": 1500}, progress=False,
                tensorboard=True)
    c = curves(tmp_path / "re")
    assert [step for step, _ in c["train/sparsity"]] == [1, 2, 3]
    assert all(v == pytest.approx(0.7, abs=1e-4) for _, v in c["train/sparsity"])


def test_without_the_package_a_one_line_error_and_no_run(prep_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)        # import fails as if absent
    with pytest.raises(NmtpruneError, match=r"pip install 'nmtprune\[tensorboard\]'"):
        train(prep_dir, tmp_path / "a", preset="tiny", model_overrides=TINY_MODEL, train_overrides=TINY_TRAIN, progress=False, tensorboard=True)
    assert not (tmp_path / "a").exists()
    assert main(["train", str(prep_dir), "--preset", "tiny", "--tensorboard", "--out", str(tmp_path / "b")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == ["error: --tensorboard needs the tensorboard package: pip install 'nmtprune[tensorboard]'"]
    assert not (tmp_path / "b").exists()
