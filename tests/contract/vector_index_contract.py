"""The vector index contract: one abstract suite, subclassed once per adapter (Chroma embedded today; Chroma in
client mode and pgvector next). A subclass provides ``make_index`` (a fresh, empty index)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import numpy as np
import pytest

from domain.ports import VectorIndex

DIMENSION = 384


def unit(seed: int) -> np.ndarray:
    vector = np.random.default_rng(seed).standard_normal(DIMENSION).astype(np.float32)
    return vector / np.linalg.norm(vector)


def near(vector: np.ndarray, seed: int, noise: float) -> np.ndarray:
    moved = vector + noise * unit(seed)
    return moved / np.linalg.norm(moved)


def collection() -> str:
    return f"c-{uuid.uuid4()}"


class VectorIndexContract:
    def make_index(self) -> VectorIndex:
        raise NotImplementedError("each adapter's test class provides its index")

    @pytest.fixture
    def index(self) -> Iterator[VectorIndex]:
        yield self.make_index()

    def test_the_nearest_chunks_come_first_with_cosine_scores(self, index: VectorIndex) -> None:
        name, target = collection(), unit(1)
        index.upsert(name, "doc-a", [0, 1, 2], [near(target, 2, 0.1), unit(3), near(target, 4, 0.6)])
        hits = index.query(name, target, top_k=3)
        assert [(h.document_id, h.ordinal) for h in hits] == [("doc-a", 0), ("doc-a", 2), ("doc-a", 1)]
        assert hits[0].score == pytest.approx(float(near(target, 2, 0.1) @ target), abs=1e-4)
        assert hits[0].score > hits[1].score > hits[2].score

    def test_an_upsert_replaces_a_chunk_rather_than_adding_one(self, index: VectorIndex) -> None:
        name, target = collection(), unit(5)
        index.upsert(name, "doc-a", [0], [unit(6)])
        index.upsert(name, "doc-a", [0], [target])  # a replayed page after a crash, or a re-embedding
        hits = index.query(name, target, top_k=10)
        assert len(hits) == 1 and hits[0].score == pytest.approx(1.0, abs=1e-4)

    def test_collections_do_not_see_each_other(self, index: VectorIndex) -> None:
        first, second, target = collection(), collection(), unit(7)
        index.upsert(first, "doc-a", [0], [target])
        index.upsert(second, "doc-b", [0], [target])
        assert [h.document_id for h in index.query(first, target, top_k=10)] == ["doc-a"]
        assert index.query(collection(), target, top_k=10) == []

    def test_a_deleted_document_is_never_returned(self, index: VectorIndex) -> None:
        name, target = collection(), unit(8)
        index.upsert(name, "doc-a", [0, 1], [target, unit(9)])
        index.upsert(name, "doc-b", [0], [near(target, 10, 0.3)])
        index.delete_document(name, "doc-a")
        assert {h.document_id for h in index.query(name, target, top_k=10)} == {"doc-b"}

    def test_a_dropped_collection_is_empty_and_can_be_filled_again(self, index: VectorIndex) -> None:
        name, target = collection(), unit(11)
        index.upsert(name, "doc-a", [0], [target])
        index.drop_collection(name)
        assert index.query(name, target, top_k=10) == []
        index.upsert(name, "doc-c", [0], [target])
        assert [h.document_id for h in index.query(name, target, top_k=10)] == ["doc-c"]
        index.drop_collection(collection())  # dropping what never existed is no error

    def test_top_k_bounds_the_hits_and_large_batches_go_in_whole(self, index: VectorIndex) -> None:
        name = collection()
        vectors = [unit(100 + n) for n in range(6000)]  # above Chroma's own batch limit
        index.upsert(name, "doc-big", list(range(6000)), vectors)
        hits = index.query(name, vectors[4321], top_k=5)
        assert len(hits) == 5 and (hits[0].document_id, hits[0].ordinal) == ("doc-big", 4321)
