"""scripts/python.sh: which Python the README's two commands install into and run with."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def pick(tmp_path: Path, **env) -> subprocess.CompletedProcess:
    """Source a copy of scripts/python.sh in an empty project dir; print the PY it picks."""
    (tmp_path / "scripts").mkdir(exist_ok=True)
    shutil.copy(ROOT / "scripts" / "python.sh", tmp_path / "scripts" / "python.sh")
    base = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "CONDA_PREFIX", "PYTHON")}
    return subprocess.run(["bash", "-c", "set -euo pipefail; . scripts/python.sh; echo \"PY=$PY\""],
                          cwd=tmp_path, capture_output=True, text=True, env={**base, **env})


def test_python_wins_then_an_active_env(tmp_path):
    assert pick(tmp_path, PYTHON="/opt/py/bin/python3").stdout.strip() == "PY=/opt/py/bin/python3"
    assert pick(tmp_path, VIRTUAL_ENV="/some/venv").stdout.strip() == "PY=python3"
    assert pick(tmp_path, CONDA_PREFIX="/some/conda").stdout.strip() == "PY=python3"
    assert not (tmp_path / ".venv").exists()


def test_no_active_env_makes_the_project_venv_once(tmp_path):
    r = pick(tmp_path, NMTPRUNE_BASE_PYTHON=sys.executable)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "PY=.venv/bin/python" and ".venv" in r.stderr
    assert (tmp_path / ".venv" / "bin" / "python").exists()
    again = pick(tmp_path, NMTPRUNE_BASE_PYTHON="/nonexistent/python3")    # reused, not made again
    assert again.returncode == 0 and again.stdout.strip() == "PY=.venv/bin/python" and again.stderr == ""


def test_a_python_without_venv_gets_one_line_naming_the_package(tmp_path):
    fake = tmp_path / "py3"                  # a Python whose ensurepip is missing (Debian without python3-venv)
    fake.write_text(f"#!/bin/sh\ncase \"$*\" in *ensurepip*) exit 1;; esac\nexec {sys.executable} \"$@\"\n")
    fake.chmod(0o755)
    r = pick(tmp_path, NMTPRUNE_BASE_PYTHON=str(fake))
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    v = f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert len(lines) == 1 and lines[0].startswith("error:") and f"apt-get install python{v}-venv" in lines[0]
    assert not (tmp_path / ".venv").exists()


def test_setup_never_breaks_system_packages():
    for script in ("setup.sh", "python.sh", "test.sh", "quickstart.sh"):
        assert "break-system-packages" not in (ROOT / "scripts" / script).read_text()
