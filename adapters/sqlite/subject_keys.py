"""SQLiteSubjectKeyStore: the erasure keys of the embedded default, in a SQLite file of their own in the data
directory (``keys.sqlite3``), apart from the event log, so that forgetting a key leaves the log whole.

Forgetting must leave no copy of the key in the file: the connection runs with ``secure_delete`` (SQLite zeroes
deleted content) and a rollback journal instead of a write-ahead log (a WAL keeps old page images after a
delete until it is checkpointed over), and a forgotten subject's row is deleted, not updated, before its
tombstone goes in. Keys are never logged: no message here names one.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from adapters.crypto_shredding import new_key
from domain.errors import Erased

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS subject_keys (subject TEXT PRIMARY KEY, key BLOB, created_at TEXT NOT NULL,"
    " forgotten_at TEXT)"
)
_BATCH = 500


class SQLiteSubjectKeyStore:
    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._conn().execute(_SCHEMA)

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=30, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=DELETE")
            conn.execute("PRAGMA secure_delete=ON")
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def key_for(self, subject: str) -> bytes:
        conn = self._conn()
        row = conn.execute("SELECT key FROM subject_keys WHERE subject = ?", (subject,)).fetchone()
        if row is None:
            now = datetime.now(UTC).isoformat()
            conn.execute(
                "INSERT OR IGNORE INTO subject_keys (subject, key, created_at) VALUES (?, ?, ?)",
                (subject, new_key(), now),
            )
            row = conn.execute("SELECT key FROM subject_keys WHERE subject = ?", (subject,)).fetchone()
        if row[0] is None:
            raise Erased(f"chat session {subject} was erased: nothing personal is recorded for it any more")
        return bytes(row[0])

    def keys_of(self, subjects: Sequence[str]) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        conn = self._conn()
        for first in range(0, len(subjects), _BATCH):
            batch = list(subjects[first : first + _BATCH])
            marks = ",".join("?" * len(batch))
            rows = conn.execute(
                f"SELECT subject, key FROM subject_keys WHERE key IS NOT NULL AND subject IN ({marks})", batch
            )
            found.update((subject, bytes(key)) for subject, key in rows)
        return found

    def forget(self, subjects: Sequence[str]) -> list[str]:
        if not subjects:
            return []
        conn = self._conn()
        now = datetime.now(UTC).isoformat()
        conn.execute("BEGIN IMMEDIATE")
        try:
            had = sorted(self.keys_of(subjects))
            conn.executemany("DELETE FROM subject_keys WHERE subject = ?", [(subject,) for subject in subjects])
            conn.executemany(
                "INSERT INTO subject_keys (subject, key, created_at, forgotten_at) VALUES (?, NULL, ?, ?)",
                [(subject, now, now) for subject in subjects],
            )
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return had

    def entries(self) -> list[tuple[str, bytes | None, str, str | None]]:
        """Every row, forgotten subjects included, for copying the keys to another store (``parley migrate``)."""
        rows = self._conn().execute("SELECT subject, key, created_at, forgotten_at FROM subject_keys ORDER BY subject")
        return [
            (subject, None if key is None else bytes(key), created, forgotten)
            for subject, key, created, forgotten in rows
        ]

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()
