"""CLI conventions: registry names as choices, defaults in --help, one-line errors for a bad name,
and a top-level --help that imports no torch."""
import subprocess
import sys

import pytest

from nmtprune.cli import build_parser, main
from nmtprune.data.tokenizers import TOKENIZERS
from nmtprune.decode.kernels import KERNELS
from nmtprune.model.init import INIT_SCHEMES
from nmtprune.prune.allocation import ALLOCATIONS
from nmtprune.prune.saliency import CRITERIA, HESSIANS
from nmtprune.training.config import OPTIMIZERS, PRECISIONS
from nmtprune.training.presets import PRESETS
from nmtprune.training.schedules import SCHEDULES


def _actions(parser) -> dict:
    """``{(command, option): action}`` over every subcommand."""
    subs = next(a for a in parser._actions if a.choices and "train" in a.choices).choices
    return {(name, opt): a for name, sub in subs.items() for a in sub._actions for opt in a.option_strings}


def test_registry_options_offer_exactly_the_registry_names():
    acts = _actions(build_parser())
    expected = {
        ("train", "--preset"): list(PRESETS), ("train", "--init"): list(INIT_SCHEMES),
        ("prepare", "--tokenizer"): list(TOKENIZERS), ("translate", "--kernels"): list(KERNELS),
        ("evaluate", "--kernels"): list(KERNELS), ("prune", "--criterion"): list(CRITERIA),
        ("iterate", "--criterion"): list(CRITERIA), ("prune", "--hessian"): list(HESSIANS),
        ("prune", "--allocation"): [k.replace("_", "-") for k in ALLOCATIONS],
        ("retrain", "--schedule"): list(SCHEDULES),
    }
    for cmd in ("train", "retrain", "iterate"):
        expected[(cmd, "--optimizer")] = list(OPTIMIZERS)
        expected[(cmd, "--precision")] = list(PRECISIONS)
    for key, names in expected.items():
        assert list(acts[key].choices) == names, key
    assert acts[("train", "--device")].choices is None        # cuda:N is a device too


@pytest.mark.parametrize("cmd, shown", [
    ("train", ["--preset {tiny,small,paper}", "else small)", "(default: cpu)", "(default: 64)"]),
    ("prune", ["{class-blind,class-uniform,class-distribution}", "(default: class-blind)", "(default: fisher)"]),
    ("evaluate", ["(default: test_2016_flickr)", "(default: 5)", "(default: dense)"]),
    ("prepare", ["{bpe,unigram,word}", "(default: 8000)"]),
])
def test_help_shows_choices_and_defaults(cmd, shown, capsys):
    with pytest.raises(SystemExit):
        main([cmd, "--help"])
    text = " ".join(capsys.readouterr().out.split())     # argparse wraps lines
    for s in shown:
        assert s in text, s
    assert "(default: None)" not in text and "(default: False)" not in text


@pytest.mark.parametrize("args, message", [
    (["prune", "ck", "--criterion", "taylor", "--sparsity", "0.5", "--out", "o"],
     "unknown criterion 'taylor'; valid: magnitude, random, obd, snip"),
    (["prune", "ck", "--allocation", "global", "--sparsity", "0.5", "--out", "o"],
     "unknown allocation 'global'; valid: class-blind, class-uniform, class-distribution"),
    (["train", "p", "--preset", "huge", "--out", "o"], "unknown preset 'huge'; valid: tiny, small, paper"),
    (["retrain", "ck", "--schedule", "cosine", "--out", "o"], "unknown schedule 'cosine'; valid: restart"),
    (["translate", "ck", "--kernels", "fast"], "unknown kernels 'fast'; valid: dense, sparse, auto, bf16"),
    (["export", "ck", "--out", "m.nmtz", "--values", "int2"], "unknown --values 'int2'; valid: fp32, fp16, int8, int4"),
])
def test_a_name_outside_the_registry_is_a_one_line_error(args, message, capsys):
    assert main(args) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], lines


def test_allocation_takes_either_spelling():
    a = build_parser(only=["prune"]).parse_args(["prune", "ck", "--allocation", "class_uniform", "--sparsity", "0.5",
                                           "--out", "o"])
    assert a.allocation == "class_uniform"           # the library maps both spellings to its key


def test_top_level_help_stays_light():
    code = ("import sys\nfrom nmtprune.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print('TORCH', 'torch' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "train" in r.stdout and "TORCH False" in r.stdout


def _settings(argv):
    from nmtprune.cli.prune import retrain_settings
    from nmtprune.cli.train import train_settings
    a = build_parser(only=[argv[0]]).parse_args(argv)
    return (train_settings if argv[0] == "train" else retrain_settings)(a)


def test_config_file_settings_and_options_over_them(tmp_path):
    import yaml
    f = tmp_path / "run.yaml"
    f.write_text(yaml.safe_dump({"preset": "tiny", "model": {"emb_dim": 16, "attention": "dot"},
                                 "train": {"epochs": 3, "lr": 0.01}, "prep": "p1"}))
    s = _settings(["train", "--config", str(f), "--out", "o"])
    assert (s["prep_dir"], s["preset"], s["model_overrides"], s["train_overrides"]) == \
        ("p1", "tiny", {"emb_dim": 16, "attention": "dot"}, {"epochs": 3, "lr": 0.01})
    s = _settings(["train", "p2", "--config", str(f), "--preset", "small", "--model", "emb_dim=8", "--epochs", "1",
                   "--set", "clip=1", "--out", "o"])
    assert (s["prep_dir"], s["preset"], s["model_overrides"], s["train_overrides"]) == \
        ("p2", "small", {"emb_dim": 8, "attention": "dot"}, {"epochs": 1, "lr": 0.01, "clip": 1})
    assert _settings(["train", "p", "--out", "o"])["preset"] == "small"       # no file: the old default
    f.write_text("train: {min_lr: 1e-5, lr: 2E-3}\n")           # numbers, as JSON reads them (not YAML 1.1)
    assert _settings(["train", "p", "--config", str(f), "--set", "clip=1e1", "--out", "o"])["train_overrides"] \
        == {"min_lr": 1e-5, "lr": 2e-3, "clip": 10.0}
    g = tmp_path / "re.yaml"
    g.write_text(yaml.safe_dump({"kind": "retrain", "source": "ck", "schedule": "rewind",
                                 "train": {"prune_to": 0.5, "epochs": 2}}))
    s = _settings(["retrain", "--config", str(g), "--epochs", "1", "--out", "o"])
    assert (s["ckpt"], s["schedule"], s["prune_to"], s["train_overrides"]) == \
        ("ck", "rewind", 0.5, {"prune_to": 0.5, "epochs": 1})


@pytest.mark.parametrize("text, args, message", [
    ("trian: {epochs: 1}\n", ["train", "p"], "unknown key 'trian' in {f}; valid: kind, preset, model, train, prep"),
    ("kind: retrain\nsource: x\n", ["train", "p"], "the config of a 'retrain' run, not of a train run; "
                                                    "replay it with 'nmtprune retrain --config'"),
    ("train: [1, 2]\n", ["train", "p"], "{f}: train is a mapping of settings"),
    ("- a\n", ["retrain", "ck"], "{f}: a run config is a mapping of settings"),
    ("preset: tiny\n", ["train"], "give the prepared directory (PREP), or a --config that names it"),
    ("train: {epochs: 1}\n", ["retrain"], "give the CHECKPOINT, or a --config that names it"),
])
def test_bad_config_is_a_one_line_error(text, args, message, tmp_path, capsys):
    f = tmp_path / "c.yaml"
    f.write_text(text)
    assert main([*args, "--config", str(f), "--out", str(tmp_path / "o")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and message.format(f=f) in lines[0], lines
    assert not (tmp_path / "o").exists()


def test_progress_bars_only_when_asked(tmp_path, capsys):
    import numpy as np
    from helpers import tiny_config
    from nmtprune.api import prepare
    from nmtprune.data.corpus import Corpus
    from nmtprune.decode.translation import translate_ids
    from nmtprune.model.seq2seq import build_model
    from nmtprune.prune.saliency import ScoringData
    model = build_model(tiny_config(), seed=0)
    corpus = Corpus([np.array([5, 6, 7], dtype="int32")] * 4, [np.array([8, 9], dtype="int32")] * 4)
    raw = tmp_path / "raw"
    raw.mkdir()
    for name, text in {"train.de": "ein Hund\nzwei Katzen\n", "train.en": "a dog\ntwo cats\n",
                       "val.de": "ein Hund\n", "val.en": "a dog\n"}.items():
        (raw / name).write_text(text)
    for on in (True, False):
        translate_ids(model, [[5, 6], [7]], beam=1, batch_size=1, max_len_b=2, progress=on, workers=1)
        list(ScoringData(corpus, batches=2, batch_size=2, progress=on).iter_batches())
        prepare(tmp_path / f"prep{on}", data=raw, src="de", tgt="en", tokenizer="word", progress=on)
        err = capsys.readouterr().err
        for bar in ("translate", "scoring", "train tokenizers", "tokenize"):
            assert (bar in err) == on, (bar, on, err)
