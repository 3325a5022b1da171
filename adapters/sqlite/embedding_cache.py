"""CachedEmbedder: embeddings cached by (model, sha256 of the text) in SQLite, so rebuilding the vector index
or re-ingesting unchanged text never embeds it twice."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


class CachedEmbedder:
    def __init__(self, embedder: Any, path: Path | str) -> None:
        self.inner = embedder
        self.name: str = embedder.name
        self.dimension: int = embedder.dimension
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
            self._local.conn = conn
        return conn

    def warm_up(self) -> None:
        warm = getattr(self.inner, "warm_up", None)
        if warm is not None:
            warm()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        hashes = [hashlib.sha256(text.encode()).hexdigest() for text in texts]
        found = self._lookup(list(dict.fromkeys(hashes)))
        missing = [i for i, digest in enumerate(hashes) if digest not in found]
        if missing:
            unique = list(dict.fromkeys(hashes[i] for i in missing))
            texts_by_hash = {hashes[i]: texts[i] for i in missing}
            vectors = np.asarray(self.inner.embed([texts_by_hash[h] for h in unique]), dtype=np.float32)
            with self._conn() as conn:
                conn.executemany(
                    "INSERT OR IGNORE INTO embeddings (model, hash, vector) VALUES (?, ?, ?)",
                    [(self.name, digest, vector.tobytes()) for digest, vector in zip(unique, vectors, strict=True)],
                )
            found.update(zip(unique, vectors, strict=True))
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([found[digest] for digest in hashes])

    def _lookup(self, hashes: list[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        conn = self._conn()
        for first in range(0, len(hashes), 500):
            batch = hashes[first : first + 500]
            marks = ",".join("?" * len(batch))
            rows = conn.execute(
                f"SELECT hash, vector FROM embeddings WHERE model = ? AND hash IN ({marks})", [self.name, *batch]
            )
            for digest, blob in rows:
                found[digest] = np.frombuffer(blob, dtype=np.float32)
        return found
