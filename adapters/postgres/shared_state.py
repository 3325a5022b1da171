"""What every Parley process must reach, in Postgres: the uploaded files and the embedding cache.

With the read side on Postgres, API replicas and ingestion workers may run on different machines; a file one
replica received must be readable by the worker that ingests it, and a vector one worker computed should not be
computed again by another. Both live in the schema ``parley_shared`` of the same database, so a deployment needs
no shared volume: the bytes are content-addressed (sha256), so a second write of the same file is a no-op.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from adapters.postgres.connection import ThreadConnections, create_objects
from domain.errors import NotFound

SCHEMA_NAME = "parley_shared"


class PostgresBlobStore:
    def __init__(self, url: str, schema: str = SCHEMA_NAME) -> None:
        self.connections = ThreadConnections(url, schema)
        create_objects(
            self.connections.get(),
            "CREATE TABLE IF NOT EXISTS blobs (content_hash TEXT PRIMARY KEY, data BYTEA NOT NULL)",
        )

    def put(self, data: bytes) -> str:
        content_hash = hashlib.sha256(data).hexdigest()
        self.connections.get().execute(
            "INSERT INTO blobs (content_hash, data) VALUES (%s, %s) ON CONFLICT (content_hash) DO NOTHING",
            (content_hash, data),
        )
        return content_hash

    def get(self, content_hash: str) -> bytes:
        row = (
            self.connections.get().execute("SELECT data FROM blobs WHERE content_hash = %s", (content_hash,)).fetchone()
        )
        if row is None:
            raise NotFound(f"no stored file with hash {content_hash}")
        return bytes(row["data"])


class PostgresEmbeddingStore:
    def __init__(self, url: str, schema: str = SCHEMA_NAME) -> None:
        self.connections = ThreadConnections(url, schema)
        create_objects(
            self.connections.get(),
            "CREATE TABLE IF NOT EXISTS embeddings (model TEXT NOT NULL, hash TEXT NOT NULL, vector BYTEA NOT NULL,"
            " PRIMARY KEY (model, hash))",
        )

    def lookup(self, model: str, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        if not hashes:
            return {}
        rows = self.connections.get().execute(
            "SELECT hash, vector FROM embeddings WHERE model = %s AND hash = ANY(%s)", (model, list(hashes))
        )
        return {row["hash"]: np.frombuffer(bytes(row["vector"]), dtype=np.float32) for row in rows}

    def store(self, model: str, vectors: Sequence[tuple[str, np.ndarray]]) -> None:
        conn = self.connections.get()
        with conn.transaction(), conn.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO embeddings (model, hash, vector) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                [(model, digest, np.asarray(vector, dtype=np.float32).tobytes()) for digest, vector in vectors],
            )

    def forget(self, hashes: Sequence[str]) -> None:
        """Delete the vectors of these text hashes, of every model (an erased session's questions)."""
        self.connections.get().execute("DELETE FROM embeddings WHERE hash = ANY(%s)", (list(hashes),))
