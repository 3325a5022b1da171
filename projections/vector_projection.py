"""VectorIndexProjection: embeds the chunks of ingested documents and keeps the vector index in step.

The index cannot share a transaction with the checkpoint, so its writes are idempotent upserts keyed by
(document, chunk ordinal): applying a page twice after a crash leaves the same index (exactly-once effect).
Embeddings come through a cache keyed by content hash, so a rebuild does not embed unchanged text again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from adapters.sqlite.read_store import SQLiteReadStore
from domain import events as ev
from domain.chunking import split_sentences
from domain.ports import RecordedEvent, VectorIndex

NAME = "vector_index"


class VectorIndexProjection:
    name = NAME

    def __init__(self, index: VectorIndex, embedder: Any, checkpoints: SQLiteReadStore) -> None:
        self.index = index
        self.embedder = embedder
        self.checkpoints = checkpoints

    def checkpoint(self) -> int:
        return self.checkpoints.checkpoint(self.name)

    def apply(self, page: Sequence[RecordedEvent]) -> None:
        ingested = [
            event
            for event in (ev.decode_event(record.data) for record in page)
            if isinstance(event, ev.DocumentIngested | ev.DocumentRemoved | ev.CollectionDeleted)
        ]
        self._embed_ahead([e for e in ingested if isinstance(e, ev.DocumentIngested)])
        for event in ingested:
            if isinstance(event, ev.DocumentIngested):
                vectors = self.embedder.embed([chunk.text for chunk in event.chunks])
                self.index.upsert(
                    event.collection_id, event.document_id, [chunk.ordinal for chunk in event.chunks], vectors
                )
            elif isinstance(event, ev.DocumentRemoved):
                self.index.delete_document(event.collection_id, event.document_id)
            else:
                self.index.drop_collection(event.collection_id)
        with self.checkpoints.transaction() as conn:
            self.checkpoints.set_checkpoint(conn, self.name, page[-1].position)

    def _embed_ahead(self, documents: list[ev.DocumentIngested]) -> None:
        """Embed every chunk and every sentence of the page in large batches (fast), filling the cache.

        Sentence vectors are what the extractive reader scores at question time; computing them here keeps
        answering free of model calls beyond the question itself.
        """
        texts: list[str] = []
        for document in documents:
            for chunk in document.chunks:
                texts.append(chunk.text)
                texts.extend(chunk.text[start:end] for start, end in split_sentences(chunk.text))
        if texts:
            self.embedder.embed(texts)
