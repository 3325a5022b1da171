"""What auditors read: recorded events as history entries, points in the past (``as_of``), answers' provenance and
reproductions, and the hash chain that makes an exported session's events tamper-evident. Pure: no I/O."""

from __future__ import annotations

import difflib
import hashlib
from datetime import UTC, datetime
from typing import Any

import msgspec

from domain import events as ev
from domain.errors import InvalidCommand, PermissionDenied
from domain.ports import RecordedEvent

# The streams the history endpoints name by the kind of their aggregate (``domain.service.stream_name``).
STREAM_KINDS = ("chat", "collection", "document", "template")


# --- who may read the log -----------------------------------------------------------------------------------


class Reader(msgspec.Struct, frozen=True, kw_only=True):
    """The caller of an audit read, as its API key says."""

    username: str
    key_id: str
    is_admin: bool


def check_history_access(reader: Reader, stream: str | None) -> None:
    """The one access rule of the audit reads: may ``reader`` read ``stream`` (None: the whole log)?

    The whole log is for admins. One aggregate's stream is for whoever may read the aggregate, which its entry
    point has decided before asking (the API's access rules, ``api/access.py``: a session's owner, a collection's
    readers); the events of a deleted aggregate are left to admins, as nobody else can reach them."""
    if stream is None and not reader.is_admin:
        raise PermissionDenied("reading the whole event log needs an admin API key")


# --- history entries ----------------------------------------------------------------------------------------


class HistoryEvent(msgspec.Struct, frozen=True, kw_only=True):
    """One recorded event: where it is in its stream and in the log, when, who caused it, and what it says (its
    payload in the event type's current shape)."""

    position: int
    stream: str
    version: int
    event_id: str
    type: str
    schema_version: int
    recorded_at: datetime
    actor: str | None
    key_id: str | None
    command_id: str | None
    correlation_id: str | None
    causation_id: str | None
    payload: dict[str, Any]


def history_event(record: RecordedEvent, event: ev.AnyEvent | None = None) -> HistoryEvent:
    decoded = event if event is not None else ev.decode_recorded(record.type, record.schema_version, record.data)
    payload: dict[str, Any] = msgspec.to_builtins(decoded)
    payload.pop("event", None)  # the tag repeats ``type``
    meta = record.metadata
    return HistoryEvent(
        position=record.position,
        stream=record.stream,
        version=record.version,
        event_id=record.event_id,
        type=record.type,
        schema_version=ev.event_version(decoded),
        recorded_at=record.recorded_at,
        actor=meta.actor,
        key_id=meta.key_id,
        command_id=meta.command_id,
        correlation_id=meta.correlation_id,
        causation_id=meta.causation_id,
        payload=payload,
    )


def parse_time(text: str, name: str) -> datetime:
    """An ISO 8601 time; one without a zone is UTC. InvalidCommand naming ``name`` when it is not one."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as error:
        raise InvalidCommand(f"{name} must be an ISO 8601 time (2026-01-31T12:00:00Z), got {text!r}") from error
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class LogFilter(msgspec.Struct, frozen=True, kw_only=True):
    """What the whole-log listing keeps; every field left None keeps everything."""

    stream_prefix: str | None = None
    event_type: str | None = None
    actor: str | None = None
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # inclusive

    def keeps(self, record: RecordedEvent) -> bool:
        if self.stream_prefix is not None and not record.stream.startswith(self.stream_prefix):
            return False
        if self.event_type is not None and record.type != self.event_type:
            return False
        if self.actor is not None and self.actor not in (record.metadata.actor, record.metadata.key_id):
            return False
        if self.since is not None and record.recorded_at < self.since:
            return False
        return not (self.until is not None and record.recorded_at > self.until)


class EventPage(msgspec.Struct, frozen=True, kw_only=True):
    """A page of history; ``next`` continues it (a stream version for a stream, a log position for the log),
    None when nothing follows."""

    events: list[HistoryEvent]
    next: int | None


# --- points in the past -------------------------------------------------------------------------------------


class AsOf(msgspec.Struct, frozen=True, kw_only=True):
    """A point of the log's past: a log position (every event at or before it) or a time (every event recorded
    at or before it)."""

    position: int | None = None
    time: datetime | None = None

    @staticmethod
    def parse(text: str) -> AsOf:
        """``as_of`` as a client sends it: digits are a log position, anything else an ISO 8601 time."""
        given = text.strip()
        if given.isascii() and given.isdigit():  # str.isdigit also takes "²", which int() refuses
            # A position past the largest the log can hold is the log's end (the stores bind 64-bit integers).
            return AsOf(position=min(int(given), 2**63 - 1))
        if not given:
            raise InvalidCommand("as_of must be an ISO 8601 time or a log position, got an empty value")
        try:
            return AsOf(time=parse_time(given, "as_of"))
        except InvalidCommand as error:
            raise InvalidCommand(f"{error.message}, or a log position (a non-negative integer)") from error

    def includes(self, record: RecordedEvent) -> bool:
        if self.position is not None:
            return record.position <= self.position
        assert self.time is not None
        return record.recorded_at <= self.time

    def describe(self) -> str:
        return f"position {self.position}" if self.position is not None else f"{self.time:%Y-%m-%dT%H:%M:%S%z}"


# --- provenance and reproduction ----------------------------------------------------------------------------


class Provenance(msgspec.Struct, frozen=True, kw_only=True):
    """Everything that produced one answer, read from its session's events alone (so it outlives the documents)."""

    message_id: str
    session_id: str
    question: str
    question_id: str
    asked_by: str | None
    asked_at: datetime
    answer: str
    answered_at: datetime
    position: int  # the answer's event in the log
    rag_type_requested: str
    rag_type: str  # what ran (auto's choice, or llm_only in a session without a collection)
    auto_reason: str | None
    template_id: str | None
    template_version: int | None
    prompt_raw: str
    llm: str
    llm_args: dict[str, Any]
    references: list[ev.Reference]
    llm_only: str | None
    hyde1: str | None
    self_reflection: str | None
    usage: dict[str, Any]
    timings: dict[str, float]
    had_history: bool  # earlier answers of the session could be fed to the model (include_chat_history)
    replays: list[HistoryEvent]


def provenance_of(records: list[RecordedEvent], message_id: str) -> Provenance | None:
    """The provenance of answer ``message_id`` from its session's ``records`` (in stream order); None when the
    stream holds no such answer."""
    decoded = [(record, ev.decode_recorded(record.type, record.schema_version, record.data)) for record in records]
    questions: dict[str, tuple[RecordedEvent, ev.QuestionAsked]] = {}
    answered = 0
    for record, event in decoded:
        if isinstance(event, ev.QuestionAsked):
            questions[event.message_id] = (record, event)
        elif isinstance(event, ev.AnswerGenerated):
            if event.message_id == message_id:
                return _provenance(record, event, questions[event.reply_to], answered > 0, decoded)
            answered += 1
    return None


def _provenance(
    record: RecordedEvent,
    answer: ev.AnswerGenerated,
    question: tuple[RecordedEvent, ev.QuestionAsked],
    had_history: bool,
    decoded: list[tuple[RecordedEvent, ev.AnyEvent]],
) -> Provenance:
    asked_record, asked = question
    replays = [
        history_event(r, e)
        for r, e in decoded
        if isinstance(e, ev.AnswerReplayed) and e.message_id == answer.message_id
    ]
    return Provenance(
        message_id=answer.message_id,
        session_id=answer.session_id,
        question=asked.text,
        question_id=asked.message_id,
        asked_by=asked_record.metadata.actor or asked.username,
        asked_at=asked_record.recorded_at,
        answer=answer.text,
        answered_at=record.recorded_at,
        position=record.position,
        rag_type_requested=str(answer.usage.get("rag_type_requested", answer.rag_type)),
        rag_type=answer.rag_type,
        auto_reason=answer.usage.get("auto_reason"),
        template_id=answer.template_id,
        template_version=answer.template_version,
        prompt_raw=answer.prompt_raw,
        llm=answer.llm,
        llm_args=answer.llm_args,
        references=list(answer.references),
        llm_only=answer.llm_only,
        hyde1=answer.hyde1,
        self_reflection=answer.self_reflection,
        usage=answer.usage,
        timings=answer.timings,
        had_history=had_history,
        replays=replays,
    )


def text_diff(old: str, new: str) -> str:
    """A unified diff of two answers, line by line; empty when they are identical."""
    if old == new:
        return ""
    lines = difflib.unified_diff(
        old.splitlines(keepends=True), new.splitlines(keepends=True), "recorded", "replayed", lineterm="\n"
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


# --- the hash chain of an export ----------------------------------------------------------------------------

GENESIS = "0" * 64  # the "previous hash" of an export's first event


def chain_hash(previous: str, entry: dict[str, Any]) -> str:
    """The hash of one exported entry, chained to the one before it: sha256 over the previous hash and the entry's
    canonical JSON (keys sorted), so changing, dropping or reordering any entry changes every hash after it."""
    canonical = msgspec.json.encode(entry, order="sorted")
    return hashlib.sha256(previous.encode() + b"\n" + canonical).hexdigest()
