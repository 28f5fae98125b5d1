"""The command line end to end on real data, and its one-line errors."""
import json
import subprocess
import sys

import pytest

from conftest import TINY_MODEL


def nmt(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "nmtprune", *map(str, args)], capture_output=True,
                          text=True, input=stdin, env={**__import__("os").environ, "OMP_NUM_THREADS": "1"})


@pytest.fixture(scope="module")
def cli_run(raw_dir, tmp_path_factory):
    base = tmp_path_factory.mktemp("cli")
    r = nmt("prepare", "--data", raw_dir, "--src", "de", "--tgt", "en", "--out", base / "prep",
            "--vocab-size", "500")
    assert r.returncode == 0, r.stderr
    model = [f"--model={k}={v}" for k, v in TINY_MODEL.items()]
    r = nmt("train", base / "prep", "--preset", "tiny", "--epochs", "1", "--out", base / "run", "--quiet",
            "--batch-tokens", "1500", *model)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout.splitlines()[-1])["epochs"] == 1
    return base


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


@pytest.mark.parametrize("args, message", [
    (["train", "{prep}", "--preset", "huge", "--out", "{tmp}/x"], "unknown preset 'huge'; valid: tiny, small, paper"),
    (["train", "{prep}", "--model", "attention=bilinear", "--out", "{tmp}/x"],
     "unknown attention 'bilinear'; valid: dot, general, concat"),
    (["train", "{prep}", "--init", "he", "--out", "{tmp}/x"], "unknown init 'he'"),
    (["train", "{tmp}", "--out", "{tmp}/x"], "not a prepared directory"),
    (["translate", "{tmp}/nothing"], "no checkpoint found"),
    (["translate", "{junk}"], "not a readable checkpoint"),
    (["translate", "{run}", "--beam", "0"], "--beam must be between 1 and 100"),
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
