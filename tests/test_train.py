import logging
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file

from nmtprune.api import evaluate, train, translate
from nmtprune.checkpoint.load import load_checkpoint
from nmtprune.errors import NmtpruneError

from helpers import TINY_MODEL, TINY_TRAIN


@pytest.fixture(scope="module")
def run_dir(prep_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "tiny"
    summary = train(prep_dir, out, preset="tiny", model_overrides=TINY_MODEL, train_overrides={**TINY_TRAIN, "epochs": 2}, progress=False)
    assert summary["epochs"] == 2
    return out


def test_training_learns_and_logs(run_dir):
    lines = (run_dir / "log.csv").read_text().splitlines()
    assert lines[0].startswith("epoch,steps,train_loss,valid_ppl")
    ppl = [float(l.split(",")[3]) for l in lines[1:]]
    assert len(ppl) == 2 and ppl[1] < ppl[0] < 600   # better than uniform over the vocabulary
    # the run's messages are in its train.log, though nobody configured logging
    log = (run_dir / "train.log").read_text()
    assert "epoch 1: train loss" in log and "epoch 2: train loss" in log
    assert not logging.getLogger("nmtprune.training").handlers     # detached when the run ended


def test_checkpoint_round_trip_gives_identical_outputs(run_dir, tmp_path):
    ck = load_checkpoint(run_dir)
    lines = ["Ein Mann fährt Fahrrad.", "Zwei Hunde spielen im Schnee."]
    first = translate(ck, lines, beam=3)
    again = translate(str(run_dir / "model.safetensors"), lines, beam=3)
    assert first == again
    state = load_file(str(run_dir / "model.safetensors"))
    assert all(torch.equal(state[k], v) for k, v in ck.model.state_dict().items())


def test_evaluate_writes_hypotheses(run_dir, tmp_path):
    r = evaluate(run_dir, split="test_2016_flickr", beam=2, out_dir=str(tmp_path))
    assert r["sentences"] == 100 and 0 <= r["bleu"] <= 100 and r["ppl"] > 1
    assert r["signature"].startswith("nrefs:1|")
    hyps = open(r["hypotheses"]).read().splitlines()
    assert len(hyps) == 100


def test_evaluate_on_raw_data_dir_matches_prepared(run_dir, raw_dir, tmp_path):
    a = evaluate(run_dir, split="test_2016_flickr", beam=1, out_dir=str(tmp_path / "a"))
    b = evaluate(run_dir, split="test_2016_flickr", data=str(raw_dir), beam=1, out_dir=str(tmp_path / "b"))
    assert (a["bleu"], a["ppl"]) == (b["bleu"], b["ppl"])


def test_existing_run_is_not_overwritten(run_dir, prep_dir):
    before = (run_dir / "model.safetensors").read_bytes()
    with pytest.raises(NmtpruneError, match="already holds a run; use --resume"):
        train(prep_dir, run_dir, preset="tiny", model_overrides=TINY_MODEL, train_overrides=TINY_TRAIN, progress=False)
    with pytest.raises(NmtpruneError, match="--resume: train.lr is 0.5"):
        train(prep_dir, run_dir, preset="tiny", model_overrides=TINY_MODEL, train_overrides={**TINY_TRAIN, "lr": 0.5}, resume=True, progress=False)
    assert (run_dir / "model.safetensors").read_bytes() == before


def test_nan_loss_stops_with_last_good_checkpoint(prep_dir, tmp_path, monkeypatch):
    from nmtprune.model.seq2seq import Seq2Seq
    from nmtprune.data.batching import make_batches
    from nmtprune.data.prepared import Prepared
    first_epoch = len(make_batches(Prepared(prep_dir).load("train"), TINY_TRAIN["batch_tokens"], shuffle=True, seed=1235,
                                   multiple=8))
    calls = {"n": 0}
    real = Seq2Seq.loss

    def poisoned(self, batch, *, label_smoothing=0.0):
        loss, nll = real(self, batch, label_smoothing=label_smoothing)
        calls["n"] += 1
        return (loss * float("nan"), nll) if self.training and calls["n"] > first_epoch + 2 else (loss, nll)

    monkeypatch.setattr(Seq2Seq, "loss", poisoned)
    out = tmp_path / "nan"
    with pytest.raises(NmtpruneError, match="non-finite loss at epoch 2, batch"):
        train(prep_dir, out, preset="tiny", model_overrides=TINY_MODEL, train_overrides={**TINY_TRAIN, "epochs": 3}, progress=False)
    good = load_checkpoint(out)           # epoch 1's checkpoint is intact and loads
    assert good.info["epoch"] == 1
    assert all(torch.isfinite(p).all() for p in good.model.parameters())


def _train_cmd(prep_dir, out, extra=()):
    model = [f"--model={k}={v}" for k, v in TINY_MODEL.items()]
    return [sys.executable, "-m", "nmtprune", "train", str(prep_dir), "--preset", "tiny", "--out", str(out),
            "--epochs", "2", "--batch-tokens", "1500", "--lr", "0.003", "--save-every", "3", "--quiet",
            *model, *extra]


def test_resume_after_sigkill_matches_uninterrupted_run(prep_dir, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    full, killed = tmp_path / "full", tmp_path / "killed"
    subprocess.run(_train_cmd(prep_dir, full), check=True, env=env, capture_output=True)
    proc = subprocess.Popen(_train_cmd(prep_dir, killed), env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not (killed / "state.pt").exists() and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    state = torch.load(killed / "state.pt", weights_only=False)["progress"]
    assert state["stopped"] is None, "the run finished before it could be killed"
    subprocess.run(_train_cmd(prep_dir, killed, ["--resume"]), check=True, env=env, capture_output=True)
    a = torch.load(full / "state.pt", weights_only=False)
    b = torch.load(killed / "state.pt", weights_only=False)
    assert a["progress"]["steps"] == b["progress"]["steps"]
    for k, v in a["model"].items():
        assert torch.equal(v, b["model"][k]), k
    assert load_file(str(full / "model.safetensors")).keys() == load_file(str(killed / "model.safetensors")).keys()


def test_package_level_api_names_are_the_functions():
    import nmtprune
    import nmtprune.api  # noqa: F401  (importing every submodule must not shadow the API)
    for name in ("prepare", "train", "translate", "evaluate", "retrain"):
        assert callable(getattr(nmtprune, name)), name


def test_bf16_autocast_trains_like_fp32(prep_dir, tmp_path):
    """precision=bf16 runs the step under bfloat16 autocast: same recipe, nearly the same
    losses (fp32 weights and loss), fp32 validation perplexity, fp32 checkpoint."""
    logs = {}
    for prec in ("fp32", "bf16"):
        train(prep_dir, tmp_path / prec, preset="tiny", model_overrides=TINY_MODEL, train_overrides={**TINY_TRAIN, "max_steps": 25, "precision": prec},
              progress=False)
        logs[prec] = (tmp_path / prec / "log.csv").read_text().splitlines()[1].split(",")
        assert all(v.dtype == torch.float32 for v in load_file(tmp_path / prec / "model.safetensors").values()
                   if v.is_floating_point())
    loss32, loss16 = float(logs["fp32"][2]), float(logs["bf16"][2])
    ppl32, ppl16 = float(logs["fp32"][3]), float(logs["bf16"][3])
    assert loss16 == pytest.approx(loss32, rel=0.02) and ppl16 == pytest.approx(ppl32, rel=0.05)
    assert loss16 != loss32                      # it really ran in bf16
    with pytest.raises(NmtpruneError, match="precision"):
        train(prep_dir, tmp_path / "bad", preset="tiny", model_overrides=TINY_MODEL, train_overrides={"precision": "fp8"}, progress=False)


def test_resume_of_a_run_older_than_a_setting(tmp_path):
    """A run whose config predates batch_multiple used 1: resuming asks for that value."""
    import json
    from nmtprune.training.rundir import check_resume
    old = {"model": {"emb_dim": 16}, "train": {"lr": 0.1}, "prep": "p", "mask": None, "snip": None}
    (tmp_path / "config.json").write_text(json.dumps(old))
    new = {**old, "train": {"lr": 0.1, "batch_multiple": 8}}
    with pytest.raises(NmtpruneError, match="train.batch_multiple is 8 but the run .* used 1"):
        check_resume(tmp_path, new)
    check_resume(tmp_path, {**old, "train": {"lr": 0.1, "batch_multiple": 1}})


def test_loss_norm_sentences_scales_the_step_by_tokens_per_sentence(prep_dir, prepared, tmp_path):
    """One SGD step (no clipping): per-sentence normalisation moves every weight
    n_tokens / n_sentences times as far as per-token normalisation (Luong / See et al.)."""
    from nmtprune.checkpoint.load import load_checkpoint
    from nmtprune.data.batching import collate, make_batches
    from nmtprune.model.seq2seq import build_model
    from nmtprune.training.presets import get_preset
    deltas = {}
    for norm in ("tokens", "sentences"):
        cfg = {**TINY_TRAIN, "optimizer": "sgd", "lr": 0.01, "clip": 1e9, "max_steps": 1, "loss_norm": norm}
        train(prep_dir, tmp_path / norm, preset="tiny", model_overrides={**TINY_MODEL, "dropout": 0.0}, train_overrides=cfg, progress=False)
        ck = load_checkpoint(tmp_path / norm)
        init = build_model(ck.model.cfg, seed=1234).state_dict()
        deltas[norm] = {n: p - init[n] for n, p in ck.model.state_dict().items()}
    train_c = prepared.load("train")
    batch = collate(train_c, make_batches(train_c, TINY_TRAIN["batch_tokens"], shuffle=True, seed=1235,
                                          multiple=8)[0])
    ratio = batch.n_tokens / batch.src.size(0)
    w = "decoder.out.weight"
    assert torch.allclose(deltas["sentences"][w], ratio * deltas["tokens"][w], rtol=1e-3, atol=1e-7)
    paper = get_preset("paper")
    assert (paper.train.optimizer, paper.train.lr, paper.train.clip, paper.train.loss_norm) == ("sgd", 1.0, 5.0,
                                                                                            "sentences")
    assert paper.prepare == {"tokenizer": "word", "vocab_size": 50000}
    assert get_preset("small").train.loss_norm == "tokens"
