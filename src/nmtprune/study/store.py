"""The study's results store: one SQLite database, one row per run.

Every write is a transaction, so a killed study leaves each run either
finished (with its metrics) or not, never half-recorded. A database that is not
ours is refused, never overwritten.
"""
from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

from ..errors import NmtpruneError

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    experiment TEXT NOT NULL,
    kind TEXT NOT NULL,
    criterion TEXT, allocation TEXT, sparsity REAL, retrained INTEGER NOT NULL DEFAULT 0,
    init TEXT, seed INTEGER NOT NULL DEFAULT 0,
    spec TEXT NOT NULL,
    config_hash TEXT NOT NULL,
    status TEXT NOT NULL,
    started REAL, finished REAL, seconds REAL,
    metrics TEXT, error TEXT
);
"""


class Store:
    """Open (or create) ``path``; refuse files that are not an nmtprune study store."""

    def __init__(self, path: str | Path, *, create: bool = True):
        self.path = Path(path)
        if not self.path.exists() and not create:
            raise NmtpruneError(f"{self.path}: no study database here")
        if self.path.exists():
            head = self.path.read_bytes()[:16]
            if head and head != b"SQLite format 3\x00":
                raise NmtpruneError(f"{self.path}: not an SQLite database; refusing to touch it")
        try:
            self.db = sqlite3.connect(str(self.path), timeout=30, isolation_level=None)
            tables = {r[0] for r in self.db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        except sqlite3.DatabaseError as e:
            raise NmtpruneError(f"{self.path}: unreadable database ({e}); refusing to touch it") from None
        if tables and not {"meta", "runs"} <= tables:
            raise NmtpruneError(f"{self.path}: a database, but not an nmtprune study store "
                                f"(tables: {', '.join(sorted(tables))}); refusing to touch it")
        with self.db:
            self.db.executescript(_SCHEMA)
            if self.get_meta("schema") is None:
                self.set_meta("schema", str(SCHEMA_VERSION))
        if self.get_meta("schema") != str(SCHEMA_VERSION):
            raise NmtpruneError(f"{self.path}: study store schema {self.get_meta('schema')}, "
                                f"this nmtprune reads {SCHEMA_VERSION}")

    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def meta(self) -> dict[str, str]:
        """Every meta entry, ``{key: value}``."""
        return dict(self.db.execute("SELECT key, value FROM meta").fetchall())

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    def status(self, run_id: str) -> str | None:
        row = self.db.execute("SELECT status FROM runs WHERE id=?", (run_id,)).fetchone()
        return row[0] if row else None

    def run_config_hash(self, run_id: str) -> str | None:
        """The context hash a run was recorded under (None if it was never started)."""
        row = self.db.execute("SELECT config_hash FROM runs WHERE id=?", (run_id,)).fetchone()
        return row[0] if row else None

    def start(self, run_id: str, spec: dict, config_hash: str) -> None:
        """Record a run as running (replacing an unfinished earlier attempt)."""
        self.db.execute(
            "INSERT OR REPLACE INTO runs(id, experiment, kind, criterion, allocation, sparsity, retrained, init,"
            " seed, spec, config_hash, status, started) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (run_id, spec["experiment"], spec["kind"], spec.get("criterion"), spec.get("allocation"),
             spec.get("sparsity"), int(bool(spec.get("retrained"))), spec.get("init"), spec.get("seed", 0),
             json.dumps(spec, sort_keys=True), config_hash, "running", time.time()))

    def finish(self, run_id: str, metrics: dict, *, seconds: float | None = None) -> None:
        """Record a run as done. ``seconds``: its own running time, when it was measured where it
        ran (a run queued on a cluster started long after it was recorded as running)."""
        now = time.time()
        self.db.execute("UPDATE runs SET status='done', finished=?, seconds=COALESCE(?, ?-started), metrics=?, "
                        "error=NULL WHERE id=?", (now, seconds, now, json.dumps(metrics), run_id))

    def fail(self, run_id: str, error: str, *, seconds: float | None = None) -> None:
        now = time.time()
        self.db.execute("UPDATE runs SET status='failed', finished=?, seconds=COALESCE(?, ?-started), error=? "
                        "WHERE id=?", (now, seconds, now, error[:2000], run_id))

    def runs(self, *, status: str | None = "done") -> list[dict]:
        q = "SELECT id, spec, status, seconds, metrics, error FROM runs"
        rows = self.db.execute(q + (" WHERE status=?" if status else ""), (status,) if status else ())
        out = []
        for rid, spec, st, secs, metrics, err in rows:
            out.append({"id": rid, **json.loads(spec), "status": st, "seconds": secs,
                        "metrics": json.loads(metrics) if metrics else {}, "error": err})
        return out

    def run_records(self) -> list[dict]:
        """Every run's row as stored, whatever its status: ``{column: value}`` (``spec`` and
        ``metrics`` still JSON text, ``retrained`` 0/1), ordered by experiment, sparsity and id."""
        cur = self.db.execute("SELECT * FROM runs ORDER BY experiment, sparsity, id")
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row)) for row in cur.fetchall()]

    def counts(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT status, COUNT(*) FROM runs GROUP BY status").fetchall())
