"""Named corpora: what ``--data multi30k`` means, and where its files are cached.

A plain dict registry in the spirit of sacreBLEU's dataset list: each entry has
the upstream URL pattern, every file with its SHA-256, the languages and a
one-line description. The hashes are those of the files this project is
developed and tested with, so a changed upstream file is caught, not trained on.
"""
from __future__ import annotations

import os
from pathlib import Path

from ..errors import NmtpruneError

MIRROR_ENV = "NMTPRUNE_MIRROR"
CACHE_ENV = "NMTPRUNE_CACHE"

CORPORA: dict[str, dict] = {
    "multi30k": {
        "description": "Multi30k task 1 (Flickr30k captions): 29,000 train, 1,014 val, 1,000 test_2016_flickr",
        "url": "https://raw.githubusercontent.com/multi30k/dataset/master/data/task1/raw/{name}",
        "langs": ("de", "en", "fr", "cs"),
        "files": {
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
        },
    },
}


def file_lang(name: str) -> str:
    """The language of a ``{split}.{lang}[.gz]`` file name."""
    parts = name[:-3].split(".") if name.endswith(".gz") else name.split(".")
    return parts[-1]


def corpus_files(corpus: str, *, langs=None) -> dict[str, str]:
    """``{file name: sha256}`` of ``corpus``, only the files of ``langs`` when given."""
    entry = CORPORA[corpus]
    if langs is not None:
        missing = [x for x in langs if x not in entry["langs"]]
        if missing:
            raise NmtpruneError(f"corpus {corpus} has no language {', '.join(missing)}; "
                                f"it has {', '.join(entry['langs'])}")
    return {n: h for n, h in entry["files"].items() if langs is None or file_lang(n) in langs}


def cache_root() -> Path:
    """``$NMTPRUNE_CACHE``, else ``$XDG_CACHE_HOME/nmtprune``, else ``~/.cache/nmtprune``.

    ``NMTPRUNE_CACHE`` exists so CI (or a shared machine) can point every checkout at one
    directory without redirecting the whole XDG cache of other tools.
    """
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "nmtprune"


def cache_dir(corpus: str) -> Path:
    """Where the files of a named corpus are kept."""
    return cache_root() / corpus


def source_url(corpus: str, name: str) -> str:
    """The URL to fetch ``name`` from: ``$NMTPRUNE_MIRROR/<corpus>/<name>`` when set, else upstream.

    The mirror may be an ``http(s)://`` or ``file://`` URL, or a plain directory path.
    """
    mirror = os.environ.get(MIRROR_ENV, "").strip()
    if not mirror:
        return CORPORA[corpus]["url"].format(name=name)
    if "://" not in mirror:
        return (Path(mirror).expanduser().resolve() / corpus / name).as_uri()
    return f"{mirror.rstrip('/')}/{corpus}/{name}"


def describe() -> str:
    """``name (description)`` for each registered corpus, for error messages and help."""
    return "; ".join(f"{n} ({e['description']})" for n, e in CORPORA.items())
