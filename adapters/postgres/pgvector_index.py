"""The vector index on PostgreSQL with pgvector: one table of chunk vectors, an HNSW index on cosine distance.

Collections share the table and are filtered by ``collection_id``; pgvector's iterative index scan
(``hnsw.iterative_scan``) keeps scanning the graph until ``top_k`` rows of the collection are found, so a small
collection among large ones still gets its ``top_k``. Writes are upserts keyed by (collection, document,
ordinal), so applying a page twice after a crash leaves the same index. ``bulk_load`` drops the HNSW index for
a large load and builds it once after (building is several times faster than maintaining it row by row).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
from pgvector.psycopg import register_vector

from adapters.postgres.connection import ThreadConnections, create_objects
from domain.ports import VectorHit

SCHEMA_NAME = "parley_vectors"
DIMENSION = 384  # all-MiniLM-L6-v2
_INDEX = "chunk_vectors_hnsw"
# The candidates HNSW keeps while it searches. pgvector's default, 40, found the true top-10 for 0.795 of the
# queries at 100k chunks; 100 finds it for 0.955 at 1.9x the time, still under embedded Chroma's (200: 0.990 at
# 3.6x). bench/vector_bench.py --ef-search measures both.
EF_SEARCH = 100


class PgvectorIndex:
    def __init__(
        self, url: str, schema: str = SCHEMA_NAME, dimension: int = DIMENSION, ef_search: int = EF_SEARCH
    ) -> None:
        if not 1 <= ef_search <= 1000:  # pgvector's own range
            raise ValueError(f"hnsw.ef_search must be between 1 and 1000, got {ef_search}")
        setup = ("SET hnsw.iterative_scan = relaxed_order", f"SET hnsw.ef_search = {int(ef_search)}")
        self.connections = ThreadConnections(url, schema, setup=setup)
        self.dimension = dimension
        create_objects(
            self.connections.get(),
            "CREATE EXTENSION IF NOT EXISTS vector WITH SCHEMA public",  # where every schema's search path finds it
            "CREATE TABLE IF NOT EXISTS chunk_vectors (collection_id TEXT NOT NULL, document_id TEXT NOT NULL,"
            f" ordinal INTEGER NOT NULL, embedding vector({dimension}) NOT NULL,"
            " PRIMARY KEY (collection_id, document_id, ordinal))",
        )
        self._create_index()

    def _conn(self) -> Any:
        conn = self.connections.get()
        if not getattr(conn, "_parley_vector", False):
            register_vector(conn)
            conn._parley_vector = True  # type: ignore[attr-defined]
        return conn

    def _create_index(self) -> None:
        create_objects(
            self._conn(),
            f"CREATE INDEX IF NOT EXISTS {_INDEX} ON chunk_vectors USING hnsw (embedding vector_cosine_ops)",
        )

    def upsert(
        self, collection_id: str, document_id: str, ordinals: Sequence[int], vectors: Sequence[Sequence[float]]
    ) -> None:
        if not len(ordinals):
            return
        rows = [
            (collection_id, document_id, int(ordinal), np.asarray(vector, dtype=np.float32))
            for ordinal, vector in zip(ordinals, vectors, strict=True)
        ]
        conn = self._conn()
        with conn.transaction(), conn.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO chunk_vectors (collection_id, document_id, ordinal, embedding) VALUES (%s, %s, %s, %s)"
                " ON CONFLICT (collection_id, document_id, ordinal) DO UPDATE SET embedding = excluded.embedding",
                rows,
            )

    def delete_document(self, collection_id: str, document_id: str) -> None:
        self._conn().execute(
            "DELETE FROM chunk_vectors WHERE collection_id = %s AND document_id = %s", (collection_id, document_id)
        )

    def drop_collection(self, collection_id: str) -> None:
        self._conn().execute("DELETE FROM chunk_vectors WHERE collection_id = %s", (collection_id,))

    def query(self, collection_id: str, vector: Any, top_k: int) -> list[VectorHit]:
        rows = (
            self._conn()
            .execute(
                "SELECT document_id, ordinal, 1 - (embedding <=> %s) AS score FROM chunk_vectors"
                " WHERE collection_id = %s ORDER BY embedding <=> %s LIMIT %s",
                (np.asarray(vector, dtype=np.float32), collection_id, np.asarray(vector, dtype=np.float32), top_k),
            )
            .fetchall()
        )
        return [VectorHit(row["document_id"], int(row["ordinal"]), float(row["score"])) for row in rows]

    @contextmanager
    def bulk_load(self) -> Iterator[None]:
        """Load many vectors without maintaining the HNSW index, then build it once (a rebuild, a migration).

        The table is analysed at the end: with the statistics of an empty table, the planner takes a collection
        for a few rows, filters it by the primary key and sorts every row by distance, 130 ms a query at 100k
        chunks instead of 11 ms through the graph, until autovacuum gets to it."""
        self._conn().execute(f"DROP INDEX IF EXISTS {_INDEX}")
        try:
            yield
        finally:
            self._create_index()
            self._conn().execute("ANALYZE chunk_vectors")

    def close(self) -> None:
        self.connections.close()
