"""The command line end to end on real data, and its one-line errors."""
import json
import subprocess
import sys

import pytest

from helpers import TINY_MODEL, nmt


def test_translate_stdin_and_file(cli_run, tmp_path):
    r = nmt("translate", cli_run / "run", "--beam", "3", stdin="Ein Hund rennt.\nZwei Männer.\n")
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.splitlines()) == 2
    f = tmp_path / "in.de"
    f.write_text("Ein Hund rennt.\nZwei Männer.\n")
    r2 = nmt("translate", cli_run / "run" / "model.safetensors", "--input", f, "--beam", "3")
    assert r2.stdout == r.stdout


def test_evaluate_json_last_line(cli_run):
    r = nmt("evaluate", cli_run / "run", "--split", "test_2016_flickr", "--beam", "2", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert {"ppl", "bleu", "chrf", "signature", "sentences"} <= set(out)
    assert out["sentences"] == 100
    assert "\r" not in r.stderr and "it/s" not in r.stderr       # stderr is no terminal: no progress bar


def _on_terminal(*args, stdin: str) -> tuple[str, str]:
    """Run the CLI with stderr on a pseudo-terminal; returns (stdout, what the terminal got)."""
    import fcntl
    import os
    import pty
    import struct
    import termios
    import threading
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))   # 0 columns: tqdm draws nothing
    got: list[bytes] = []

    def drain():                       # read as it comes: a full terminal buffer would block the child
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:            # EIO: the child closed the terminal
                break
            if not chunk:
                break
            got.append(chunk)
    reader = threading.Thread(target=drain)
    reader.start()
    p = subprocess.run([sys.executable, "-m", "nmtprune", *map(str, args)], input=stdin, stdout=subprocess.PIPE, stderr=slave, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    os.close(slave)
    reader.join(timeout=60)
    os.close(master)
    assert p.returncode == 0
    return p.stdout, b"".join(got).decode(errors="replace")


def test_progress_bar_on_a_terminal_unless_quiet(cli_run):
    out, term = _on_terminal("translate", cli_run / "run", "--beam", "2", stdin="Ein Hund rennt.\n")
    assert len(out.splitlines()) == 1 and "translate" in term and "sent" in term
    out, term = _on_terminal("translate", cli_run / "run", "--beam", "2", "--quiet", stdin="Ein Hund rennt.\n")
    assert len(out.splitlines()) == 1 and "translate" not in term


@pytest.mark.parametrize("args, message", [
    (["train", "{prep}", "--preset", "huge", "--out", "{tmp}/x"], "unknown preset 'huge'; valid: tiny, small, paper"),
    (["train", "{prep}", "--model", "attention=bilinear", "--out", "{tmp}/x"],
     "unknown attention 'bilinear'; valid: dot, general, concat"),
    (["train", "{prep}", "--init", "he", "--out", "{tmp}/x"], "unknown init 'he'"),
    (["train", "{tmp}", "--out", "{tmp}/x"], "not a prepared directory"),
    (["translate", "{tmp}/nothing"], "no checkpoint found"),
    (["translate", "{junk}"], "not a readable checkpoint"),
    (["translate", "{run}", "--beam", "0"], "--beam must be between 1 and 100"),
    (["translate", "{run}", "--workers", "-1"], "--workers must be >= 0"),
    (["evaluate", "{run}", "--split", "nope"], "split 'nope' is not in"),
    (["prepare", "--data", "{tmp}/none", "--src", "de", "--tgt", "en", "--out", "{tmp}/p"],
     "data directory not found"),
])
def test_bad_input_one_line_error(cli_run, tmp_path, args, message):
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    fill = {"prep": cli_run / "prep", "tmp": tmp_path, "run": cli_run / "run", "junk": junk}
    r = nmt(*[a.format(**fill) for a in args])
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], r.stderr


def test_prune_inspect_retrain(cli_run, tmp_path):
    pruned = tmp_path / "pruned"
    r = nmt("prune", cli_run / "run", "--criterion", "magnitude", "--allocation", "class-blind",
            "--sparsity", "0.8", "--out", pruned)
    assert r.returncode == 0, r.stderr
    r = nmt("inspect", pruned, "--json")
    info = json.loads(r.stdout.strip().splitlines()[-1])
    assert info["pruned"] == round(0.8 * info["params"])
    assert set(info["classes"]) >= {"src_embed", "tgt_embed", "enc_layer0", "dec_layer0", "attention", "softmax"}
    for c in info["classes"].values():
        assert {"params", "pruned", "sparsity", "max_pruned_abs"} <= set(c)
        assert c["max_pruned_abs"] is None or c["max_pruned_abs"] > 0
    r = nmt("retrain", pruned, "--epochs", "1", "--out", tmp_path / "re", "--quiet", "--batch-tokens", "1500")
    assert r.returncode == 0, r.stderr
    r = nmt("inspect", tmp_path / "re", "--json")
    after = json.loads(r.stdout.strip().splitlines()[-1])
    assert after["pruned"] == info["pruned"]        # the mask held through retraining
    from safetensors.torch import load_file
    w = load_file(str(tmp_path / "re" / "model.safetensors"))
    m = load_file(str(tmp_path / "re" / "model.masks.safetensors"))
    assert all(torch_all_zero(w[n][~m[n].bool()]) for n in m)
    # the pruned checkpoint is a plain state dict: it loads into a plain model
    from nmtprune.checkpoint.load import load_checkpoint
    assert load_checkpoint(tmp_path / "re").masks is not None
    # the retrain run's saved config replays it (its source, prep, schedule and train settings)
    r = nmt("retrain", "--config", tmp_path / "re" / "config.json", "--out", tmp_path / "re2", "--quiet")
    assert r.returncode == 0, r.stderr
    assert_same_run(tmp_path / "re", tmp_path / "re2")


def assert_same_run(a, b):
    """Runs ``a`` and ``b``: the same resolved config, summary and final weights."""
    from safetensors.torch import load_file
    assert json.loads((a / "config.json").read_text()) == json.loads((b / "config.json").read_text())
    sa, sb = (json.loads((d / "summary.json").read_text()) for d in (a, b))
    assert {**sa, "wall_s": 0} == {**sb, "wall_s": 0}
    wa, wb = (load_file(str(d / "model.safetensors")) for d in (a, b))
    assert wa.keys() == wb.keys() and all(bool((wa[k] == wb[k]).all()) for k in wa)


def test_saved_config_replays_the_run(cli_run, tmp_path):
    run = cli_run / "run"
    r = nmt("train", "--config", run / "config.json", "--out", tmp_path / "b", "--quiet")
    assert r.returncode == 0, r.stderr
    assert_same_run(run, tmp_path / "b")
    # the same losses, epoch by epoch (epoch, steps, train_loss, valid_ppl)
    la, lb = ([line.split(",")[:4] for line in (d / "log.csv").read_text().splitlines()] for d in (run, tmp_path / "b"))
    assert la == lb


def torch_all_zero(t):
    return bool((t == 0).all())


def test_sparse_from_scratch_and_snip_training(cli_run, tmp_path):
    model = [f"--model={k}={v}" for k, v in TINY_MODEL.items()]
    pruned = tmp_path / "p"
    assert nmt("prune", cli_run / "run", "--sparsity", "0.5", "--out", pruned).returncode == 0
    r = nmt("train", cli_run / "prep", "--preset", "tiny", "--epochs", "1", "--batch-tokens", "1500",
            "--mask", pruned / "model.masks.safetensors", "--init", "xavier_uniform", "--out", tmp_path / "s",
            "--quiet", *model)
    assert r.returncode == 0, r.stderr
    info = json.loads(nmt("inspect", tmp_path / "s", "--json").stdout.strip().splitlines()[-1])
    assert info["sparsity"] == pytest.approx(0.5, abs=1e-5)
    r = nmt("train", cli_run / "prep", "--preset", "tiny", "--epochs", "1", "--batch-tokens", "1500",
            "--snip-sparsity", "0.9", "--snip-batches", "2", "--snip-batch-size", "8", "--init", "kaiming_normal",
            "--out", tmp_path / "snip", "--quiet", *model)
    assert r.returncode == 0, r.stderr
    info = json.loads(nmt("inspect", tmp_path / "snip", "--json").stdout.strip().splitlines()[-1])
    assert info["sparsity"] == pytest.approx(0.9, abs=1e-5)


@pytest.mark.parametrize("args, message", [
    (["prune", "{run}", "--sparsity", "1.0", "--out", "{tmp}/o"], "--sparsity must be in [0, 1)"),
    (["prune", "{run}", "--sparsity", "-0.1", "--out", "{tmp}/o"], "--sparsity must be in [0, 1)"),
    (["prune", "{run}", "--sparsity", "abc", "--out", "{tmp}/o"], "--sparsity must be a number"),
    (["prune", "{run}", "--sparsity", "1.5", "--out", "{tmp}/o"], "--sparsity must be in [0, 1)"),
    (["train", "{prep}", "--snip-sparsity", "2", "--out", "{tmp}/o"], "--snip-sparsity must be in [0, 1)"),
    (["prune", "{run}", "--criterion", "taylor", "--sparsity", "0.5", "--out", "{tmp}/o"],
     "unknown criterion 'taylor'; valid: magnitude, random, obd, snip"),
    (["prune", "{run}", "--allocation", "global", "--sparsity", "0.5", "--out", "{tmp}/o"],
     "unknown allocation 'global'"),
    (["train", "{prep}", "--preset", "tiny", "--mask", "{badmask}", "--out", "{tmp}/o"],
     "is not a parameter of this model"),
])
def test_prune_bad_input(cli_run, tmp_path, args, message):
    from safetensors.torch import save_file
    import torch
    badmask = tmp_path / "bad.safetensors"
    save_file({"encoder.nothing.weight": torch.ones(2, 2, dtype=torch.bool)}, str(badmask))
    fill = {"prep": cli_run / "prep", "tmp": tmp_path, "run": cli_run / "run", "badmask": badmask}
    r = nmt(*[a.format(**fill) for a in args])
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], r.stderr
    assert not (tmp_path / "o" / "model.safetensors").exists()
