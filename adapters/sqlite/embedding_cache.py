"""The embedding cache in a SQLite file of the data directory (the embedded default's EmbeddingStore)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np


class SQLiteEmbeddingStore:
    def __init__(self, path: Path | str) -> None:
        self._path = str(path)
        self._local = threading.local()
        with self._conn() as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS embeddings (model TEXT NOT NULL, hash TEXT NOT NULL,"
                " vector BLOB NOT NULL, PRIMARY KEY (model, hash))"
            )

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self._path, timeout=30)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA secure_delete=ON")  # a forgotten vector leaves no copy in the file
            self._local.conn = conn
        return conn

    def lookup(self, model: str, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        conn = self._conn()
        for first in range(0, len(hashes), 500):
            batch = list(hashes[first : first + 500])
            marks = ",".join("?" * len(batch))
            rows = conn.execute(
                f"SELECT hash, vector FROM embeddings WHERE model = ? AND hash IN ({marks})", [model, *batch]
            )
            for digest, blob in rows:
                found[digest] = np.frombuffer(blob, dtype=np.float32)
        return found

    def store(self, model: str, vectors: Sequence[tuple[str, np.ndarray]]) -> None:
        with self._conn() as conn:
            conn.executemany(
                "INSERT OR IGNORE INTO embeddings (model, hash, vector) VALUES (?, ?, ?)",
                [(model, digest, np.asarray(vector, dtype=np.float32).tobytes()) for digest, vector in vectors],
            )

    def forget(self, hashes: Sequence[str]) -> None:
        """Delete the vectors of these text hashes, of every model (an erased session's questions)."""
        with self._conn() as conn:
            conn.executemany("DELETE FROM embeddings WHERE hash = ?", [(digest,) for digest in hashes])
        self._conn().execute("PRAGMA wal_checkpoint(TRUNCATE)")
