"""KurrentDBTestPeer: a PROTOCOL-FAITHFUL KurrentDB TEST PEER, for the machines where KurrentDB cannot run.

It is not KurrentDB and not a mock of Parley's ports: it is a gRPC server on 127.0.0.1 that speaks KurrentDB's
``event_store.client.streams.Streams`` service (the ``Read``, ``Append`` and ``BatchAppend`` calls), built on the
generated servicer and protobuf messages that ship inside ``kurrentdbclient``, so the real client talks to it
exactly as it talks to a server. It keeps one in-memory transaction log with KurrentDB's semantics, as its
storage writer and readers implement them:

* Positions: every event is a record in one log; its commit position (== its prepare position, since every gRPC
  append is an implicit transaction) is the record's byte offset. The log opens with an epoch record at 0 and a
  system event (``$epoch-information``), so user events never sit at 0 and positions are gappy, as on a server.
* Appends are atomic per stream and checked against the expected stream state (a revision, ``no_stream``,
  ``any``, ``stream_exists``) the way KurrentDB's ``IndexWriter.CheckCommit`` does, idempotency included:
  re-appending events whose ids already sit right after the expected revision is a no-op answered with the
  original positions; an append that only partly matches ("corrupted idempotency") and any other mismatch answer
  WrongExpectedVersion, in the shape each call uses (``AppendResp.wrong_expected_version`` for ``Append``, a
  ``google.rpc.Status`` FAILED_PRECONDITION with a packed ``WrongExpectedVersion`` for ``BatchAppend``). With
  ``any``/``stream_exists`` idempotency comes from the committed-event-id cache (unbounded here, an LRU on a
  server). Event ids are unique per stream only: the same id can be written to another stream.
* Reads: a stream forwards from a revision or backwards from one (inclusive) with a count, and
  ``stream_not_found`` for a stream that has none; ``$all`` forwards from a position (inclusive) or backwards
  from one (exclusive), with server-side regex or prefix filters on the stream name or the event type, the count
  applying to what passes the filter.
* Catch-up subscriptions to ``$all``: confirmation, the history after the given position (exclusive), checkpoints
  every ``max * checkpointIntervalMultiplier`` events read while filtering, ``caught_up``, then live events as
  they commit, until the client cancels.

Not here (Parley does not use them): stream deletion, subscriptions to one stream, persistent subscriptions,
projections, gossip, v2 multi-stream appends, authentication, link resolution.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf import any_pb2, empty_pb2
from kurrentdbclient.protos.google.rpc import code_pb2
from kurrentdbclient.protos.v1 import shared_pb2, status_pb2, streams_pb2, streams_pb2_grpc

_RECORD_OVERHEAD = 97  # bytes of a prepare record besides its stream name, type, data and metadata (about)
_EPOCH_RECORD = 128  # bytes of the epoch record every log starts with
_NO_STREAM = -1
_ANY = -2
_STREAM_EXISTS = -4


@dataclass(frozen=True)
class _Record:
    position: int
    stream: str
    revision: int
    event_id: str
    type: str
    content_type: str
    data: bytes
    custom_metadata: bytes
    created: int  # 100 ns ticks since the Unix epoch, as the server stamps "created"


@dataclass
class _Outcome:
    """What a write came to: success (first/last record written or found again) or a wrong expected version."""

    current: int  # the stream's revision after the write, or before it when it failed (-1: no stream)
    last: _Record | None = None  # the last event written (or found again, when idempotent)
    wrong: bool = False


@dataclass
class _Log:
    records: list[_Record] = field(default_factory=list)
    streams: dict[str, list[_Record]] = field(default_factory=dict)
    committed_ids: dict[str, tuple[str, int]] = field(default_factory=dict)  # event id -> (stream, revision)
    next_position: int = _EPOCH_RECORD
    changed: threading.Condition = field(default_factory=threading.Condition)

    def write(self, stream: str, expected: int, proposed: list[tuple[str, str, str, bytes, bytes]]) -> _Outcome:
        """Check and write one implicit transaction, as KurrentDB's storage writer does."""
        with self.changed:
            existing = self.streams.get(stream, [])
            current = len(existing) - 1
            ids = [event_id for event_id, *_ in proposed]
            if expected == _STREAM_EXISTS and current < 0:
                return _Outcome(current, wrong=True)
            if expected in (_ANY, _STREAM_EXISTS):
                found = [self.committed_ids.get(event_id) for event_id in ids]
                if found and found[0] is not None and found[0][0] == stream:
                    if all(hit is not None and hit[0] == stream for hit in found):
                        last = found[-1]
                        assert last is not None
                        return _Outcome(current, last=existing[last[1]])
                    return _Outcome(current, wrong=True)  # corrupted idempotency
            elif expected < current:
                revision = expected
                for event_id in ids:
                    revision += 1
                    if revision > current or existing[revision].event_id != event_id:
                        return _Outcome(current, wrong=True)  # wrong version, or corrupted idempotency
                return _Outcome(current, last=existing[revision])
            elif expected > current:
                return _Outcome(current, wrong=True)
            created = time.time_ns() // 100
            written: list[_Record] = []
            for offset, (event_id, type_, content_type, data, metadata) in enumerate(proposed):
                record = _Record(
                    position=self.next_position,
                    stream=stream,
                    revision=current + 1 + offset,
                    event_id=event_id,
                    type=type_,
                    content_type=content_type,
                    data=data,
                    custom_metadata=metadata,
                    created=created,
                )
                self.next_position += _RECORD_OVERHEAD + len(stream.encode()) + len(type_) + len(data) + len(metadata)
                written.append(record)
                self.committed_ids[event_id] = (stream, record.revision)
            self.records.extend(written)
            self.streams.setdefault(stream, []).extend(written)
            self.changed.notify_all()
            return _Outcome(current + len(written), last=written[-1] if written else None)

    def index_at_or_after(self, position: int) -> int:
        """Index of the first record at ``position`` or later; the position must be a record's (or the end)."""
        low, high = 0, len(self.records)
        while low < high:
            middle = (low + high) // 2
            if self.records[middle].position < position:
                low = middle + 1
            else:
                high = middle
        return low

    def is_boundary(self, position: int) -> bool:
        index = self.index_at_or_after(position)
        at_record = index < len(self.records) and self.records[index].position == position
        return position in (0, _EPOCH_RECORD, self.next_position) or at_record


def _uuid_text(message: shared_pb2.UUID) -> str:
    if message.WhichOneof("value") == "structured":
        bits = (message.structured.most_significant_bits % 2**64) << 64
        return str(uuid.UUID(int=bits | (message.structured.least_significant_bits % 2**64)))
    return str(uuid.UUID(message.string))


def _uuid_message(text: str, structured: bool) -> shared_pb2.UUID:
    if not structured:
        return shared_pb2.UUID(string=text)
    value = uuid.UUID(text).int

    def signed(bits: int) -> int:
        return bits - 2**64 if bits >= 2**63 else bits

    return shared_pb2.UUID(
        structured=shared_pb2.UUID.Structured(
            most_significant_bits=signed(value >> 64), least_significant_bits=signed(value & (2**64 - 1))
        )
    )


def _expected_of(options: Any, revision_field: str) -> int:
    choice = options.WhichOneof(
        "expected_stream_revision" if revision_field == "revision" else "expected_stream_position"
    )
    if choice == revision_field:
        return int(getattr(options, revision_field))
    return {"no_stream": _NO_STREAM, "any": _ANY, "stream_exists": _STREAM_EXISTS}[choice]


class _Filter:
    """A ReadReq filter: a regex (searched, as .NET's Regex.IsMatch does) or prefixes, on stream or type."""

    def __init__(self, options: Any) -> None:
        self.on_stream = False
        self.regex: re.Pattern[str] | None = None
        self.prefixes: tuple[str, ...] = ()
        self.active = options.WhichOneof("filter_option") == "filter"
        self.window = 0
        if not self.active:
            return
        spec = options.filter
        self.on_stream = spec.WhichOneof("filter") == "stream_identifier"
        expression = spec.stream_identifier if self.on_stream else spec.event_type
        self.regex = re.compile(expression.regex) if expression.regex else None
        self.prefixes = tuple(expression.prefix)
        multiplier = spec.checkpointIntervalMultiplier or 1
        self.window = (spec.max if spec.WhichOneof("window") == "max" else 32) * multiplier

    def passes(self, record: _Record) -> bool:
        if not self.active:
            return True
        name = record.stream if self.on_stream else record.type
        if self.prefixes and not name.startswith(self.prefixes):
            return False
        return self.regex is None or self.regex.search(name) is not None


class _StreamsServicer(streams_pb2_grpc.StreamsServicer):
    def __init__(self, log: _Log) -> None:
        self.log = log
        self.drops: set[threading.Event] = set()  # one per live subscription: set it to drop that subscription

    # --- reads ------------------------------------------------------------------------------------

    def Read(self, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        options = request.options
        structured = options.uuid_option.WhichOneof("content") == "structured"
        if options.WhichOneof("stream_option") == "stream":
            if options.WhichOneof("count_option") == "subscription":
                context.abort(grpc.StatusCode.UNIMPLEMENTED, "the test peer has no subscriptions to one stream")
            yield from self._read_stream(options, structured)
            return
        if options.WhichOneof("count_option") == "subscription":
            yield from self._subscribe_all(options, structured, context)
            return
        yield from self._read_all(options, structured, context)

    def _event(self, record: _Record, structured: bool) -> Any:
        return streams_pb2.ReadResp(
            event=streams_pb2.ReadResp.ReadEvent(
                event=streams_pb2.ReadResp.ReadEvent.RecordedEvent(
                    id=_uuid_message(record.event_id, structured),
                    stream_identifier=shared_pb2.StreamIdentifier(stream_name=record.stream.encode()),
                    stream_revision=record.revision,
                    prepare_position=record.position,
                    commit_position=record.position,
                    metadata={"type": record.type, "content-type": record.content_type, "created": str(record.created)},
                    custom_metadata=record.custom_metadata,
                    data=record.data,
                ),
                commit_position=record.position,
            )
        )

    def _read_stream(self, options: Any, structured: bool) -> Iterator[Any]:
        name = options.stream.stream_identifier.stream_name.decode()
        with self.log.changed:
            events = list(self.log.streams.get(name, []))
        if not events:
            yield streams_pb2.ReadResp(
                stream_not_found=streams_pb2.ReadResp.StreamNotFound(
                    stream_identifier=shared_pb2.StreamIdentifier(stream_name=name.encode())
                )
            )
            return
        forwards = options.read_direction == streams_pb2.ReadReq.Options.Forwards
        start = options.stream.WhichOneof("revision_option")
        if forwards:
            first = options.stream.revision if start == "revision" else 0 if start == "start" else len(events)
            chosen = events[first:]
        else:
            last = options.stream.revision if start == "revision" else len(events) - 1
            chosen = list(reversed(events[: last + 1])) if start != "start" else events[:1]
        for record in chosen[: options.count]:
            yield self._event(record, structured)

    def _read_all(self, options: Any, structured: bool, context: grpc.ServicerContext) -> Iterator[Any]:
        flt = _Filter(options)
        forwards = options.read_direction == streams_pb2.ReadReq.Options.Forwards
        with self.log.changed:
            start = self._start_index(options, context)
            chosen = self.log.records[start:] if forwards else self.log.records[start - 1 :: -1] if start else []
        sent = 0
        for record in chosen:
            if sent >= options.count:
                return
            if flt.passes(record):
                sent += 1
                yield self._event(record, structured)

    def _start_index(self, options: Any, context: grpc.ServicerContext) -> int:
        """Index in the log where a read of $all starts (forwards: the first record read; backwards: one past)."""
        choice = options.all.WhichOneof("all_option")
        if choice == "start":
            return 0
        if choice == "end":
            return len(self.log.records)
        position = options.all.position.commit_position
        if options.all.position.prepare_position != position or not self.log.is_boundary(position):
            # KurrentDB cannot start reading in the middle of a record; kurrentdbclient turns this answer into
            # InvalidCommitPositionError.
            kind = "FilteredReadAllResult" if options.WhichOneof("filter_option") == "filter" else "ReadAllResult"
            context.abort(grpc.StatusCode.UNKNOWN, f"Unexpected {kind}: InvalidPosition")
        return self.log.index_at_or_after(position)

    def _subscribe_all(self, options: Any, structured: bool, context: grpc.ServicerContext) -> Iterator[Any]:
        ended = threading.Event()

        def wake() -> None:
            ended.set()
            with self.log.changed:
                self.log.changed.notify_all()

        context.add_callback(wake)
        dropped = threading.Event()
        self.drops.add(dropped)
        try:
            yield from self._follow_all(options, structured, context, ended, dropped)
        finally:
            self.drops.discard(dropped)

    def _follow_all(
        self,
        options: Any,
        structured: bool,
        context: grpc.ServicerContext,
        ended: threading.Event,
        dropped: threading.Event,
    ) -> Iterator[Any]:
        flt = _Filter(options)
        subscription_id = str(uuid.uuid4())
        with self.log.changed:
            cursor = self._start_index(options, context)
            if options.all.WhichOneof("all_option") == "position":
                # Subscriptions are exclusive of the position they start from.
                while (
                    cursor < len(self.log.records)
                    and self.log.records[cursor].position <= options.all.position.commit_position
                ):
                    cursor += 1
        yield streams_pb2.ReadResp(
            confirmation=streams_pb2.ReadResp.SubscriptionConfirmation(subscription_id=subscription_id)
        )
        scanned = 0
        caught_up = False
        while not ended.is_set() and context.is_active():
            if dropped.is_set():
                # KurrentDB's answer to a subscriber that cannot keep up with its live buffer.
                context.abort(
                    grpc.StatusCode.ABORTED,
                    "Consumer too slow to handle event while live. Client resubscription required.",
                )
            with self.log.changed:
                batch = self.log.records[cursor : cursor + 256]
                if not batch:
                    if caught_up:
                        self.log.changed.wait(timeout=1.0)
                        continue
                    head = self.log.records[-1].position if self.log.records else 0
            if not batch:
                caught_up = True
                yield streams_pb2.ReadResp(
                    caught_up=streams_pb2.ReadResp.CaughtUp(
                        timestamp=_now(),
                        position=streams_pb2.ReadResp.Position(commit_position=head, prepare_position=head),
                    )
                )
                continue
            cursor += len(batch)
            for record in batch:
                scanned += 1
                if flt.passes(record):
                    yield self._event(record, structured)
                if flt.active and scanned % flt.window == 0:
                    yield streams_pb2.ReadResp(
                        checkpoint=streams_pb2.ReadResp.Checkpoint(
                            commit_position=record.position, prepare_position=record.position, timestamp=_now()
                        )
                    )

    # --- writes -----------------------------------------------------------------------------------

    @staticmethod
    def _proposed(messages: Iterable[Any]) -> list[tuple[str, str, str, bytes, bytes]]:
        return [
            (
                _uuid_text(message.id),
                message.metadata["type"],
                message.metadata["content-type"],
                bytes(message.data),
                bytes(message.custom_metadata),
            )
            for message in messages
        ]

    def Append(self, request_iterator: Iterator[Any], context: grpc.ServicerContext) -> Any:
        header = next(request_iterator)
        options = header.options
        stream = options.stream_identifier.stream_name.decode()
        expected = _expected_of(options, "revision")
        proposed = self._proposed(request.proposed_message for request in request_iterator)
        outcome = self.log.write(stream, expected, proposed)
        if outcome.wrong:
            wrong = streams_pb2.AppendResp.WrongExpectedVersion()
            if outcome.current < 0:
                wrong.current_no_stream.CopyFrom(shared_pb2.Empty())
                wrong.no_stream_20_6_0.CopyFrom(shared_pb2.Empty())
            else:
                wrong.current_revision = outcome.current
                wrong.current_revision_20_6_0 = outcome.current
            if expected >= 0:
                wrong.expected_revision = expected
                wrong.expected_revision_20_6_0 = expected
            elif expected == _ANY:
                wrong.expected_any.CopyFrom(shared_pb2.Empty())
                wrong.any_20_6_0.CopyFrom(shared_pb2.Empty())
            elif expected == _STREAM_EXISTS:
                wrong.expected_stream_exists.CopyFrom(shared_pb2.Empty())
                wrong.stream_exists_20_6_0.CopyFrom(shared_pb2.Empty())
            else:
                wrong.expected_no_stream.CopyFrom(shared_pb2.Empty())
            return streams_pb2.AppendResp(wrong_expected_version=wrong)
        success = streams_pb2.AppendResp.Success()
        if outcome.current < 0:
            success.no_stream.CopyFrom(shared_pb2.Empty())
        else:
            success.current_revision = outcome.current
        if outcome.last is None:
            success.no_position.CopyFrom(shared_pb2.Empty())
        else:
            success.position.CopyFrom(
                streams_pb2.AppendResp.Position(
                    commit_position=outcome.last.position, prepare_position=outcome.last.position
                )
            )
        return streams_pb2.AppendResp(success=success)

    def BatchAppend(self, request_iterator: Iterator[Any], context: grpc.ServicerContext) -> Iterator[Any]:
        pending: dict[str, tuple[Any, list[Any]]] = {}
        for request in request_iterator:
            correlation = _uuid_text(request.correlation_id)
            if correlation not in pending:
                pending[correlation] = (request.options, [])
            options, messages = pending[correlation]
            messages.extend(request.proposed_messages)
            if not request.is_final:
                continue
            del pending[correlation]
            yield self._batch_append(request.correlation_id, options, messages)

    def _batch_append(self, correlation_id: Any, options: Any, messages: list[Any]) -> Any:
        stream = options.stream_identifier.stream_name.decode()
        expected = _expected_of(options, "stream_position")
        outcome = self.log.write(stream, expected, self._proposed(messages))
        response = streams_pb2.BatchAppendResp(
            correlation_id=correlation_id, stream_identifier=options.stream_identifier
        )
        if expected >= 0:
            response.stream_position = expected
        elif expected == _ANY:
            response.any.CopyFrom(empty_pb2.Empty())
        elif expected == _STREAM_EXISTS:
            response.stream_exists.CopyFrom(empty_pb2.Empty())
        else:
            response.no_stream.CopyFrom(empty_pb2.Empty())
        if outcome.wrong:
            detail = shared_pb2.WrongExpectedVersion()
            if outcome.current < 0:
                detail.current_no_stream.CopyFrom(empty_pb2.Empty())
            else:
                detail.current_stream_revision = outcome.current
            if expected >= 0:
                detail.expected_stream_position = expected
            elif expected == _ANY:
                detail.expected_any.CopyFrom(empty_pb2.Empty())
            elif expected == _STREAM_EXISTS:
                detail.expected_stream_exists.CopyFrom(empty_pb2.Empty())
            else:
                detail.expected_no_stream.CopyFrom(empty_pb2.Empty())
            packed = any_pb2.Any()
            packed.Pack(detail)
            response.error.CopyFrom(
                status_pb2.Status(code=code_pb2.FAILED_PRECONDITION, message="WrongExpectedVersion", details=packed)
            )
            return response
        if outcome.current < 0:
            response.success.no_stream.CopyFrom(empty_pb2.Empty())
        else:
            response.success.current_revision = outcome.current
        if outcome.last is None:
            response.success.no_position.CopyFrom(empty_pb2.Empty())
        else:
            response.success.position.CopyFrom(
                shared_pb2.AllStreamPosition(
                    commit_position=outcome.last.position, prepare_position=outcome.last.position
                )
            )
        return response


def _now() -> Any:
    from google.protobuf.timestamp_pb2 import Timestamp

    stamp = Timestamp()
    stamp.GetCurrentTime()
    return stamp


class KurrentDBTestPeer:
    """The PROTOCOL-FAITHFUL KURRENTDB TEST PEER: start it, point ``kurrentdbclient`` at ``uri``, stop it.

    ``KurrentDBTestPeer().start().uri`` -> ``"kurrentdb://127.0.0.1:<port>?tls=false"``.
    """

    def __init__(self) -> None:
        self.log = _Log()
        self._server: grpc.Server | None = None
        self._servicer = _StreamsServicer(self.log)
        self.port = 0
        # A fresh server's log holds the epoch and its system event before any user event.
        self.log.write(
            "$epoch-information",
            _NO_STREAM,
            [(str(uuid.uuid4()), "$epoch-information", "application/json", b'{"epochNumber":0}', b"")],
        )

    @property
    def uri(self) -> str:
        return f"kurrentdb://127.0.0.1:{self.port}?tls=false"

    def start(self) -> KurrentDBTestPeer:
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=64, thread_name_prefix="kurrentdb-peer"))
        streams_pb2_grpc.add_StreamsServicer_to_server(self._servicer, server)  # type: ignore[no-untyped-call]
        self.port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        self._server = server
        return self

    def drop_subscriptions(self) -> None:
        """Drop every open subscription as KurrentDB drops a consumer too slow for its live buffer."""
        for dropped in list(self._servicer.drops):
            dropped.set()
        with self.log.changed:
            self.log.changed.notify_all()

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop(grace=0.5).wait(5)
            self._server = None
