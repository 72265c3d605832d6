"""The on-disk buffer between sampling and publishing: an SQLite queue in the state directory.

Every sample is written here first, with the next sequence number of this gateway, and removed
only when the broker has acknowledged it (PUBACK, QoS 1). While the broker is away samples simply
accumulate; when it returns the publisher drains the queue in order. A restart of the collector
loses nothing either: what is in the file is sent again (at least once).

Each thread opens its own Spool on the same file (WAL mode lets the sampler write while the
publisher reads).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS samples (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL
);
"""


class Spool:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(
            self.path, timeout=30, isolation_level=None, check_same_thread=False
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        self._db.close()

    def last_seq(self) -> int:
        row = self._db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'samples'").fetchone()
        return int(row[0]) if row else 0

    def add(self, samples: Iterable[tuple[str, dict[str, Any]]]) -> int:
        """Append samples (topic, payload fields); each gets the next sequence number, stored in
        its payload as "seq". Returns the last sequence number used."""
        cur = self._db.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            seq = self.last_seq()
            rows = []
            for topic, fields in samples:
                seq += 1
                body = {"seq": seq, **fields}
                rows.append(
                    (seq, topic, json.dumps(body, separators=(",", ":"), default=str).encode())
                )
            cur.executemany("INSERT INTO samples (seq, topic, payload) VALUES (?, ?, ?)", rows)
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        return seq

    def after(self, seq: int, limit: int) -> list[tuple[int, str, bytes]]:
        """Up to `limit` queued samples with a sequence number above `seq`, oldest first."""
        return self._db.execute(
            "SELECT seq, topic, payload FROM samples WHERE seq > ? ORDER BY seq LIMIT ?",
            (seq, limit),
        ).fetchall()

    def remove(self, seqs: Sequence[int]) -> None:
        """Forget acknowledged samples."""
        if not seqs:
            return
        cur = self._db.cursor()
        cur.execute("BEGIN IMMEDIATE")
        cur.executemany("DELETE FROM samples WHERE seq = ?", [(s,) for s in seqs])
        cur.execute("COMMIT")

    def backlog(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM samples").fetchone()[0]
