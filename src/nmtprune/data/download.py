"""``nmtprune download multi30k``: fetch the public Multi30k task-1 raw files.

Each file is checked against the SHA-256 below (taken from the files this
project is developed and tested with) before it is moved into place.
Offline, this fails with a clear message pointing to ``--data``.
"""
from __future__ import annotations

import hashlib
import urllib.error
import urllib.request
from pathlib import Path

from ..errors import NmtpruneError, choose
from ..fileio import atomic_write, ensure_writable_dir

MULTI30K_URL = "https://raw.githubusercontent.com/multi30k/dataset/master/data/task1/raw/{name}"
MULTI30K_SHA256 = {
    "train.de.gz": "726e39b2fa9eb9ffb6dc763fb35a179f80fae06ffc5d28b6ace5faa883de28a6",
    "train.en.gz": "d79cfa999dd4c51d2cb42499b6796d5a882c3a8a961923c25a898c90f8bbd56f",
    "train.fr.gz": "622e75069e9f4c577425c4f277116ce66e63a2401c0a2312d90073cb12379a3c",
    "train.cs.gz": "a65adb8b32e3bc664f21ecba7a6e7f6950fd1f405e135f7c312faabdb6255077",
    "val.de.gz": "f0cba2f995189cf5770f29a8a9a537a3ad3f51657ad873405082ff6863a5e75a",
    "val.en.gz": "14f7d25ddd868909a9213e361768460edcacdd6ab9d1e77b92560dc10c10dc28",
    "val.fr.gz": "ca3106f1a72390591d25f6c45cb4cd39dec4cd3f123e099748a3ce5256c160e9",
    "val.cs.gz": "b63226e05c4bd5dd6a42897d74b86a1b9d2c31498252c572b1ea7f7996927fcc",
    "test_2016_flickr.de.gz": "9204244e408ccb38d2a55cfcd344df15005fc42a07a6e55ca6c52b6ababb8cc8",
    "test_2016_flickr.en.gz": "611d361c6334bc7246101d48097c13cf5c4413c5befc793cc629934359d532d9",
    "test_2016_flickr.fr.gz": "6d326e188d259fb1d04ac19eae3af956559b3a0b93d7635e56c90987c40c8b90",
    "test_2016_flickr.cs.gz": "200a4a74cc9560f051924abb9803be008d1908d77f747e9141aeb86dfd2797f1",
}
CORPORA = {"multi30k": (MULTI30K_URL, MULTI30K_SHA256)}


def download(corpus: str, out: str | Path, timeout: float = 30.0) -> Path:
    """Download every file of ``corpus`` into ``out`` (skipping ones already verified)."""
    choose("corpus", corpus, CORPORA)
    url, sums = CORPORA[corpus]
    out = ensure_writable_dir(out)
    for name, sha in sums.items():
        target = out / name
        if target.is_file() and hashlib.sha256(target.read_bytes()).hexdigest() == sha:
            continue
        try:
            with urllib.request.urlopen(url.format(name=name), timeout=timeout) as r:
                data = r.read()
        except (urllib.error.URLError, OSError) as e:
            raise NmtpruneError(f"cannot download {name} ({getattr(e, 'reason', e)}); if you are offline, "
                                "copy the raw files by hand and pass --data DIR") from None
        got = hashlib.sha256(data).hexdigest()
        if got != sha:
            raise NmtpruneError(f"{name}: checksum mismatch (got {got[:12]}..., expected {sha[:12]}...)")
        atomic_write(target, data)
    return out
