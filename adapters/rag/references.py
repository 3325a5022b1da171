"""The references an answer cites: its context chunks, as ``Reference`` values for the ``AnswerGenerated`` event."""

from __future__ import annotations

from haystack import Document

from domain.events import Reference
from domain.views import page_numbers


def reference(document: Document) -> Reference:
    """``document``: a chunk as ``components.chunk_document`` makes it."""
    meta = document.meta
    return Reference(
        collection_id=meta["collection_id"],
        document_id=meta["document_id"],
        document_name=meta["document_name"],
        chunk_ordinal=int(meta["ordinal"]),
        chunk_id=int(meta["chunk_id"]),
        pages=page_numbers(str(meta["pages"])),
        score=float(document.score or 0.0),
        content=document.content or "",
    )
