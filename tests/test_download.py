"""Named corpora: the real download code against a local HTTP server on 127.0.0.1.

A tiny fake corpus is registered in place of Multi30k (same layout, known hashes),
so every path runs in well under a second: fetch into the XDG cache, no refetch,
mirror, checksum mismatch, 404, interrupted transfer, timeout, and the CLI.
"""
from __future__ import annotations

import gzip
import hashlib
import http.server
import threading
import time
from pathlib import Path

import pytest

from nmtprune.cli import main
from nmtprune.data import corpora, download as dl
from nmtprune.data.resolve import resolve_data
from nmtprune.errors import NmtpruneError


def _gz(text: str) -> bytes:
    return gzip.compress(text.encode("utf-8"), mtime=0)


WORDS = "ein mann hund eine frau kind a man dog woman child".split()
FILES = {f"{split}.{lang}.gz": _gz("".join(f"{lang} {WORDS[i % 11]} {i}\n" for i in range(n)))
         for split, n in (("train", 40), ("val", 6), ("test_2016_flickr", 5)) for lang in ("de", "en", "fr")}


class Server:
    """What the handler serves and what it was asked for."""

    def __init__(self):
        self.files: dict[str, bytes] = {}    # URL path -> body
        self.truncate: set[str] = set()      # paths answered with a short body, then a closed socket
        self.delay: dict[str, float] = {}    # paths answered only after this many seconds
        self.hits: list[str] = []
        self.base = ""


@pytest.fixture
def server():
    state = Server()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            state.hits.append(self.path)
            time.sleep(state.delay.get(self.path, 0))
            body = state.files.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            extra = 1000 if self.path in state.truncate else 0
            self.send_header("Content-Length", str(len(body) + extra))
            self.end_headers()
            self.wfile.write(body[:len(body) // 2] if extra else body)
            self.close_connection = True

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    state.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield state
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def tiny(server, tmp_path, monkeypatch):
    """Corpus ``tiny`` registered with upstream at ``<server>/up/``; the cache under a fresh XDG_CACHE_HOME."""
    for name, body in FILES.items():
        server.files[f"/up/{name}"] = body
        server.files[f"/mirror/tiny/{name}"] = body
    monkeypatch.setitem(corpora.CORPORA, "tiny", {
        "description": "test corpus", "url": server.base + "/up/{name}", "langs": ("de", "en", "fr"),
        "files": {n: hashlib.sha256(b).hexdigest() for n, b in FILES.items()}})
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv(corpora.CACHE_ENV, raising=False)
    monkeypatch.delenv(corpora.MIRROR_ENV, raising=False)
    return tmp_path / "xdg" / "nmtprune" / "tiny"


def test_a_name_is_fetched_into_the_xdg_cache_once(server, tiny):
    out = resolve_data("tiny", langs=("de", "en"), progress=True)
    assert out == tiny
    assert sorted(p.name for p in out.iterdir()) == sorted(n for n in FILES if ".fr." not in n)
    assert all((out / n).read_bytes() == FILES[n] for n in FILES if ".fr." not in n)
    assert sorted(server.hits) == sorted(f"/up/{n}" for n in FILES if ".fr." not in n)
    server.hits.clear()
    assert resolve_data("tiny", langs=("de", "en")) == tiny and server.hits == []     # verified: nothing fetched
    (out / "val.en.gz").write_bytes(b"stale")                                  # wrong hash: fetched again
    resolve_data("tiny", langs=("de", "en"))
    assert server.hits == ["/up/val.en.gz"] and (out / "val.en.gz").read_bytes() == FILES["val.en.gz"]


def test_nmtprune_cache_overrides_xdg(tiny, tmp_path, monkeypatch):
    monkeypatch.setenv(corpora.CACHE_ENV, str(tmp_path / "c"))
    assert resolve_data("tiny", langs=("de",)) == tmp_path / "c" / "tiny"
    with pytest.raises(NmtpruneError, match="corpus tiny has no language xx; it has de, en, fr"):
        resolve_data("tiny", langs=("de", "xx"))


@pytest.mark.parametrize("kind", ["http", "path"])
def test_mirror_replaces_upstream(server, tiny, tmp_path, monkeypatch, kind):
    if kind == "http":
        monkeypatch.setenv(corpora.MIRROR_ENV, server.base + "/mirror/")
    else:     # a plain directory laid out as <mirror>/<corpus>/<file>
        (tmp_path / "m" / "tiny").mkdir(parents=True)
        for n, b in FILES.items():
            (tmp_path / "m" / "tiny" / n).write_bytes(b)
        monkeypatch.setenv(corpora.MIRROR_ENV, str(tmp_path / "m"))
    resolve_data("tiny", langs=("de", "en"))
    assert (tiny / "train.de.gz").read_bytes() == FILES["train.de.gz"]
    expect = [f"/mirror/tiny/{n}" for n in FILES if ".fr." not in n] if kind == "http" else []
    assert sorted(server.hits) == sorted(expect)


def _leftovers(d: Path, name: str) -> list[str]:
    return [p.name for p in d.iterdir() if p.name == name or p.name.endswith(".part")] if d.is_dir() else []


@pytest.mark.parametrize("fault, message", [
    ("checksum", "val.de.gz from http://127.0.0.1:.*/up/val.de.gz: checksum mismatch"),
    ("missing", r"cannot download val.de.gz from http://127.0.0.1:.*/up/val.de.gz \(HTTP 404"),
    ("interrupted", r"cannot download val.de.gz .*transfer interrupted after \d+ of \d+ bytes"),
    ("timeout", r"cannot download val.de.gz .*timed out"),
])
def test_a_failed_transfer_leaves_nothing_and_says_what_to_do(server, tiny, monkeypatch, fault, message):
    path = "/up/val.de.gz"
    if fault == "checksum":
        server.files[path] = FILES["val.de.gz"][:-1] + b"x"
    elif fault == "missing":
        del server.files[path]
    elif fault == "interrupted":
        server.truncate.add(path)
    else:
        monkeypatch.setattr(dl, "TIMEOUT", 0.2)
        server.delay[path] = 0.6
    with pytest.raises(NmtpruneError, match=message) as e:
        resolve_data("tiny", langs=("de", "en"))
    text = str(e.value)
    assert "\n" not in text and "NMTPRUNE_MIRROR" in text and "--data DIR" in text
    assert _leftovers(tiny, "val.de.gz") == []
    server.files[path], server.delay = FILES["val.de.gz"], {}      # back online: the next call completes
    server.truncate.clear()
    assert (resolve_data("tiny", langs=("de", "en")) / "val.de.gz").read_bytes() == FILES["val.de.gz"]


def test_two_processes_fetching_at_once_both_get_verified_files(tiny):
    errors = []

    def fetch():
        try:
            resolve_data("tiny", langs=("de", "en"))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=fetch) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert all((tiny / n).read_bytes() == FILES[n] for n in FILES if ".fr." not in n)
    assert _leftovers(tiny, "") == []


def test_an_existing_directory_wins_over_a_name(server, tiny, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny").mkdir()
    assert resolve_data("tiny") == Path("tiny") and server.hits == []


def test_cli_prepare_and_download_take_a_name(server, tiny, tmp_path, capsys):
    assert main(["prepare", "--data", "tiny", "--src", "de", "--tgt", "en", "--out", str(tmp_path / "prep"),
                 "--tokenizer", "word"]) == 0
    import json
    meta = json.loads((tmp_path / "prep" / "prep.json").read_text())
    assert meta["stats"]["train"]["lines"] == 40
    assert Path(meta["sources"]["train"][0]) == tiny.resolve() / "train.de.gz"
    assert main(["download", "tiny", "--out", str(tmp_path / "own"), "--quiet"]) == 0
    assert sorted(p.name for p in (tmp_path / "own").iterdir()) == sorted(FILES)
    capsys.readouterr()
    server.hits.clear()
    assert main(["download", "tiny", "--quiet"]) == 0                      # default --out: the cache
    assert capsys.readouterr().out.strip() == str(tiny)
    assert sorted(server.hits) == sorted(f"/up/{n}" for n in FILES if ".fr." in n)   # de, en: cached


@pytest.mark.parametrize("cmd", [["prepare", "--src", "de", "--tgt", "en", "--out", "{tmp}/p"],
                                 ["study", "--out", "{tmp}/s"]])
def test_an_unknown_name_is_a_one_line_error_listing_the_names(tiny, tmp_path, capsys, cmd):
    argv = [a.format(tmp=tmp_path) for a in cmd] + ["--data", str(tmp_path / "nope")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {tmp_path / 'nope'}: data directory not found") and "\n" not in err
    assert "registered: multi30k, tiny" in err and "nmtprune download NAME" in err
