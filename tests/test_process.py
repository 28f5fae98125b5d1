"""What a user's process and files can rely on: the library leaves the process alone, runs can
be moved with their data, and the declared version floors are the tested ones."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from helpers import nmt

ROOT = Path(__file__).resolve().parents[1]

PROBE = """
import sys, warnings
import matplotlib, numpy, sacrebleu, safetensors, sentencepiece, torch, tqdm, yaml  # their own filters
before = list(warnings.filters)
import nmtprune, nmtprune.api, nmtprune.decode.kernels, nmtprune.training.run, nmtprune.study.runner
from nmtprune import runtime
out = nmtprune.api.translate(sys.argv[1], ["ein Hund läuft ."], beam=2, workers=1, kernels="sparse")
assert isinstance(out, list) and len(out) == 1, out
print("filters_same", list(warnings.filters) == before)
print("allocator_tuned", runtime._done)
"""


def test_library_leaves_process_alone(cli_run):
    """No global warnings filter and no glibc mallopt from importing nmtprune or calling the API."""
    r = subprocess.run([sys.executable, "-c", PROBE, str(cli_run / "run")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "filters_same True" in r.stdout
    assert "allocator_tuned False" in r.stdout


def test_cli_tunes_allocator_for_itself():
    code = "import sys; from nmtprune.cli import main; from nmtprune import runtime; " \
           "rc = main(['study', '--status', '--out', sys.argv[1]]); print('tuned', runtime._done)"
    r = subprocess.run([sys.executable, "-c", code, "/nonexistent-study"], capture_output=True, text=True)
    assert "tuned True" in r.stdout, r.stdout + r.stderr


def _own_run(cli_run, where: Path) -> tuple[Path, Path]:
    """A copy of the tiny run and its prepared data under ``where`` (recorded there)."""
    from nmtprune.checkpoint.load import load_checkpoint
    from nmtprune.checkpoint.model_file import MODEL_FILE, save_checkpoint
    prep, run = where / "prep", where / "run"
    shutil.copytree(cli_run / "prep", prep)
    shutil.copytree(cli_run / "run", run)
    ck = load_checkpoint(run)
    save_checkpoint(run / MODEL_FILE, ck.model, {k: p.name for k, p in ck.tokenizer_files.items()}, str(prep),
                    info=ck.info)
    return prep, run


def test_moved_run_keeps_working_then_says_what_to_pass(cli_run, raw_dir, tmp_path):
    from nmtprune.checkpoint.load import load_checkpoint
    _own_run(cli_run, tmp_path / "a")
    shutil.move(tmp_path / "a", tmp_path / "b")                    # the recorded absolute path is gone
    ck = load_checkpoint(tmp_path / "b" / "run")
    assert Path(ck.prep) == (tmp_path / "b" / "prep").resolve()    # found relative to the run
    r = nmt("evaluate", tmp_path / "b" / "run", "--beam", "1", "--split", "val", "--json")
    assert r.returncode == 0, r.stderr
    shutil.rmtree(tmp_path / "b" / "prep")
    r = nmt("evaluate", tmp_path / "b" / "run", "--beam", "1", "--split", "val")
    assert r.returncode == 2
    err = r.stderr.strip().splitlines()
    assert len(err) == 1 and "is gone" in err[0] and "--data" in err[0], r.stderr
    r = nmt("evaluate", tmp_path / "b" / "run", "--beam", "1", "--split", "val", "--data", raw_dir)
    assert r.returncode == 0, r.stderr


def test_version_floors_are_the_tested_ones():
    """pyproject's floors equal what CI installs and runs on (setup.sh's torch pin, CI's Python)."""
    text = (ROOT / "pyproject.toml").read_text()
    py_floor = re.search(r'requires-python = ">=(\d+\.\d+)"', text).group(1)
    torch_floor = re.search(r'"torch>=([\d.]+)"', text).group(1)
    pin = re.search(r'torch==([\d.]+)', (ROOT / "scripts" / "setup.sh").read_text()).group(1)
    assert pin == torch_floor, (pin, torch_floor)
    assert sys.version_info[:2] >= tuple(map(int, py_floor.split(".")))
