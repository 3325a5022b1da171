"""ChromaVectorIndex: the vector index on Chroma, embedded (a PersistentClient in the data directory) or in client
mode (an HttpClient of a Chroma server, ``PARLEY_CHROMA_URL``, shared by every Parley process). One Chroma
collection per Parley collection, cosine space. Vectors are always supplied by us, so Chroma never needs its own
model."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import chromadb
from chromadb.config import Settings

from domain.errors import ConfigurationError
from domain.ports import VectorHit

_MAX_BATCH = 5000  # Chroma refuses batches above ~5461
# The HNSW graph's breadth. With Chroma's defaults (16 neighbours, ef 100) a search for the 50 candidates of a
# hybrid retrieval missed 13 to 39 of the true top 30 over 84 questions on the realdocs collection (420 chunks of
# near-alike table rows), differing with the order of insertion, so the same question could find another context
# after a re-ingestion; 32 neighbours and ef 200 missed none in three builds. ``max_neighbors`` is fixed when a
# collection is created; a collection made before gets the wider search when it is opened.
EF_SEARCH = 200
HNSW = {"space": "cosine", "max_neighbors": 32, "ef_construction": EF_SEARCH, "ef_search": EF_SEARCH}


def _name(collection_id: str) -> str:
    return f"parley-{collection_id}"


class ChromaVectorIndex:
    """``ChromaVectorIndex(path)`` embedded; ``ChromaVectorIndex.server(url)`` in client mode."""

    def __init__(self, path: Path | str | None = None, *, client: Any = None) -> None:
        if client is None:
            client = chromadb.PersistentClient(
                path=str(path), settings=Settings(anonymized_telemetry=False, allow_reset=True)
            )
        self._client = client
        self._collections: dict[str, Any] = {}

    @classmethod
    def server(cls, url: str) -> ChromaVectorIndex:
        """A Chroma server at ``url`` (``http://host:8000``); ConfigurationError when it cannot be reached."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigurationError(f"PARLEY_CHROMA_URL={url!r}: expected http://host:port")
        try:
            client = chromadb.HttpClient(
                host=parts.hostname,
                port=parts.port or (443 if parts.scheme == "https" else 8000),
                ssl=parts.scheme == "https",
                settings=Settings(anonymized_telemetry=False),
            )
            client.heartbeat()
        except Exception as error:  # the client raises several kinds on a refused or wrong address
            raise ConfigurationError(f"PARLEY_CHROMA_URL={url!r}: cannot reach Chroma: {error}") from error
        return cls(client=client)

    def _collection(self, collection_id: str) -> Any:
        found = self._collections.get(collection_id)
        if found is None:
            found = self._client.get_or_create_collection(
                _name(collection_id), embedding_function=None, configuration={"hnsw": HNSW}
            )
            hnsw = (found.configuration_json or {}).get("hnsw") or {}
            if int(hnsw.get("ef_search") or 0) < EF_SEARCH:
                found.modify(configuration={"hnsw": {"ef_search": EF_SEARCH}})
            self._collections[collection_id] = found
        return found

    def upsert(
        self, collection_id: str, document_id: str, ordinals: Sequence[int], vectors: Sequence[Sequence[float]]
    ) -> None:
        collection = self._collection(collection_id)
        for first in range(0, len(ordinals), _MAX_BATCH):
            batch = list(ordinals[first : first + _MAX_BATCH])
            collection.upsert(
                ids=[f"{document_id}:{ordinal}" for ordinal in batch],
                embeddings=[list(map(float, vector)) for vector in vectors[first : first + _MAX_BATCH]],
                metadatas=[{"document_id": document_id, "ordinal": ordinal} for ordinal in batch],
            )

    def delete_document(self, collection_id: str, document_id: str) -> None:
        self._collection(collection_id).delete(where={"document_id": document_id})

    def drop_collection(self, collection_id: str) -> None:
        self._collections.pop(collection_id, None)
        try:
            self._client.delete_collection(_name(collection_id))
        except Exception:
            return

    def query(self, collection_id: str, vector: Any, top_k: int) -> list[VectorHit]:
        # Chroma returns fewer hits when the collection holds fewer than top_k (none when it is empty).
        result = self._collection(collection_id).query(
            query_embeddings=[list(map(float, vector))], n_results=top_k, include=["metadatas", "distances"]
        )
        hits = []
        for metadata, distance in zip(result["metadatas"][0], result["distances"][0], strict=True):
            hits.append(
                VectorHit(
                    document_id=str(metadata["document_id"]), ordinal=int(metadata["ordinal"]), score=1.0 - distance
                )
            )
        return hits

    def reset(self) -> None:
        """Drop every collection (used when rebuilding the index from the log)."""
        self._client.reset()
        self._collections.clear()
