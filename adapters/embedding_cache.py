"""CachedEmbedder: embeddings cached by (model, sha256 of the text), so rebuilding the vector index or
re-ingesting unchanged text never embeds it twice. Where the cache lives is an ``EmbeddingStore``: a SQLite file
in the data directory (``adapters/sqlite/embedding_cache.py``), or Postgres when several processes share it."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np


class EmbeddingStore(Protocol):
    def lookup(self, model: str, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        """The stored vectors of ``hashes`` (those found), float32."""
        ...

    def store(self, model: str, vectors: Sequence[tuple[str, np.ndarray]]) -> None:
        """Keep each (hash, vector); one already stored is left as it is."""
        ...

    def forget(self, hashes: Sequence[str]) -> None:
        """Delete the vectors of these text hashes, of every model (an erased session's questions)."""
        ...


class CachedEmbedder:
    def __init__(self, embedder: Any, store: EmbeddingStore) -> None:
        self.inner = embedder
        self.store = store
        self.name: str = embedder.name
        self.dimension: int = embedder.dimension

    def warm_up(self) -> None:
        warm = getattr(self.inner, "warm_up", None)
        if warm is not None:
            warm()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        hashes = [hashlib.sha256(text.encode()).hexdigest() for text in texts]
        found = self.store.lookup(self.name, list(dict.fromkeys(hashes)))
        missing = [i for i, digest in enumerate(hashes) if digest not in found]
        if missing:
            unique = list(dict.fromkeys(hashes[i] for i in missing))
            texts_by_hash = {hashes[i]: texts[i] for i in missing}
            vectors = np.asarray(self.inner.embed([texts_by_hash[h] for h in unique]), dtype=np.float32)
            self.store.store(self.name, list(zip(unique, vectors, strict=True)))
            found.update(zip(unique, vectors, strict=True))
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([found[digest] for digest in hashes])
