"""The Document aggregate: one ingested file, either searchable with its chunks or failed with a reason.

A document becomes visible in one step: its first event is either ``DocumentIngested`` (with every chunk)
or ``DocumentIngestionFailed``; nothing half-ingested is ever recorded.
"""

from __future__ import annotations

from typing import Any

import msgspec

from domain.errors import AlreadyExists, InvalidCommand, NotFound
from domain.events import (
    Chunk,
    DocumentIngested,
    DocumentIngestionFailed,
    DocumentQuestionsSuggested,
    DocumentRemoved,
    DocumentSummarized,
    Event,
)


class RecordIngestedDocument(msgspec.Struct, frozen=True, kw_only=True):
    document_id: str
    collection_id: str
    upload_id: str
    job_id: str | None
    name: str
    type: str
    size: int
    content_hash: str
    page_count: int
    chunks: tuple[Chunk, ...]
    metadata: dict[str, Any] = {}
    owner: str


class RecordFailedDocument(msgspec.Struct, frozen=True, kw_only=True):
    document_id: str
    collection_id: str
    upload_id: str
    job_id: str | None
    name: str
    type: str
    size: int
    reason: str
    owner: str


class RemoveDocument(msgspec.Struct, frozen=True, kw_only=True):
    document_id: str
    collection_id: str


class RecordSummary(msgspec.Struct, frozen=True, kw_only=True):
    document_id: str
    collection_id: str
    summary: str
    llm: str


class RecordSuggestedQuestions(msgspec.Struct, frozen=True, kw_only=True):
    document_id: str
    collection_id: str
    questions: tuple[str, ...]
    llm: str


DocumentCommand = (
    RecordIngestedDocument | RecordFailedDocument | RemoveDocument | RecordSummary | RecordSuggestedQuestions
)


class Document(msgspec.Struct, frozen=True, kw_only=True):
    document_id: str
    collection_id: str
    status: str  # completed | failed
    removed: bool = False


State = Document | None


def decide(state: State, command: DocumentCommand) -> list[Event]:
    if isinstance(command, RecordIngestedDocument):
        if state is not None:
            raise AlreadyExists(f"document {command.document_id} already exists")
        if not command.chunks:
            raise InvalidCommand(f"{command.name}: no text could be extracted")
        ordinals = [chunk.ordinal for chunk in command.chunks]
        if ordinals != list(range(len(ordinals))):
            raise InvalidCommand("chunk ordinals must run 0, 1, 2, ... without gaps")
        if any(page < 1 or page > max(command.page_count, 1) for c in command.chunks for page in c.pages):
            raise InvalidCommand("every chunk page must lie within the document's pages")
        return [
            DocumentIngested(
                document_id=command.document_id,
                collection_id=command.collection_id,
                upload_id=command.upload_id,
                job_id=command.job_id,
                name=command.name,
                type=command.type,
                size=command.size,
                content_hash=command.content_hash,
                page_count=command.page_count,
                chunks=command.chunks,
                metadata=command.metadata,
                owner=command.owner,
            )
        ]
    if isinstance(command, RecordFailedDocument):
        if state is not None:
            raise AlreadyExists(f"document {command.document_id} already exists")
        if not command.reason.strip():
            raise InvalidCommand("a failed document needs a reason")
        return [
            DocumentIngestionFailed(
                document_id=command.document_id,
                collection_id=command.collection_id,
                upload_id=command.upload_id,
                job_id=command.job_id,
                name=command.name,
                type=command.type,
                size=command.size,
                reason=command.reason,
                owner=command.owner,
            )
        ]
    if state is None or state.removed or state.collection_id != command.collection_id:
        raise NotFound(f"document {command.document_id} not found in collection {command.collection_id}")
    if not isinstance(command, RemoveDocument) and state.status != "completed":
        raise InvalidCommand(f"document {command.document_id} failed ingestion; it has nothing to summarise")
    if isinstance(command, RecordSummary):
        if not command.summary.strip():
            raise InvalidCommand("a summary cannot be empty")
        return [DocumentSummarized(**msgspec.structs.asdict(command))]
    if isinstance(command, RecordSuggestedQuestions):
        questions = tuple(question.strip() for question in command.questions if question.strip())
        if not questions:
            raise InvalidCommand("no questions to record")
        return [
            DocumentQuestionsSuggested(
                document_id=command.document_id,
                collection_id=command.collection_id,
                questions=questions,
                llm=command.llm,
            )
        ]
    return [DocumentRemoved(document_id=state.document_id, collection_id=state.collection_id)]


def evolve(state: State, event: Event) -> State:
    if isinstance(event, DocumentIngested):
        return Document(document_id=event.document_id, collection_id=event.collection_id, status="completed")
    if isinstance(event, DocumentIngestionFailed):
        return Document(document_id=event.document_id, collection_id=event.collection_id, status="failed")
    if isinstance(event, DocumentRemoved) and state is not None:
        return msgspec.structs.replace(state, removed=True)
    return state
