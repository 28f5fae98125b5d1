"""Shared fixtures: small slices of the real Multi30k data and a tiny prepared corpus.

Plain helpers (tiny configs, the CLI runner, the tiny study) live in ``helpers.py``:
tests import them from there, never from this file."""
from __future__ import annotations

import gzip
import os
from pathlib import Path

import pytest
import torch

from nmtprune.api import prepare
from nmtprune.data.prepared import Prepared

from helpers import TINY_MODEL, TINY_STUDY, nmt  # noqa: F401  (fixtures below use them)

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "multi30k"

# Keep tests on one thread: predictable timings on 2 cores, no oversubscription.
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _restore_nmtprune_logger():
    """Tests call the CLI's ``main`` in-process, which points the ``nmtprune`` logger at the console
    and stops it propagating; later tests (``caplog``) need it as a library leaves it."""
    import logging
    log = logging.getLogger("nmtprune")
    saved = (list(log.handlers), log.propagate, log.level)
    yield
    log.handlers[:], log.propagate, log.level = saved[0], saved[1], saved[2]


def _head(path: Path, n: int) -> list[str]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [next(f) for _ in range(n)]


@pytest.fixture(scope="session")
def real_data() -> Path:
    """The real Multi30k files: ``../shared/data/multi30k`` beside the checkout when present,
    else the named corpus ``multi30k`` (fetched once into the cache, honouring NMTPRUNE_MIRROR).

    A corpus that cannot be had skips the data tests on a developer machine, but fails them
    under ``CI=true``: CI must never pass by silently testing less.
    """
    if SHARED.is_dir():
        return SHARED
    from nmtprune.data.resolve import resolve_data
    from nmtprune.errors import NmtpruneError
    try:
        return resolve_data("multi30k", langs=("de", "en"), progress=False)
    except NmtpruneError as e:
        why = str(e)                  # outside the except: no chained traceback in the report
    if os.environ.get("CI", "").lower() in ("true", "1"):
        pytest.fail(f"CI=true and the real data is unavailable: {why}", pytrace=False)
    pytest.skip(f"real data unavailable (no {SHARED}): {why}")


@pytest.fixture(scope="session")
def raw_dir(real_data, tmp_path_factory) -> Path:
    """A Multi30k-layout directory with the first lines of the real splits (train as .gz)."""
    d = tmp_path_factory.mktemp("raw")
    for split, n, gz in (("train", 3000, True), ("val", 120, False), ("test_2016_flickr", 100, False)):
        for lang in ("de", "en"):
            lines = _head(real_data / f"{split}.{lang}.gz", n)
            if gz:
                with gzip.open(d / f"{split}.{lang}.gz", "wt", encoding="utf-8") as f:
                    f.writelines(lines)
            else:
                (d / f"{split}.{lang}").write_text("".join(lines), encoding="utf-8")
    return d


@pytest.fixture(scope="session")
def prep_dir(raw_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("prep")
    prepare(out, data=raw_dir, src="de", tgt="en", vocab_size=600)
    return out


@pytest.fixture(scope="session")
def prepared(prep_dir) -> Prepared:
    return Prepared(prep_dir)


@pytest.fixture(scope="session")
def cli_run(raw_dir, tmp_path_factory):
    """A prepared directory and a tiny trained run, made through the CLI."""
    import json
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


@pytest.fixture(scope="session")
def study(raw_dir, tmp_path_factory):
    """A tiny study of every experiment, run once (test_study.py and test_study_publish.py read it)."""
    import yaml

    from nmtprune.study.runner import run_study
    d = tmp_path_factory.mktemp("study")
    cfg = d / "study.yaml"
    cfg.write_text(yaml.safe_dump(TINY_STUDY))
    out = d / "out"
    run_study(str(raw_dir), str(out), config=str(cfg), progress=False, command="nmtprune study (test)")
    return out, cfg
