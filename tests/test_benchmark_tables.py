"""The pure parts of the speed and recovery benchmarks: ratios, tables, the dense-control arm."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import decode_speed  # noqa: E402
import recovery_arms  # noqa: E402


def _row(model, role, kernels, shortlist, sent, ms=10.0, wall=5.0, bleu=40.0):
    return {"model": model, "role": role, "kernels": kernels, "shortlist": shortlist, "sent_per_s": sent,
            "ms_per_sentence": ms, "wall_s": wall, "bleu": bleu, "valid_bleu": bleu - 1, "method": "m",
            "sparsity": 0.5, "units_kept": 0.5, "values": "int8", "size_ratio": 0.1, "matrices": {},
            "command": "nmtprune translate x"}


def test_ratios_are_against_the_reference_fp32_and_the_same_decoding():
    measured = [_row("dense", "reference", "bf16", False, 200.0, ms=20.0, wall=6.0),
                _row("dense", "fp32", "dense", False, 100.0),
                _row("dense", "auto", "auto", False, 190.0),
                _row("dense", "auto+shortlist", "auto", True, 400.0),
                _row("u50", "pruned", "auto", False, 300.0, ms=10.0, wall=4.0),
                _row("u50", "pruned", "auto", True, 600.0)]
    out = decode_speed.summarize(measured)
    assert out["dense"]["kernels"] == "bf16" and out["dense"]["sent_per_s"] == 200.0
    assert out["dense"]["fp32"]["sent_per_s"] == 100.0
    rows = {(r["model"], r["shortlist"]): r for r in out["rows"] if r["model"] == "u50"}
    plain, short = rows[("u50", False)], rows[("u50", True)]
    assert (plain["speedup"], plain["speedup_fp32"], plain["speedup_same_decoding"]) == (1.5, 3.0, 1.579)
    assert (plain["latency_speedup"], plain["wall_speedup"]) == (2.0, 1.5)
    assert (short["speedup"], short["speedup_same_decoding"]) == (3.0, 1.5)     # its twin: dense + shortlist
    assert len(out["rows"]) == 5                                                # every row but the reference
    required = {"model", "method", "sparsity", "units_kept", "values", "kernels", "bleu", "valid_bleu",
                "sent_per_s", "ms_per_sentence", "wall_s", "speedup", "latency_speedup", "size_ratio", "command"}
    assert all(required <= set(r) for r in out["rows"])
    table = decode_speed.markdown(out)
    assert table.count("\n") == 2 + len(out["rows"]) and "| u50 (int8) | auto | yes |" in table


def test_the_reference_is_the_faster_of_the_dense_models_bf16_and_auto_decodings():
    """Both decode every word with bf16 products: a slow sample of one must not inflate the ratios."""
    measured = [_row("dense", "reference", "bf16", False, 150.0), _row("dense", "fp32", "dense", False, 100.0),
                _row("dense", "auto", "auto", False, 200.0), _row("dense", "auto+shortlist", "auto", True, 400.0),
                _row("u50", "pruned", "auto", False, 300.0)]
    out = decode_speed.summarize(measured)
    assert (out["dense"]["kernels"], out["dense"]["sent_per_s"]) == ("auto", 200.0)
    rows = {(r["model"], r["kernels"], r["shortlist"]): r for r in out["rows"]}
    assert rows[("u50", "auto", False)]["speedup"] == 1.5 and rows[("dense", "bf16", False)]["speedup"] == 0.75
    assert ("dense", "auto", False) not in rows                       # the reference is not a row


def test_the_dense_control_arm_parses_and_is_labelled():
    assert recovery_arms.parse_arm("continued") == ("continued", "restart", "dense")
    assert recovery_arms.parse_arm("continued:rewind") == ("continued", "rewind", "dense")
    assert "unpruned" in recovery_arms.label(("continued", "restart", "dense"))
    with pytest.raises(Exception, match="unknown arm"):
        recovery_arms.parse_arm("continued@scratch")


def test_fragility_cuts_restore_the_model_and_add_up(cli_run):
    """The per-class cut analysis: each cut is undone before the next, the class-blind cut's
    per-class shares add up to its sparsity, and sparing every class is the dense model."""
    import torch

    import fragility
    from nmtprune.checkpoint.load import load_checkpoint
    from nmtprune.decode.evaluate import eval_corpus
    from nmtprune.decode.metrics import perplexity
    from nmtprune.prune.compute import compute_masks, prunable_classes
    from nmtprune.prune.pruning import Pruning

    run = str(cli_run / "run")
    ck = load_checkpoint(run)
    corpus, classes = eval_corpus(ck, "val", None), prunable_classes(ck.model)
    before = {k: v.clone() for k, v in ck.model.state_dict().items()}
    masks = compute_masks(ck.model, Pruning(0.5))
    dense = perplexity(ck.model, corpus)
    assert fragility.cut_ppl(ck, corpus, masks, set(classes), classes) == round(dense, 2)
    assert fragility.cut_ppl(ck, corpus, masks, set(), classes) > dense
    assert all(torch.equal(before[k], v) for k, v in ck.model.state_dict().items())

    entry = fragility.analyse(run, [0.5], "val")
    cut = entry["cuts"][0]
    removed = sum(c["removed"] * c["params"] for c in cut["classes"].values())
    assert abs(removed / sum(c["params"] for c in cut["classes"].values()) - 0.5) < 1e-3
    assert set(cut["classes"]) == set(classes) == set(entry["spread"]) == set(entry["from_init"])
    assert all(x["median_move_over_median_w0"] > 0 for x in entry["from_init"].values())   # it trained


def test_fragility_rebuilds_the_initial_weights(cli_run, tmp_path):
    """A run that took one step at a vanishing learning rate is still its initial draw: the
    rebuilt |w0| correlate exactly and nothing moved (so the seed and config are read right)."""
    import fragility
    from helpers import TINY_MODEL, nmt
    model = [f"--model={k}={v}" for k, v in TINY_MODEL.items()]
    r = nmt("train", cli_run / "prep", "--preset", "tiny", "--out", tmp_path / "run", "--quiet", "--lr", "1e-12",
            "--set", "max_steps=1", "--batch-tokens", "1500", *model)
    assert r.returncode == 0, r.stderr
    init = fragility.analyse(str(tmp_path / "run"), [0.5], "val")["from_init"]
    assert all(x == {"corr_abs_w_w0": 1.0, "median_move_over_median_w0": 0.0} for x in init.values())
