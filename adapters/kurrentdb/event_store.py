"""KurrentDBEventStore: the event log on KurrentDB (formerly EventStoreDB), through ``kurrentdbclient``.

How the port maps onto KurrentDB:

* A Parley stream is a KurrentDB stream of the same name, and a stream version is KurrentDB's stream revision
  (both 0-based and gapless). ``expected_version`` becomes the append's expected stream state: ``NO_STREAM`` ->
  ``StreamState.NO_STREAM``, ``ANY_VERSION`` -> ``StreamState.ANY``, a version ``n`` -> revision ``n``. KurrentDB
  checks it atomically with the write; its ``WrongExpectedVersion`` becomes ``ConcurrencyError``.
* Positions. Parley's ``position`` IS the event's KurrentDB commit position, unchanged: the byte offset of the
  event's record in the transaction log. It is an int, strictly increasing in commit order across all streams and
  gappy (successive events lie a record's length apart), which is all the port asks of a position (consumers
  store one and ask for what comes after it; nobody computes ``position + 1``). It is never 0 for an event, because
  the log opens with the epoch record at offset 0, so ``after_position=0`` keeps meaning "from the start" and
  ``head_position() == 0`` "no events". Since KurrentDB writes each append as one implicit transaction, every event
  gets its own commit position (equal to its prepare position), and the position an append returns is that of its
  last event, the same one a subscriber sees last. Keeping the number as KurrentDB has it (no offset, no
  renumbering) means a checkpoint Parley stores can be handed to any KurrentDB tool, and back.
* ``$all`` holds KurrentDB's own events too (``$epoch-information``, ``$$stream`` metadata, projections' ``$et-``
  and ``$ce-`` streams, user and scavenge records). Every read of ``$all`` here -- ``read_all``, ``head_position``
  and ``subscribe`` -- excludes the streams whose names start with ``$`` with one server-side filter, so the three
  agree: a projection that has applied up to ``head_position()`` has applied everything there is.
* Idempotency is KurrentDB's own: re-appending the same event ids at the same expected version returns the
  original commit position and writes nothing. Parley's event ids are UUIDs (``domain.envelope.event_id``) and
  become the KurrentDB event ids; another string is mapped to a name-based UUID and kept in the metadata.
* The envelope (``EventMetadata``) and the two fields KurrentDB has no slot for (``schema_version`` and Parley's
  ``recorded_at``, the decider's clock rather than the server's) travel in the event's metadata, a JSON object
  of strings. The correlation and causation ids use KurrentDB's own keys, ``$correlationId`` and
  ``$causationId``, so the server's ``$by_correlation_id`` projection indexes Parley's requests.

Where KurrentDB differs from the SQL stores: an event id is unique only within a stream. KurrentDB keeps no index
of event ids across streams, so appending an id that already lies in another stream succeeds there (a second
copy); this store cannot answer DuplicateEventError for that without a global lookup KurrentDB does not have. It
does answer DuplicateEventError where KurrentDB's own check sees the clash: a conflicting append some of whose ids
are already in the stream (KurrentDB reports "corrupted idempotency" as a wrong expected version).
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import uuid
import weakref
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec
from kurrentdbclient import KurrentDBClient, StreamState
from kurrentdbclient import NewEvent as KurrentNewEvent
from kurrentdbclient import RecordedEvent as KurrentRecordedEvent
from kurrentdbclient.exceptions import (
    CancelledByClientError,
    ConsumerTooSlowError,
    KurrentDBClientError,
    NotFoundError,
    ServiceUnavailableError,
    StreamIsDeletedError,
    WrongCurrentVersionError,
)

from domain.errors import ConcurrencyError, ConfigurationError, DuplicateEventError, EventStoreError
from domain.ports import NO_METADATA, NO_STREAM, AppendResult, EventMetadata, NewEvent, RecordedEvent

log = logging.getLogger("parley")

# KurrentDB's system streams start with "$" (metadata streams with "$$"); one stream-name filter keeps them out of
# every read of $all. kurrentdbclient anchors the pattern and turns it into the server's regex ^(?!(\$.*$)).
_SYSTEM_STREAMS = (r"\$.*",)
_IDS = uuid.UUID("0b7d3e58-6c1f-4f57-a7e3-5b0f8f4a2c91")  # names the UUIDs of event ids that are not UUIDs
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_PAGE = 500  # events a subscription page holds at most
_BUFFER_PAGES = 4  # pages a subscription reads ahead of its consumer before the server is made to wait
_PROBE_TIMEOUT = 10.0  # seconds the constructor waits for the server to answer
_RETRY_FIRST, _RETRY_LAST = 0.1, 5.0  # seconds a lost subscription waits before it subscribes again (doubling)


def _kurrent_id(event_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(event_id)
    except ValueError:
        return uuid.uuid5(_IDS, event_id)


def _encode_metadata(event: NewEvent) -> bytes:
    fields: dict[str, str] = {"schemaVersion": str(event.schema_version), "recordedAt": event.recorded_at.isoformat()}
    envelope = event.metadata
    for key, value in (
        ("$correlationId", envelope.correlation_id),
        ("$causationId", envelope.causation_id),
        ("actor", envelope.actor),
        ("keyId", envelope.key_id),
        ("commandId", envelope.command_id),
    ):
        if value is not None:
            fields[key] = value
    if str(_kurrent_id(event.event_id)) != event.event_id:  # not a canonical UUID: keep the id Parley gave it
        fields["eventId"] = event.event_id
    return msgspec.json.encode(fields)


def _record(event: KurrentRecordedEvent) -> RecordedEvent:
    """A Parley record of a KurrentDB event; events written by other tools (no Parley metadata) read as version 1
    of their type, recorded when the server recorded them."""
    try:
        fields = msgspec.json.decode(event.metadata) if event.metadata else {}
    except msgspec.DecodeError:
        fields = {}
    if not isinstance(fields, dict):
        fields = {}

    def text(key: str) -> str | None:
        value = fields.get(key)
        return value if isinstance(value, str) else None

    envelope = EventMetadata(
        actor=text("actor"),
        key_id=text("keyId"),
        command_id=text("commandId"),
        correlation_id=text("$correlationId"),
        causation_id=text("$causationId"),
    )
    recorded_at = text("recordedAt")
    return RecordedEvent(
        position=event.commit_position or 0,
        stream=event.stream_name,
        version=event.stream_position,
        event_id=text("eventId") or str(event.id),
        type=event.type,
        schema_version=int(text("schemaVersion") or 1),
        data=event.data,
        recorded_at=datetime.fromisoformat(recorded_at) if recorded_at else (event.recorded_at or _EPOCH),
        metadata=envelope if envelope != NO_METADATA else NO_METADATA,
    )


def _stream_state(expected_version: int | None) -> int | StreamState:
    if expected_version is None:
        return StreamState.ANY
    if expected_version == NO_STREAM:
        return StreamState.NO_STREAM
    if expected_version < 0:
        raise ValueError(f"expected_version {expected_version}: use NO_STREAM, ANY_VERSION or a version >= 0")
    return expected_version


class KurrentDBEventStore:
    """Event store on a KurrentDB server or cluster, e.g. ``KurrentDBEventStore("kurrentdb://host:2113?tls=false")``.

    The constructor asks the server for its head position, so a wrong or unreachable URL fails at once with a
    ConfigurationError that names ``PARLEY_KURRENTDB_URL``.
    """

    def __init__(self, uri: str, *, timeout: float = _PROBE_TIMEOUT) -> None:
        self.uri = uri
        self._closed = False
        self._subscriptions: weakref.WeakSet[KurrentDBSubscription] = weakref.WeakSet()
        try:
            self._client = KurrentDBClient(uri=uri)
        except (ValueError, KurrentDBClientError) as error:
            raise ConfigurationError(f"PARLEY_KURRENTDB_URL: not a KurrentDB connection string: {error}") from error
        try:
            self._head(timeout)
        except KurrentDBClientError as error:
            self._client.close()
            reason = str(error) or type(error).__name__
            raise ConfigurationError(f"PARLEY_KURRENTDB_URL: cannot reach KurrentDB at {uri}: {reason}") from error

    @property
    def client(self) -> KurrentDBClient:
        return self._client

    # --- writing ---------------------------------------------------------------------------------------

    def append(self, stream: str, events: Sequence[NewEvent], expected_version: int | None) -> AppendResult:
        if not events:
            raise ValueError("append needs at least one event")
        state = _stream_state(expected_version)
        proposed = [
            KurrentNewEvent(
                type=event.type,
                data=event.data,
                metadata=_encode_metadata(event),
                content_type="application/json",
                id=_kurrent_id(event.event_id),
            )
            for event in events
        ]
        try:
            # A list (never a single NewEvent) makes kurrentdbclient send one BatchAppend: all or nothing.
            position = self._client.append_to_stream(stream, events=proposed, current_version=state)
        except WrongCurrentVersionError as error:
            raise self._conflict(stream, events, expected_version, error) from error
        except StreamIsDeletedError as error:
            raise EventStoreError(f"stream {stream} was deleted in KurrentDB; it cannot be appended to") from error
        if isinstance(state, int):
            version = state + len(events)
        elif state is StreamState.NO_STREAM:
            version = len(events) - 1
        else:  # ANY: the revision is the one of the event at the returned position, whoever else wrote since
            version = self._version_at(position)
        return AppendResult(stream_version=version, commit_position=position)

    def _conflict(
        self, stream: str, events: Sequence[NewEvent], expected: int | None, error: WrongCurrentVersionError
    ) -> EventStoreError:
        """ConcurrencyError for a stream that moved on; DuplicateEventError when some of these very ids are
        already in it (an append that overlaps an earlier one without being it)."""
        ids = {str(_kurrent_id(event.event_id)) for event in events}
        start = expected + 1 if expected is not None and expected >= 0 else 0
        try:
            tail = self._client.get_stream(stream, stream_position=start)
        except NotFoundError:
            tail = ()
        if any(str(recorded.id) in ids for recorded in tail):
            return DuplicateEventError(f"some of these events were already appended to {stream}, elsewhere")
        actual = error.actual_version
        current = NO_STREAM if actual is StreamState.NO_STREAM else actual
        return ConcurrencyError(f"stream {stream} is at version {current}, expected {expected}")

    def _version_at(self, position: int) -> int:
        (event,) = tuple(self._client.read_all(commit_position=position, filter_exclude=(), limit=1))
        return event.stream_position

    # --- reading ---------------------------------------------------------------------------------------

    def read_stream(self, stream: str, from_version: int = 0, to_version: int | None = None) -> list[RecordedEvent]:
        if to_version is not None and to_version < from_version:
            return []
        limit = to_version - from_version + 1 if to_version is not None else None
        try:
            if limit is None:
                found = self._client.get_stream(stream, stream_position=from_version)
            else:
                found = self._client.get_stream(stream, stream_position=from_version, limit=limit)
        except NotFoundError:
            return []
        return [_record(event) for event in found]

    def read_all(self, after_position: int = 0, limit: int = 1000) -> list[RecordedEvent]:
        if limit <= 0:
            return []
        if after_position <= 0:
            found = self._client.read_all(filter_exclude=_SYSTEM_STREAMS, filter_by_stream_name=True, limit=limit)
            return [_record(event) for event in found]
        # Reading $all forwards from a commit position includes the event at it: ask for one more, drop it.
        found = self._client.read_all(
            commit_position=after_position,
            filter_exclude=_SYSTEM_STREAMS,
            filter_by_stream_name=True,
            limit=limit + 1,
        )
        records = [_record(event) for event in found if (event.commit_position or 0) > after_position]
        return records[:limit]

    def head_position(self) -> int:
        return self._head(None)

    def _head(self, timeout: float | None) -> int:
        return int(
            self._client.get_commit_position(
                filter_exclude=_SYSTEM_STREAMS, filter_by_stream_name=True, timeout=timeout
            )
        )

    def subscribe(self, after_position: int = 0) -> KurrentDBSubscription:
        subscription = KurrentDBSubscription(self, after_position)
        self._subscriptions.add(subscription)
        return subscription

    def close(self) -> None:
        """Ends this store's subscriptions (their iterations stop, as on the other stores), then the connection."""
        if not self._closed:
            self._closed = True
            for subscription in list(self._subscriptions):
                subscription.close()
            self._client.close()


class KurrentDBSubscription:
    """Catch-up then live, over KurrentDB's own catch-up subscription to ``$all`` (exclusive of the position it
    starts after, system streams filtered out on the server), yielding pages of events.

    A reader thread moves events from the gRPC stream into a bounded queue and the iterator hands out what has
    arrived as one page: pages are large while the subscription catches up and small once it is live, and a live
    event is handed on as soon as the server pushes it (no polling). When the buffer is full the reader waits, so
    a slow consumer slows the server's push instead of filling memory; should the server drop the subscription
    as too slow anyway, the reader subscribes again after the last event it buffered.
    """

    def __init__(self, store: KurrentDBEventStore, after_position: int, page_size: int = _PAGE) -> None:
        self._store = store
        self._position = after_position
        self._page_size = page_size
        self._buffer: queue.Queue[RecordedEvent | BaseException | None] = queue.Queue(page_size * _BUFFER_PAGES)
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._grpc: Any = None
        self._reader: threading.Thread | None = None

    def __iter__(self) -> Iterator[list[RecordedEvent]]:
        if self._closed.is_set():
            return
        if self._reader is None:
            self._reader = threading.Thread(target=self._read, name="kurrentdb-subscription", daemon=True)
            self._reader.start()
        while not self._closed.is_set():
            item = self._buffer.get()
            page: list[RecordedEvent] = []
            while True:
                if item is None or isinstance(item, BaseException):
                    if page:
                        yield page
                    if isinstance(item, BaseException) and not self._closed.is_set():
                        raise item
                    return
                page.append(item)
                if len(page) >= self._page_size:
                    break
                try:
                    item = self._buffer.get_nowait()
                except queue.Empty:
                    break
            if not self._closed.is_set():
                yield page

    def _read(self) -> None:
        pause = _RETRY_FIRST
        try:
            while not self._closed.is_set():
                try:
                    self._follow()
                    return  # the server ended the subscription (it does not, unless closed)
                except (ConsumerTooSlowError, ServiceUnavailableError) as error:
                    # Dropped as too slow, or the node went away (a restart, a leader change): subscribe again
                    # after the last event buffered, so nothing is skipped or handed on twice.
                    log.warning("KurrentDB subscription lost after %s (%s); subscribing again", self._position, error)
                    self._closed.wait(pause)
                    pause = min(pause * 2, _RETRY_LAST)
        except CancelledByClientError:
            pass
        except BaseException as error:  # handed to the consumer, who raises it
            if not self._closed.is_set():
                self._put(error)
            return
        finally:
            self._put(None)

    def _follow(self) -> None:
        client = self._store.client
        with self._lock:
            if self._closed.is_set():
                return
            self._grpc = client.subscribe_to_all(
                commit_position=self._position if self._position > 0 else None,
                filter_exclude=_SYSTEM_STREAMS,
                filter_by_stream_name=True,
            )
        for event in self._grpc:
            record = _record(event)
            if not self._put(record):
                return
            self._position = record.position

    def _put(self, item: RecordedEvent | BaseException | None) -> bool:
        """Buffer ``item``, waiting while the buffer is full; False once the subscription is closed."""
        while True:
            if self._closed.is_set() and item is not None:
                return False
            try:
                self._buffer.put(item, timeout=0.1)
                return True
            except queue.Full:
                if item is None and self._closed.is_set():
                    return False

    def close(self) -> None:
        self._closed.set()
        with self._lock:
            grpc_subscription = self._grpc
        if grpc_subscription is not None:
            grpc_subscription.stop()
        # Wake a consumer waiting on an empty buffer; one with a full buffer is not waiting, and sees the flag.
        with contextlib.suppress(queue.Full):
            self._buffer.put_nowait(None)
        if self._reader is not None and self._reader is not threading.current_thread():
            self._reader.join(timeout=5)
