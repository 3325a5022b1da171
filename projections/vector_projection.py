"""Vector projections: the chunk index that serves search, and the sentence vectors the reader scores.

VectorIndexProjection embeds the chunks of ingested documents and keeps the vector index in step.

The index cannot share a transaction with the checkpoint, so its writes are idempotent upserts keyed by
(document, chunk ordinal): applying a page twice after a crash leaves the same index (exactly-once effect).
Embeddings come through a cache keyed by content hash, so a rebuild does not embed unchanged text again.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Sequence
from typing import Any

from domain import events as ev
from domain.chunking import split_sentences
from domain.ports import CheckpointStore, RecordedEvent, VectorIndex

NAME = "vector_index"
BACKGROUND_NICE = 19  # the lowest CPU priority: the warmer gets only the time nothing else wants


class VectorIndexProjection:
    name = NAME
    serving = True

    def __init__(self, index: VectorIndex, embedder: Any, checkpoints: CheckpointStore) -> None:
        self.index = index
        self.embedder = embedder
        self.checkpoints = checkpoints

    def checkpoint(self) -> int:
        return self.checkpoints.checkpoint(self.name)

    def apply(self, page: Sequence[RecordedEvent]) -> None:
        events = [
            event
            for event in (ev.decode_recorded(record.type, record.schema_version, record.data) for record in page)
            if isinstance(event, ev.DocumentIngested | ev.DocumentRemoved | ev.CollectionDeleted)
        ]
        ingested = [event for event in events if isinstance(event, ev.DocumentIngested)]
        # One large batch for the whole page is several times faster than a batch per document.
        vectors = iter(self.embedder.embed([chunk.text for event in ingested for chunk in event.chunks]))
        for event in events:
            if isinstance(event, ev.DocumentIngested):
                document_vectors = [next(vectors) for _ in event.chunks]
                ordinals = [chunk.ordinal for chunk in event.chunks]
                self.index.upsert(event.collection_id, event.document_id, ordinals, document_vectors)
            elif isinstance(event, ev.DocumentRemoved):
                self.index.delete_document(event.collection_id, event.document_id)
            else:
                self.index.drop_collection(event.collection_id)
        self.checkpoints.save_checkpoint(self.name, page[-1].position)


class SentenceVectorProjection:
    """Embeds every sentence of every ingested chunk into the embedding cache, for the extractive reader.

    It runs beside the index but nobody waits for it: a document is searchable once its chunks are indexed,
    and a sentence not embedded yet is embedded (and cached) when a question first needs it. So ingestion is
    as fast as chunk embedding allows, and answers stay fast once this projection has caught up. Its thread
    runs at the lowest CPU priority, so that it takes no core from parsing, OCR and the chunk embeddings that
    make documents searchable (with one torch thread the embedding runs in the calling thread itself).
    """

    name = "sentence_vectors"
    serving = False

    def __init__(self, embedder: Any, checkpoints: CheckpointStore) -> None:
        self.embedder = embedder
        self.checkpoints = checkpoints

    def checkpoint(self) -> int:
        return self.checkpoints.checkpoint(self.name)

    def apply(self, page: Sequence[RecordedEvent]) -> None:
        _run_in_background()
        sentences = [
            chunk.text[start:end]
            for event in (ev.decode_recorded(record.type, record.schema_version, record.data) for record in page)
            if isinstance(event, ev.DocumentIngested)
            for chunk in event.chunks
            for start, end in split_sentences(chunk.text)
        ]
        if sentences:
            self.embedder.embed(sentences)
        self.checkpoints.save_checkpoint(self.name, page[-1].position)


def _run_in_background() -> None:
    """Lower the calling thread's CPU priority, once. Linux gives each thread its own nice value; elsewhere it
    would lower the whole process, so it is left alone there, as is the main thread (a CLI replay)."""
    if sys.platform != "linux" or threading.current_thread() is threading.main_thread():
        return
    thread_id = threading.get_native_id()
    try:
        if os.getpriority(os.PRIO_PROCESS, thread_id) < BACKGROUND_NICE:
            os.setpriority(os.PRIO_PROCESS, thread_id, BACKGROUND_NICE)
    except OSError:  # not permitted in some sandboxes: run at the normal priority
        pass
