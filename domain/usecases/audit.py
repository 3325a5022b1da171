"""The auditors' use cases: the history of a stream or of the whole log, state as of a point in the past, an
answer's provenance, its reproduction (recorded as an event), and a session's tamper-evident export.

Every read here comes from the event log, never from the live read models' state, so it shows what the log
implies even after a deletion; each one asks ``check_history_access`` first."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import msgspec

from domain import chat
from domain import events as ev
from domain.audit import (
    GENESIS,
    STREAM_KINDS,
    AsOf,
    EventPage,
    HistoryEvent,
    LogFilter,
    Provenance,
    Reader,
    chain_hash,
    check_history_access,
    history_event,
    provenance_of,
    text_diff,
)
from domain.errors import InvalidCommand, NotFound
from domain.ports import AnswerReproducer, EventStore, PastStates, ReadModelQueries, RecordedEvent
from domain.service import CommandHandler, stream_name

LOG_SCAN_LIMIT = 50_000  # events one page of the whole-log listing reads at most, whatever its filters keep
READ_PAGE = 1_000  # events read from the log at a time


def _decoded(records: list[RecordedEvent]) -> list[tuple[RecordedEvent, ev.AnyEvent]]:
    return [(record, ev.decode_recorded(record.type, record.schema_version, record.data)) for record in records]


class ReadHistory:
    """The events of one aggregate's stream, or of the whole log filtered, in order."""

    def __init__(self, events: EventStore) -> None:
        self.events = events

    def stream(self, reader: Reader, kind: str, aggregate_id: str, offset: int, limit: int) -> EventPage:
        """Events ``offset`` (a stream version) onwards, at most ``limit``; NotFound for a stream never written."""
        if kind not in STREAM_KINDS:
            raise InvalidCommand(f"the history of a {kind!r} is not kept; one of {', '.join(STREAM_KINDS)}")
        stream = stream_name(kind, aggregate_id)
        check_history_access(reader, stream)
        if not self.events.read_stream(stream, 0, 0):
            raise NotFound(f"{kind} {aggregate_id} has no events")
        if limit == 0:
            return EventPage(events=[], next=offset)
        records = self.events.read_stream(stream, offset, offset + limit)  # one more: is there a next page?
        page = [history_event(record) for record in records[:limit]]
        return EventPage(events=page, next=offset + limit if len(records) > limit else None)

    def log(self, reader: Reader, keep: LogFilter, after_position: int, limit: int) -> EventPage:
        """The events after ``after_position`` that ``keep`` keeps, at most ``limit``. A page reads at most
        LOG_SCAN_LIMIT events, so a filter that matches little still answers promptly; ``next`` goes on from the
        last event read."""
        check_history_access(reader, None)
        kept: list[HistoryEvent] = []
        position, scanned = after_position, 0
        while len(kept) < limit and scanned < LOG_SCAN_LIMIT:
            records = self.events.read_all(position, min(READ_PAGE, LOG_SCAN_LIMIT - scanned))
            if not records:
                return EventPage(events=kept, next=None)
            for record in records:
                position, scanned = record.position, scanned + 1
                if keep.keeps(record):
                    kept.append(history_event(record))
                    if len(kept) == limit:
                        break
        more = self.events.read_all(position, 1)
        return EventPage(events=kept, next=position if more else None)


class TimeTravel:
    """State as of a point in the past, folded from the events up to it into read models of its own."""

    def __init__(self, events: EventStore, past: PastStates) -> None:
        self.events = events
        self.past = past

    def _stream(self, stream: str, as_of: AsOf) -> list[RecordedEvent]:
        return [record for record in self.events.read_stream(stream) if as_of.includes(record)]

    @contextmanager
    def _fold(
        self, records: list[RecordedEvent], decoded: dict[int, ev.AnyEvent] | None = None
    ) -> Iterator[ReadModelQueries]:
        """``records`` folded in log order; ``decoded``: events already decoded, by position."""
        known = decoded or {}
        ordered = sorted({record.position: record for record in records}.values(), key=lambda r: r.position)
        page = [
            (r, known[r.position] if r.position in known else ev.decode_recorded(r.type, r.schema_version, r.data))
            for r in ordered
        ]
        with self.past.folded(page) as queries:
            yield queries

    def _first(self, records: list[RecordedEvent], what: str, as_of: AsOf) -> ev.AnyEvent:
        if not records:
            raise NotFound(f"{what} did not exist as of {as_of.describe()}")
        return ev.decode_recorded(records[0].type, records[0].schema_version, records[0].data)

    @contextmanager
    def session(self, reader: Reader, session_id: str, as_of: AsOf) -> Iterator[ReadModelQueries]:
        """A chat session with its messages and references, and its collection (for its name)."""
        stream = stream_name("chat", session_id)
        check_history_access(reader, stream)
        records = self._stream(stream, as_of)
        created = self._first(records, f"chat session {session_id}", as_of)
        assert isinstance(created, ev.ChatSessionCreated)
        if created.collection_id:
            records += self._stream(stream_name("collection", created.collection_id), as_of)
        # The documents its answers cite, to tell whether each still existed then (were_references_deleted).
        decoded = {record.position: event for record, event in _decoded(records)}
        answers = [event for event in decoded.values() if isinstance(event, ev.AnswerGenerated)]
        cited = {ref.document_id for answer in answers for ref in answer.references}
        for document_id in sorted(cited):
            records += self._stream(stream_name("document", document_id), as_of)
        with self._fold(records, decoded) as queries:
            if queries.chat_session(session_id) is None:
                raise NotFound(f"chat session {session_id} was deleted before {as_of.describe()}")
            yield queries

    @contextmanager
    def template(self, reader: Reader, template_id: str, as_of: AsOf) -> Iterator[ReadModelQueries]:
        stream = stream_name("template", template_id)
        check_history_access(reader, stream)
        records = self._stream(stream, as_of)
        self._first(records, f"prompt template {template_id}", as_of)
        with self._fold(records) as queries:
            if queries.template(template_id) is None:
                raise NotFound(f"prompt template {template_id} was deleted before {as_of.describe()}")
            yield queries

    @contextmanager
    def document(self, reader: Reader, document_id: str, as_of: AsOf) -> Iterator[ReadModelQueries]:
        stream = stream_name("document", document_id)
        check_history_access(reader, stream)
        records = self._stream(stream, as_of)
        first = self._first(records, f"document {document_id}", as_of)
        collection_id = getattr(first, "collection_id", None)
        if collection_id:  # a document's chunks are numbered by its collection
            records += self._stream(stream_name("collection", collection_id), as_of)
        with self._fold(records) as queries:
            if queries.document(document_id) is None:
                raise NotFound(f"document {document_id} was removed before {as_of.describe()}")
            yield queries

    @contextmanager
    def collection(self, reader: Reader, collection_id: str, as_of: AsOf) -> Iterator[ReadModelQueries]:
        """A collection with its documents and its sessions' count. Its documents and sessions live in streams of
        their own, so this reads the log up to ``as_of`` and decodes only the events that name the collection."""
        stream = stream_name("collection", collection_id)
        check_history_access(reader, stream)
        records = self._stream(stream, as_of)
        self._first(records, f"collection {collection_id}", as_of)
        records += self._related(collection_id, as_of)
        with self._fold(records) as queries:
            if queries.collection(collection_id) is None:
                raise NotFound(f"collection {collection_id} was deleted before {as_of.describe()}")
            yield queries

    def _related(self, collection_id: str, as_of: AsOf) -> list[RecordedEvent]:
        needle = collection_id.encode()
        sessions: set[str] = set()
        related: list[RecordedEvent] = []
        position = 0
        while True:
            records = self.events.read_all(position, READ_PAGE)
            if not records:
                return related
            for record in records:
                position = record.position
                if as_of.position is not None and record.position > as_of.position:
                    return related
                if not as_of.includes(record):
                    continue
                if record.stream.startswith("document-") and needle in record.data:
                    related.append(record)
                elif record.type == "ChatSessionCreated" and needle in record.data:
                    sessions.add(record.stream)
                    related.append(record)
                elif record.type in ("ChatSessionDeleted", "ChatSessionErased") and record.stream in sessions:
                    related.append(record)


class AnswerProvenance:
    """Everything that produced an answer, from its session's events."""

    def __init__(self, events: EventStore, reads: ReadModelQueries) -> None:
        self.events = events
        self.reads = reads

    def session_of(self, message_id: str) -> str:
        message = self.reads.message(message_id)
        if message is None:
            raise NotFound(f"message {message_id} not found")
        return message.session_id

    def __call__(self, reader: Reader, message_id: str) -> Provenance:
        stream = stream_name("chat", self.session_of(message_id))
        check_history_access(reader, stream)
        found = provenance_of(self.events.read_stream(stream), message_id)
        if found is None:
            raise NotFound(f"message {message_id} is not an answer (a question, or an answer that failed)")
        return found


class Replayed(msgspec.Struct, frozen=True, kw_only=True):
    """A reproduction beside the answer it reproduces."""

    message_id: str
    replay_id: str
    llm: str
    original: str
    replayed: str
    identical: bool
    diff: str  # unified, recorded -> replayed; empty when identical
    usage: dict[str, Any]
    position: int | None  # of the AnswerReplayed event


class ReplayAnswer:
    """Runs an answer's recorded prompt and chunks again and records the reproduction in its session's stream."""

    def __init__(
        self,
        provenance: AnswerProvenance,
        handler: CommandHandler,
        reproducer: AnswerReproducer,
        wait_for: Callable[[int | None], None],
    ) -> None:
        self.provenance = provenance
        self.handler = handler
        self.reproducer = reproducer
        self.wait_for = wait_for

    def __call__(self, reader: Reader, message_id: str) -> Replayed:
        session_id = self.provenance.session_of(message_id)
        stream = stream_name("chat", session_id)
        check_history_access(reader, stream)
        records = self.provenance.events.read_stream(stream)
        found = provenance_of(records, message_id)
        if found is None:
            raise NotFound(f"message {message_id} is not an answer (a question, or an answer that failed)")
        answer = next(
            event
            for _, event in _decoded(records)
            if isinstance(event, ev.AnswerGenerated) and event.message_id == message_id
        )
        reproduction = self.reproducer.reproduce(answer, found.question, found.had_history)
        replay = ev.AnswerReplayed(
            session_id=session_id,
            message_id=message_id,
            replay_id=str(uuid.uuid4()),
            llm=reproduction.llm,
            text=reproduction.text,
            identical=reproduction.text == answer.text,
            usage=reproduction.usage,
        )
        result = self.handler.execute(chat, stream, chat.RecordReplay(replay=replay))
        position = result.commit_position if result is not None else None
        self.wait_for(position)
        return Replayed(
            message_id=message_id,
            replay_id=replay.replay_id,
            llm=replay.llm,
            original=answer.text,
            replayed=replay.text,
            identical=replay.identical,
            diff=text_diff(answer.text, replay.text),
            usage=replay.usage,
            position=position,
        )


# --- export ---------------------------------------------------------------------------------------------------

EXPORT_FORMAT = "parley-session-export"
EXPORT_VERSION = 1


class ExportProblem(msgspec.Struct, frozen=True, kw_only=True):
    line: int  # 1-based line of the file
    reason: str


def export_lines(session_id: str, records: list[RecordedEvent], exported_at: str) -> list[dict[str, Any]]:
    """A session's events as the JSON Lines of an export: a header, one entry per event (each with the hash that
    chains it to the one before), and a trailer holding the count and the last hash, so a file cut short is told
    from a whole one."""
    header = {"format": EXPORT_FORMAT, "version": EXPORT_VERSION, "session_id": session_id, "exported_at": exported_at}
    lines: list[dict[str, Any]] = [header]
    previous = chain_hash(GENESIS, header)
    for record in records:
        entry: dict[str, Any] = msgspec.to_builtins(history_event(record))
        entry["prev_hash"] = previous
        previous = chain_hash(previous, entry)
        lines.append({**entry, "hash": previous})
    lines.append({"end": True, "events": len(records), "last_hash": previous})
    return lines


def verify_export(lines: list[bytes]) -> tuple[int, list[ExportProblem]]:
    """The events an export holds and what is wrong with it (nothing, for an intact file)."""
    problems: list[ExportProblem] = []
    parsed: list[dict[str, Any]] = []
    for number, raw in enumerate(lines, start=1):
        try:
            value = msgspec.json.decode(raw)
        except msgspec.DecodeError as error:
            return 0, [ExportProblem(line=number, reason=f"not JSON: {error}")]
        if not isinstance(value, dict):
            return 0, [ExportProblem(line=number, reason="not a JSON object")]
        parsed.append(value)
    if not parsed or parsed[0].get("format") != EXPORT_FORMAT:
        return 0, [ExportProblem(line=1, reason=f"not a {EXPORT_FORMAT} file (no header)")]
    previous = chain_hash(GENESIS, parsed[0])
    events = 0
    for number, entry in enumerate(parsed[1:], start=2):
        if entry.get("end") is True:
            if number != len(parsed):
                problems.append(ExportProblem(line=number, reason="lines follow the trailer"))
            elif entry.get("events") != events or entry.get("last_hash") != previous:
                problems.append(
                    ExportProblem(
                        line=number,
                        reason=f"the trailer names {entry.get('events')} events, the file holds {events}"
                        " or the last hash differs",
                    )
                )
            return events, problems
        stated = entry.pop("hash", None)
        if entry.get("prev_hash") != previous:
            broken = "the chain breaks here (an event before it was changed, dropped or moved)"
            return events, [*problems, ExportProblem(line=number, reason=broken)]
        previous = chain_hash(previous, entry)
        if stated != previous:
            changed = "this event was changed (its hash does not match)"
            return events, [*problems, ExportProblem(line=number, reason=changed)]
        events += 1
    return events, [*problems, ExportProblem(line=len(parsed), reason="the file ends without its trailer (truncated)")]
