"""Parley's audit extensions: event history, state as of a past point, answer provenance, replay and export."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.openapi import ResponseSpec
from litestar.params import Parameter

from api.auth import Caller
from api.bootstrap import Parley
from api.controllers._common import API, Limit, Offset, caller, errors, page
from api.schemas import (
    ChatMessage,
    ChatMessageReference,
    ChatSession,
    Collection,
    Document,
    PromptTemplate,
    chat_message_from_row,
    chat_session_from_row,
    collection_from_row,
    document_from_row,
    prompt_template_from,
    reference_from_row,
)
from domain.audit import AsOf, EventPage, LogFilter, Provenance, Reader, parse_time
from domain.errors import NotFound
from domain.usecases.audit import Replayed

AsOfParameter = Annotated[
    str,
    Parameter(
        description="a point of the log's past: an ISO 8601 time (`2026-01-31T12:00:00Z`; UTC when it has no zone) "
        "or a log position (an integer)"
    ),
]
AUDIT_READ = errors(403, 404)
AUDIT_LIST = errors(403)


def reader_of(request: Request[Any, Any, Any]) -> Reader:
    who: Caller = caller(request)
    return Reader(username=who.username, key_id=who.key_id, is_admin=who.is_admin)


def _time(value: str | None, name: str) -> datetime | None:
    return parse_time(value, name) if value is not None else None


class HistoryController(Controller):
    """The events of a stream (for those who may read what it records), or of the whole log (admins), in order."""

    path = API
    tags = ["audit"]

    @get("/chats/{session_id:str}/events", status_code=200, operation_id="get_chat_session_events",
         responses=AUDIT_READ, sync_to_thread=True)  # fmt: skip
    def get_chat_session_events(
        self, parley: Parley, request: Request[Any, Any, Any], session_id: str, offset: Offset = 0, limit: Limit = 100
    ) -> EventPage:
        """The session's events from stream version ``offset`` (``next`` continues), the deleted session's too."""
        offset, limit = page(offset, limit)
        return parley.history().stream(reader_of(request), "chat", session_id, offset, limit)

    @get("/collections/{collection_id:str}/events", status_code=200, operation_id="get_collection_events",
         responses=AUDIT_READ, sync_to_thread=True)  # fmt: skip
    def get_collection_events(
        self, parley: Parley, request: Request[Any, Any, Any], collection_id: str, offset: Offset = 0,
        limit: Limit = 100,
    ) -> EventPage:  # fmt: skip
        offset, limit = page(offset, limit)
        return parley.history().stream(reader_of(request), "collection", collection_id, offset, limit)

    @get("/documents/{document_id:str}/events", status_code=200, operation_id="get_document_events",
         responses=AUDIT_READ, sync_to_thread=True)  # fmt: skip
    def get_document_events(
        self, parley: Parley, request: Request[Any, Any, Any], document_id: str, offset: Offset = 0, limit: Limit = 100
    ) -> EventPage:
        offset, limit = page(offset, limit)
        return parley.history().stream(reader_of(request), "document", document_id, offset, limit)

    @get("/prompt_templates/{prompt_template_id:str}/events", status_code=200,
         operation_id="get_prompt_template_events", responses=AUDIT_READ, sync_to_thread=True)  # fmt: skip
    def get_prompt_template_events(
        self, parley: Parley, request: Request[Any, Any, Any], prompt_template_id: str, offset: Offset = 0,
        limit: Limit = 100,
    ) -> EventPage:  # fmt: skip
        offset, limit = page(offset, limit)
        return parley.history().stream(reader_of(request), "template", prompt_template_id, offset, limit)

    @get("/events", status_code=200, operation_id="list_events", responses=AUDIT_LIST, sync_to_thread=True)
    def list_events(
        self,
        parley: Parley,
        request: Request[Any, Any, Any],
        after_position: Annotated[int, Parameter(ge=0, le=2**63 - 1, description="start after this log position")] = 0,
        limit: Limit = 100,
        stream_prefix: str | None = None,
        event_type: str | None = None,
        actor: Annotated[str | None, Parameter(description="a user id or an API key id")] = None,
        since: Annotated[str | None, Parameter(description="ISO 8601 time, inclusive")] = None,
        until: Annotated[str | None, Parameter(description="ISO 8601 time, inclusive")] = None,
    ) -> EventPage:
        """The whole log in commit order, filtered. A page reads at most 50,000 events: ``next`` is the position to
        go on after (null at the log's head), even when the page kept fewer than ``limit``."""
        _, limit = page(0, limit)
        keep = LogFilter(
            stream_prefix=stream_prefix,
            event_type=event_type,
            actor=actor,
            since=_time(since, "since"),
            until=_time(until, "until"),
        )
        return parley.history().log(reader_of(request), keep, after_position, limit)


class PastController(Controller):
    """State as of a past point, folded from the log apart from the live read models."""

    path = f"{API}/past"
    tags = ["audit"]

    @get("/chats/{session_id:str}", status_code=200, operation_id="get_chat_session_as_of", responses=AUDIT_READ,
         sync_to_thread=True)  # fmt: skip
    def get_chat_session_as_of(
        self, parley: Parley, request: Request[Any, Any, Any], session_id: str, as_of: AsOfParameter
    ) -> ChatSession:
        with parley.time_travel().session(reader_of(request), session_id, AsOf.parse(as_of)) as past:
            row = past.chat_session(session_id)
            assert row is not None  # time travel has answered 404 otherwise
            return chat_session_from_row(row)

    @get("/chats/{session_id:str}/messages", status_code=200, operation_id="get_chat_session_messages_as_of",
         responses=AUDIT_READ, sync_to_thread=True)  # fmt: skip
    def get_chat_session_messages_as_of(
        self, parley: Parley, request: Request[Any, Any, Any], session_id: str, as_of: AsOfParameter,
        offset: Offset = 0, limit: Limit = 100,
    ) -> list[ChatMessage]:  # fmt: skip
        offset, limit = page(offset, limit)
        with parley.time_travel().session(reader_of(request), session_id, AsOf.parse(as_of)) as past:
            return [chat_message_from_row(row) for row in past.messages(session_id, offset, limit)]

    @get("/chats/{session_id:str}/messages/{message_id:str}/references", status_code=200,
         operation_id="get_message_references_as_of", responses=AUDIT_READ, sync_to_thread=True)  # fmt: skip
    def get_message_references_as_of(
        self, parley: Parley, request: Request[Any, Any, Any], session_id: str, message_id: str, as_of: AsOfParameter
    ) -> list[ChatMessageReference]:
        with parley.time_travel().session(reader_of(request), session_id, AsOf.parse(as_of)) as past:
            message = past.message(message_id)
            if message is None or message.session_id != session_id:
                raise NotFound(f"message {message_id} was not in chat session {session_id} as of {as_of}")
            rows = past.references(message_id)
            return [reference_from_row(row, past.document(row.document_id) is not None) for row in rows]

    @get("/collections/{collection_id:str}", status_code=200, operation_id="get_collection_as_of",
         responses=AUDIT_READ, sync_to_thread=True)  # fmt: skip
    def get_collection_as_of(
        self, parley: Parley, request: Request[Any, Any, Any], collection_id: str, as_of: AsOfParameter
    ) -> Collection:
        with parley.time_travel().collection(reader_of(request), collection_id, AsOf.parse(as_of)) as past:
            row = past.collection(collection_id)
            assert row is not None
            return collection_from_row(row)

    @get("/collections/{collection_id:str}/documents", status_code=200,
         operation_id="list_documents_for_collection_as_of", responses=AUDIT_READ, sync_to_thread=True)  # fmt: skip
    def list_documents_for_collection_as_of(
        self, parley: Parley, request: Request[Any, Any, Any], collection_id: str, as_of: AsOfParameter,
        offset: Offset = 0, limit: Limit = 100,
    ) -> list[Document]:  # fmt: skip
        offset, limit = page(offset, limit)
        with parley.time_travel().collection(reader_of(request), collection_id, AsOf.parse(as_of)) as past:
            return [document_from_row(row) for row in past.documents(offset, limit, collection_id=collection_id)]

    @get("/documents/{document_id:str}", status_code=200, operation_id="get_document_as_of", responses=AUDIT_READ,
         sync_to_thread=True)  # fmt: skip
    def get_document_as_of(
        self, parley: Parley, request: Request[Any, Any, Any], document_id: str, as_of: AsOfParameter
    ) -> Document:
        with parley.time_travel().document(reader_of(request), document_id, AsOf.parse(as_of)) as past:
            row = past.document(document_id)
            assert row is not None
            return document_from_row(row)

    @get("/prompt_templates/{prompt_template_id:str}", status_code=200, operation_id="get_prompt_template_as_of",
         responses=AUDIT_READ, sync_to_thread=True)  # fmt: skip
    def get_prompt_template_as_of(
        self, parley: Parley, request: Request[Any, Any, Any], prompt_template_id: str, as_of: AsOfParameter
    ) -> PromptTemplate:
        with parley.time_travel().template(reader_of(request), prompt_template_id, AsOf.parse(as_of)) as past:
            row = past.template(prompt_template_id)
            assert row is not None
            return prompt_template_from(row)


_JSONL = ResponseSpec(data_container=str, media_type="application/jsonl", description="The export, JSON Lines")
_HTML = ResponseSpec(data_container=str, media_type="text/html", description="The transcript")


class ProvenanceController(Controller):
    """Where an answer came from, its reproduction, and a session's export."""

    path = API
    tags = ["audit"]

    @get("/messages/{message_id:str}/provenance", status_code=200, operation_id="get_message_provenance",
         responses=AUDIT_READ, sync_to_thread=True)  # fmt: skip
    def get_message_provenance(self, parley: Parley, request: Request[Any, Any, Any], message_id: str) -> Provenance:
        """Everything that produced the answer, from its session's events: it outlives its documents."""
        return parley.provenance()(reader_of(request), message_id)

    @post("/messages/{message_id:str}/replay", status_code=201, operation_id="replay_message",
          responses={**errors(403, 404, 409, 503)}, sync_to_thread=True)  # fmt: skip
    def replay_message(self, parley: Parley, request: Request[Any, Any, Any], message_id: str) -> Replayed:
        """Runs the answer's recorded prompt (or chunks) with its recorded model and arguments again, records an
        ``AnswerReplayed`` event, and returns the new text beside the old with a unified diff."""
        return parley.replaying()(reader_of(request), message_id)

    @get("/chats/{session_id:str}/export", status_code=200, operation_id="export_chat_session",
         responses={200: _JSONL, **AUDIT_READ}, sync_to_thread=True)  # fmt: skip
    def export_chat_session(self, parley: Parley, request: Request[Any, Any, Any], session_id: str) -> Response[bytes]:
        """The session's events (a deleted session's too) as JSON Lines: a header, one entry per event chained to
        the one before by its hash, and a trailer with the count and the last hash (``parley export --verify``
        checks a file)."""
        exported = parley.exporting().session(reader_of(request), session_id, datetime.now(UTC))
        body = b"".join(msgspec.json.encode(line) + b"\n" for line in exported.lines)
        return Response(body, media_type="application/jsonl")

    @get("/chats/{session_id:str}/transcript", status_code=200, operation_id="get_chat_session_transcript",
         responses={200: _HTML, **AUDIT_READ}, sync_to_thread=True)  # fmt: skip
    def get_chat_session_transcript(
        self, parley: Parley, request: Request[Any, Any, Any], session_id: str
    ) -> Response[bytes]:
        """The session's export as an HTML transcript: questions, answers with their citations and pages, the
        templates and versions that made them, times and actors."""
        exported = parley.exporting().session(reader_of(request), session_id, datetime.now(UTC))
        return Response(exported.html.encode(), media_type="text/html; charset=utf-8")
