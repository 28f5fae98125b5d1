"""Recovery recipes: exact re-pruning, gradual pruning, learning-rate schedules, distillation."""
import json
from pathlib import Path

import pytest
import torch

from nmtprune.prune.pruning import Pruning
from nmtprune.api import prepare, retrain, train
from nmtprune.checkpoint.load import load_checkpoint
from nmtprune.errors import NmtpruneError
from nmtprune.model.masks import apply_masks, sparsity_of
from nmtprune.model.seq2seq import build_model
from nmtprune.prune import compute_masks, inspect, prune
from nmtprune.prune.allocation import ALLOCATIONS
from nmtprune.prune.compute import prunable_classes
from nmtprune.prune.saliency import CRITERIA, ScoringData
from nmtprune.training.gradual import GradualSchedule, plan
from nmtprune.training.iterate import iterate, round_sparsities
from nmtprune.training.schedules import schedule_lrs

from helpers import TINY_MODEL, TINY_TRAIN, tiny_config


def test_cubic_schedule_endpoints_and_shape():
    g = GradualSchedule(Pruning(0.8), initial=0.2, start=10, end=110, every=10)
    assert g.sparsity_at(0) == 0.2 and g.sparsity_at(10) == 0.2
    assert g.sparsity_at(110) == 0.8 and g.sparsity_at(500) == 0.8
    # Zhu & Gupta: s_f + (s_i - s_f)(1 - 1/2)^3 at the middle of the ramp.
    assert g.sparsity_at(60) == pytest.approx(0.8 + (0.2 - 0.8) * 0.125)
    seq = [g.sparsity_at(t) for t in range(0, 120)]
    assert all(b >= a for a, b in zip(seq, seq[1:]))
    assert [t for t in range(200) if g.due(t)] == list(range(10, 111, 10))


def test_retrain_default_budget_is_two_thirds_of_the_preset_and_overridable():
    from nmtprune.training.presets import get_preset, retrain_config
    assert get_preset("small").train.epochs == 30 and retrain_config("small", None).epochs == 20
    assert retrain_config("tiny", None).epochs == 1                    # never below one epoch
    assert retrain_config("small", {"epochs": 4}).epochs == 4
    assert retrain_config("small", None).max_minutes == 0.0            # a budget in epochs, never minutes


def test_plan_picks_about_twenty_updates():
    g = plan(Pruning(0.9), initial=0.0, total_steps=1000, start_frac=0.1, end_frac=0.5, every=0)
    assert (g.start, g.end, g.every) == (100, 500, 20)


@pytest.fixture(scope="module")
def model_data(prepared):
    model = build_model(tiny_config(prepared, dropout=0.0), seed=0)
    return model, ScoringData(prepared.load("train"), batches=1, batch_size=4, seed=1)


@pytest.mark.parametrize("criterion", sorted(CRITERIA))
@pytest.mark.parametrize("allocation", sorted(ALLOCATIONS))
def test_repruning_lands_exactly_and_keeps_what_was_removed(model_data, criterion, allocation):
    model0, data = model_data
    model = build_model(model0.cfg, seed=0)
    first = compute_masks(model, Pruning(0.5, criterion=criterion, allocation=allocation), data=data)
    apply_masks(model, first)
    data.seed = 7      # another seed for random: today's overshoot came from re-drawn scores
    second = compute_masks(model, Pruning(0.8, criterion=criterion, allocation=allocation), data=data, start=first)
    data.seed = 1
    assert all(not bool((second[n] & ~first[n]).any()) for n in first)      # removed stays removed
    if allocation == "class_uniform":
        for names in prunable_classes(model).values():
            total = sum(second[n].numel() for n in names)
            assert sum(int((~second[n]).sum()) for n in names) == round(0.8 * total)
    else:
        total = sum(m.numel() for m in second.values())
        assert sum(int((~m).sum()) for m in second.values()) == round(0.8 * total)


def test_prune_cli_api_repruning_random_is_exact(tmp_path, prep_dir):
    run = tmp_path / "run"
    train(prep_dir, run, preset="tiny", model_overrides=TINY_MODEL, train_overrides={**TINY_TRAIN, "max_steps": 3}, progress=False)
    prune(run, Pruning(0.5, criterion="random", allocation="class_blind", seed=0), tmp_path / "p50")
    prune(tmp_path / "p50", Pruning(0.8, criterion="random", allocation="class_blind", seed=1), tmp_path / "p80")
    assert inspect(tmp_path / "p80", sizes=False)["sparsity"] == pytest.approx(0.8, abs=1e-4)


@pytest.fixture(scope="module")
def dense(prep_dir, tmp_path_factory):
    run = tmp_path_factory.mktemp("rec") / "dense"
    train(prep_dir, run, preset="tiny", model_overrides=TINY_MODEL, train_overrides={**TINY_TRAIN, "epochs": 2}, progress=False)
    return run


def _weights_at_mask_are_zero(run):
    ck = load_checkpoint(run)
    assert ck.masks is not None
    params = dict(ck.model.named_parameters())
    assert all(float(params[n].detach()[~m].abs().sum()) == 0.0 for n, m in ck.masks.items())
    return inspect(run, sizes=False)["sparsity"]


def test_train_with_prune_to_ends_exactly_at_target(prep_dir, tmp_path):
    s = train(prep_dir, tmp_path / "g", preset="tiny", model_overrides=TINY_MODEL, train_overrides={**TINY_TRAIN, "epochs": 2, "max_steps": 20},
              progress=False, prune_to=0.8)
    assert s["sparsity"] == pytest.approx(0.8, abs=1e-5)
    assert _weights_at_mask_are_zero(tmp_path / "g") == pytest.approx(0.8, abs=1e-4)


def test_train_with_prune_to_saves_the_epochs_before_the_first_cut(prep_dir, tmp_path):
    """From scratch the ramp starts late (``prune_start``): an epoch that ends before the first
    cut is saved dense (it crashed on the missing mask), and the run still ends exactly at S."""
    s = train(prep_dir, tmp_path / "g", preset="tiny", model_overrides=TINY_MODEL,
              train_overrides={**TINY_TRAIN, "epochs": 3, "prune_start": 0.5, "prune_end": 0.9}, progress=False, prune_to=0.8)
    assert s["epochs"] == 3 and s["sparsity"] == pytest.approx(0.8, abs=1e-5)
    assert _weights_at_mask_are_zero(tmp_path / "g") == pytest.approx(0.8, abs=1e-4)


def test_retrain_dense_with_prune_to_and_resume_state_keeps_masks(dense, tmp_path):
    s = retrain(dense, tmp_path / "r", train_overrides={"epochs": 1, "max_steps": 10, "batch_tokens": 1500},
                progress=False, prune_to=0.9)
    assert s["sparsity"] == pytest.approx(0.9, abs=1e-5)
    assert _weights_at_mask_are_zero(tmp_path / "r") == pytest.approx(0.9, abs=1e-4)
    state = torch.load(tmp_path / "r" / "state.pt", weights_only=False)
    assert sparsity_of(state["masks"]) == pytest.approx(0.9, abs=1e-5)


def test_retrain_a_dense_checkpoint_without_target_trains_it_on(dense, tmp_path):
    """The equal-compute dense control: same retraining settings, nothing pruned."""
    s = retrain(dense, tmp_path / "c", train_overrides={"epochs": 1}, progress=False)
    assert s["epochs"] == 1 and s["steps"] > 0 and s.get("sparsity", 0.0) == 0.0
    assert not (tmp_path / "c" / "model.masks.safetensors").exists()
    cfg = json.loads((tmp_path / "c" / "config.json").read_text())
    assert not cfg["train"]["prune_to"] and cfg["source"].endswith("model.safetensors")
    from safetensors.torch import load_file
    before, after = load_file(str(Path(dense) / "model.safetensors")), load_file(str(tmp_path / "c" / "model.safetensors"))
    assert any(not torch.equal(before[k], after[k]) for k in before)          # it did train


def test_retrain_bad_inputs_write_nothing(dense, tmp_path):
    for bad in (0.0, 1.0, 1.5, -0.1):
        with pytest.raises(NmtpruneError, match="--prune-to"):
            retrain(dense, tmp_path / "b", train_overrides={"epochs": 1}, progress=False, prune_to=bad)
    assert not (tmp_path / "b").exists()


def test_distillation_from_dense_teacher_keeps_sparsity(dense, tmp_path):
    prune(dense, Pruning(0.7, criterion="magnitude", allocation="class_blind"), tmp_path / "p70")
    s = retrain(tmp_path / "p70", tmp_path / "kd", train_overrides={"epochs": 1, "max_steps": 6, "batch_tokens": 1500},
                progress=False, teacher=str(dense))
    assert s["steps"] == 6
    assert _weights_at_mask_are_zero(tmp_path / "kd") == pytest.approx(0.7, abs=1e-4)
    cfg = json.loads((tmp_path / "kd" / "config.json").read_text())
    assert cfg["teacher"].endswith("model.safetensors")


def test_teacher_with_other_tokenizers_is_refused(dense, prep_dir, raw_dir, tmp_path):
    other = prepare(tmp_path / "prep2", data=raw_dir, src="de", tgt="en", vocab_size=400)
    train(other, tmp_path / "t2", preset="tiny", model_overrides=TINY_MODEL, train_overrides={**TINY_TRAIN, "max_steps": 2}, progress=False)
    prune(dense, Pruning(0.5, criterion="magnitude", allocation="class_blind"), tmp_path / "p50")
    with pytest.raises(NmtpruneError, match="tokenizers"):
        retrain(tmp_path / "p50", tmp_path / "kd", train_overrides={"epochs": 1}, progress=False,
                teacher=str(tmp_path / "t2"))
    assert not (tmp_path / "kd").exists()


def test_schedules_replay_the_dense_learning_rates():
    hist = [2e-3] * 5 + [1e-3, 5e-4, 2.5e-4]
    assert schedule_lrs("finetune", 4, hist) == [2.5e-4]
    assert schedule_lrs("rewind", 3, hist) == [1e-3, 5e-4, 2.5e-4]
    assert schedule_lrs("rewind", 10, hist) == [2e-3] * 2 + hist
    assert schedule_lrs("restart", 3, hist) == []
    # The whole schedule compressed: epoch e plays dense epoch floor(e * 8 / 4).
    assert schedule_lrs("replay", 4, hist) == [2e-3, 2e-3, 2e-3, 5e-4]
    assert schedule_lrs("replay", 16, hist) == [x for x in hist for _ in range(2)]


def test_rewind_retrain_uses_the_dense_runs_rates(dense, tmp_path):
    prune(dense, Pruning(0.5, criterion="magnitude", allocation="class_blind"), tmp_path / "p")
    retrain(tmp_path / "p", tmp_path / "rw", train_overrides={"epochs": 2, "max_steps": 4, "batch_tokens": 1500},
            progress=False, schedule="rewind")
    dense_lrs = [float(l.split(",")[4]) for l in (dense / "log.csv").read_text().splitlines()[1:]]
    cfg = json.loads((tmp_path / "rw" / "config.json").read_text())
    assert cfg["train"]["lr_epochs"] == dense_lrs[-2:]


def test_iterative_rounds_prune_the_same_share_and_end_exactly(dense, tmp_path):
    assert round_sparsities(0.875, 3) == pytest.approx([0.5, 0.75, 0.875])
    r = iterate(dense, tmp_path / "it", Pruning(0.875), rounds=3, epochs=1,
                train_overrides={"max_steps": 2, "batch_tokens": 1500}, progress=False)
    assert [x["sparsity"] for x in r["rounds"]] == pytest.approx([0.5, 0.75, 0.875], abs=1e-4)
    assert _weights_at_mask_are_zero(r["final"]) == pytest.approx(0.875, abs=1e-4)


def test_iterative_with_rewinding_resets_kept_weights(dense, prep_dir, tmp_path):
    early = tmp_path / "early"
    train(prep_dir, early, preset="tiny", model_overrides=TINY_MODEL, train_overrides={**TINY_TRAIN, "max_steps": 1}, progress=False)
    iterate(dense, tmp_path / "lt", Pruning(0.5), rounds=1, epochs=1, rewind_to=str(early),
            train_overrides={"max_steps": 1, "batch_tokens": 1500}, progress=False)
    pruned, e = load_checkpoint(tmp_path / "lt" / "round1" / "pruned"), load_checkpoint(early)
    ew = dict(e.model.named_parameters())
    for n, p in pruned.model.named_parameters():
        expect = ew[n] * pruned.masks[n] if n in pruned.masks else ew[n]
        assert torch.equal(p, expect)


def _inspect_sparsity(path) -> float:
    from helpers import nmt
    r = nmt("inspect", path, "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.splitlines()[-1])["sparsity"]


def test_cli_bars_end_exactly_at_their_sparsity(cli_run, tmp_path):
    """The issue's three commands, through the CLI, each at exactly its sparsity."""
    from helpers import nmt
    model = [f"--model={k}={v}" for k, v in TINY_MODEL.items()]
    r = nmt("train", cli_run / "prep", "--preset", "tiny", "--epochs", "2", "--prune-to", "0.8", "--out",
            tmp_path / "g80", "--quiet", "--batch-tokens", "1500", *model)
    assert r.returncode == 0, r.stderr
    assert _inspect_sparsity(tmp_path / "g80") == pytest.approx(0.8, abs=1e-4)
    dense = cli_run / "run"
    r = nmt("retrain", dense, "--prune-to", "0.9", "--epochs", "1", "--out", tmp_path / "r90", "--quiet")
    assert r.returncode == 0, r.stderr
    assert _inspect_sparsity(tmp_path / "r90") == pytest.approx(0.9, abs=1e-4)
    r = nmt("prune", dense, "--sparsity", "0.7", "--out", tmp_path / "p70")
    assert r.returncode == 0, r.stderr
    r = nmt("retrain", tmp_path / "p70", "--teacher", dense, "--epochs", "1", "--out", tmp_path / "kd", "--quiet")
    assert r.returncode == 0, r.stderr
    assert _inspect_sparsity(tmp_path / "kd") == pytest.approx(0.7, abs=1e-4)


@pytest.mark.parametrize("args,needle", [
    (["--prune-to", "1.5"], "--prune-to must be in (0, 1)"),
    (["--prune-to", "0"], "--prune-to must be in (0, 1)"),
    (["--prune-to", "0.5", "--teacher", "nowhere"], "nowhere"),
    (["--prune-to", "abc"], "--prune-to must be a number"),
    (["--prune-to", "0.8", "--set", "prune_start=0", "--set", "prune_end=0"], "needs start < end"),
    (["--prune-to", "0.8", "--set", "prune_start=0.3", "--set", "prune_end=0.3"], "needs start < end"),
])
def test_cli_retrain_bad_inputs_are_one_line_errors(cli_run, tmp_path, args, needle):
    from helpers import nmt
    r = nmt("retrain", cli_run / "run", *args, "--epochs", "1", "--out", tmp_path / "x", "--quiet")
    assert r.returncode == 2
    assert needle in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists()


def test_iterate_cli_resumes_after_finished_rounds(cli_run, tmp_path):
    from helpers import nmt
    args = ["iterate", cli_run / "run", "--prune-to", "0.75", "--rounds", "2", "--epochs", "1",
            "--set", "max_steps=2", "--out", tmp_path / "it", "--quiet"]
    r = nmt(*args)
    assert r.returncode == 0, r.stderr
    first = json.loads(r.stdout.splitlines()[-1])
    assert [x["sparsity"] for x in first["rounds"]] == pytest.approx([0.5, 0.75], abs=1e-4)
    mtime = (tmp_path / "it" / "round2" / "retrained" / "model.safetensors").stat().st_mtime
    r = nmt(*args)                       # both rounds finished: nothing is redone
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout.splitlines()[-1]) == first
    assert (tmp_path / "it" / "round2" / "retrained" / "model.safetensors").stat().st_mtime == mtime
    assert _inspect_sparsity(first["final"]) == pytest.approx(0.75, abs=1e-4)


@pytest.mark.parametrize("name", sorted(__import__("nmtprune.training.recipes", fromlist=["RECIPES"]).RECIPES))
def test_every_recipe_ends_exactly_at_its_sparsity(dense, tmp_path, name):
    from nmtprune.training.recipes import RECIPES
    model = RECIPES[name].run(dense, tmp_path / name, Pruning(0.8),
                              {"epochs": 1, "max_steps": 3, "batch_tokens": 1500, "rounds": 2})
    assert _weights_at_mask_are_zero(model) == pytest.approx(0.8, abs=1e-4)


def test_retrain_replay_schedule_compresses_the_dense_run(dense, tmp_path):
    prune(dense, Pruning(0.5, criterion="magnitude", allocation="class_blind"), tmp_path / "p")
    retrain(tmp_path / "p", tmp_path / "rp", train_overrides={"epochs": 3, "max_steps": 2, "batch_tokens": 1500}, progress=False,
            schedule="replay")
    cfg = json.loads((tmp_path / "rp" / "config.json").read_text())
    dense_lrs = [float(l.split(",")[4]) for l in (dense / "log.csv").read_text().splitlines()[1:]]
    assert cfg["schedule"] == "replay"
    assert cfg["train"]["lr_epochs"] == schedule_lrs("replay", 3, dense_lrs)


@pytest.mark.parametrize("criterion,allocation", [("random", "class-blind"), ("magnitude", "class-uniform"),
                                                  ("snip", "class-blind")])
def test_cli_repruning_half_then_eighty_lands_exactly(cli_run, tmp_path, criterion, allocation):
    """Issue 13's bar: 0.5 then 0.8 (another seed) ends at exactly 0.8 by ``inspect --json``."""
    from helpers import nmt
    r = nmt("prune", cli_run / "run", "--criterion", criterion, "--allocation", allocation, "--sparsity", "0.5",
            "--out", tmp_path / "p50", "--seed", "0")
    assert r.returncode == 0, r.stderr
    r = nmt("prune", tmp_path / "p50", "--criterion", criterion, "--allocation", allocation, "--sparsity", "0.8",
            "--out", tmp_path / "p80", "--seed", "1")
    assert r.returncode == 0, r.stderr
    r = nmt("inspect", tmp_path / "p80", "--json")
    assert r.returncode == 0, r.stderr
    stats = json.loads(r.stdout.splitlines()[-1])
    if allocation == "class-uniform":
        assert all(c["pruned"] == round(0.8 * c["params"]) for c in stats["classes"].values())
    else:
        assert stats["pruned"] == round(0.8 * stats["params"])
    # what the scores rested on is reported: the share scored exactly 0 per class
    assert all(c["zero_score_share"] is not None for c in stats["classes"].values())
    if criterion == "snip":
        assert stats["classes"]["src_embed"]["zero_score_share"] > 0 and "vocab_coverage" in stats
