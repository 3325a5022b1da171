"""PostgresEventStore: the event log on PostgreSQL (psycopg 3, a psycopg_pool connection pool).

One table, ``<schema>.events`` (schema ``parley_events`` unless told otherwise), holds every event; ``position`` is
an identity column and gives the global commit order.

The gap problem, and how this store solves it. A sequence hands out numbers when rows are inserted, not when their
transactions commit: with plain concurrent inserts, transaction A can take position 10, B take 11 and commit first,
and a subscriber that reads 11 and remembers "after 11" never sees 10 when A commits a moment later. Two ways out:

1. serialise the appends, so that positions are handed out in commit order: every append takes one
   transaction-level advisory lock (``pg_advisory_xact_lock``) before it reads the stream's version, and holds it
   until its commit. PostgreSQL makes a commit visible before it releases the transaction's locks, so by the time
   the next writer holds the lock (and only then takes its positions), every lower position is already committed
   and visible to any new snapshot. What a reader sees of the log is therefore always a prefix of it: it can never
   pass over a position that commits later.
2. keep the inserts concurrent and let readers stop short of the oldest transaction still in flight (record
   ``pg_current_xact_id()`` with each row and read only rows below ``pg_snapshot_xmin(pg_current_snapshot())``).

This store takes the first, as the ``eventsourcing`` library does (it takes ``LOCK TABLE ... IN EXCLUSIVE MODE``;
an advisory lock does the same without also locking out autovacuum and other table-level work). Why: it is correct
by construction, the reader's query stays a plain ``position > after ORDER BY position``, and the version check
under the same lock makes optimistic concurrency exact (the ``UNIQUE (stream, version)`` constraint is only a
backstop). The price is that appends to one log do not overlap: an append holds the lock through its commit (one
WAL flush), so throughput is one commit at a time whatever the number of writers; ``bench/event_store_bench.py``
measures it. Append is kept to three statements under the lock to keep that window short (sending BEGIN, the
lock and the first read in one flight with psycopg's pipeline mode measured slower here: 226 against 666 events/s,
batch 1, one writer). Every insert must go through ``append`` (a tool that inserts rows by hand must take the same
lock).

Positions can still skip numbers, because a sequence value taken by a transaction that rolls back (a conflict
found by the backstop, a crash) is never reused; readers only ever ask for ``position > last``, never ``last + 1``.

Subscribers are woken by LISTEN/NOTIFY: each append notifies the channel in its own transaction, so the wake-up is
delivered when it commits, to every process on the database; one listener thread per store turns it into a
condition-variable wake-up. The notification is only a wake-up (the table is the truth, the payload is never
trusted), and a timed poll is kept as the fallback for when the listening connection is lost.
"""

from __future__ import annotations

import logging
import re
import threading
import zlib
from collections.abc import Iterator, Sequence
from datetime import UTC
from typing import Any

import msgspec
import psycopg
from psycopg import errors as pg_errors
from psycopg_pool import ConnectionPool, PoolClosed

from adapters.sql.event_log import replayed_append
from domain.errors import ConcurrencyError, ConfigurationError, DuplicateEventError
from domain.ports import NO_METADATA, NO_STREAM, AppendResult, EventMetadata, NewEvent, RecordedEvent

log = logging.getLogger("parley")

DEFAULT_SCHEMA = "parley_events"
_LOCK_CLASS = 0x45565453  # first key of the append lock ("EVTS"); the second names the table
_POLL = 2.0  # seconds a subscriber waits for a wake-up before it looks anyway (the fallback)
_LISTEN_TICK = 0.2  # seconds the listener waits for notifications before it checks whether the store closed
_metadata_decoder = msgspec.json.Decoder(EventMetadata)
_NAME = re.compile(r"[a-z_][a-z0-9_]{0,40}")


def _record(row: tuple[Any, ...]) -> RecordedEvent:
    position, stream, version, event_id, type_, schema_version, data, recorded_at, metadata = row
    return RecordedEvent(
        position=position,
        stream=stream,
        version=version,
        event_id=event_id,
        type=type_,
        schema_version=schema_version,
        data=bytes(data),
        recorded_at=recorded_at.astimezone(UTC),
        metadata=_metadata_decoder.decode(metadata) if metadata != "{}" else NO_METADATA,
    )


def _configure(conn: psycopg.Connection[Any]) -> None:
    # READ COMMITTED, whatever the database's default: each statement of an append then takes its snapshot after
    # the lock was granted (under REPEATABLE READ the snapshot would date from the lock statement itself, taken
    # before the wait, and the version check could miss the append it waited for).
    conn.isolation_level = psycopg.IsolationLevel.READ_COMMITTED
    conn.execute("SET TIME ZONE 'UTC'")


class PostgresEventStore:
    """The production event log in one PostgreSQL schema; many processes may share it."""

    def __init__(self, url: str, schema: str = DEFAULT_SCHEMA, pool_size: int = 10) -> None:
        if not _NAME.fullmatch(schema):
            raise ConfigurationError(f"event store schema {schema!r}: use lower-case letters, digits and _")
        self.url = url
        self.schema = schema
        self._table = f'"{schema}".events'
        self._channel = f"{schema}_appended"
        # The advisory lock's keys: a constant and the table's name, so two logs in one database lock apart.
        self._lock_keys = (_LOCK_CLASS, zlib.crc32(self._table.encode()) - 2**31)
        self._columns = "position, stream, version, event_id, type, schema_version, data, recorded_at, metadata::text"
        # The whole batch in one statement (versions from the batch's order), which also sends the wake-up: the
        # notification leaves when the transaction commits, never before.
        self._insert = (
            f"WITH added AS (INSERT INTO {self._table}"
            " (event_id, stream, version, type, schema_version, data, recorded_at, metadata)"
            " SELECT e.event_id, %s, %s + e.n, e.type, e.schema_version, e.data, e.recorded_at, e.metadata::jsonb"
            " FROM unnest(%s::text[], %s::text[], %s::int[], %s::bytea[], %s::timestamptz[], %s::text[])"
            " WITH ORDINALITY AS e(event_id, type, schema_version, data, recorded_at, metadata, n)"
            " ORDER BY e.n RETURNING position)"
            " SELECT MAX(position), pg_notify(%s, MAX(position)::text) FROM added"
        )
        try:  # one connection first, to stop at once with the reason when the URL is wrong
            probe = psycopg.connect(url, autocommit=True, connect_timeout=10)
        except psycopg.Error as error:
            raise ConfigurationError(f"PARLEY_POSTGRES_URL: cannot connect to the event store: {error}") from error
        with probe:
            self._create_schema(probe)
        self._pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            kwargs={"autocommit": True},
            configure=_configure,
            open=True,
            name=f"parley-events-{schema}",
        )
        self._changed = threading.Condition()
        self._generation = 0  # bumped on every wake-up; a waiter compares it with what it saw before reading
        self._closed = False
        self._listener: threading.Thread | None = None
        self._listener_lock = threading.Lock()

    def _create_schema(self, conn: psycopg.Connection[Any]) -> None:
        with conn.transaction():
            # Under the append lock: two processes starting on an empty database must not race on the DDL.
            conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", self._lock_keys)
            conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
            conn.execute(
                f"""CREATE TABLE IF NOT EXISTS {self._table} (
                    position BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    event_id TEXT NOT NULL CONSTRAINT events_event_id UNIQUE,
                    stream TEXT NOT NULL,
                    version BIGINT NOT NULL,
                    type TEXT NOT NULL,
                    schema_version INTEGER NOT NULL,
                    data BYTEA NOT NULL,
                    recorded_at TIMESTAMPTZ NOT NULL,
                    metadata JSONB NOT NULL DEFAULT '{{}}',
                    CONSTRAINT events_stream_version UNIQUE (stream, version)
                )"""
            )

    # --- writing ---------------------------------------------------------------------------------------

    def append(self, stream: str, events: Sequence[NewEvent], expected_version: int | None) -> AppendResult:
        if not events:
            raise ValueError("append needs at least one event")
        if any(event.recorded_at.tzinfo is None for event in events):
            raise ValueError("recorded_at must be timezone-aware")
        ids = [event.event_id for event in events]
        with self._pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", self._lock_keys)
            # One statement for the stream's version and for any of these ids already in the log (the first row,
            # marked by a NULL event id, is the version).
            rows = conn.execute(
                f"SELECT NULL::text, NULL::text, MAX(version), NULL::bigint FROM {self._table} WHERE stream = %s"
                f" UNION ALL SELECT event_id, stream, version, position FROM {self._table} WHERE event_id = ANY(%s)",
                (stream, ids),
            ).fetchall()
            current = next(int(row[2]) if row[2] is not None else NO_STREAM for row in rows if row[0] is None)
            earlier = [row for row in rows if row[0] is not None]
            if earlier:
                return replayed_append(stream, ids, earlier)
            if expected_version is not None and expected_version != current:
                raise ConcurrencyError(f"stream {stream} is at version {current}, expected {expected_version}")
            try:
                row = conn.execute(
                    self._insert,
                    (
                        stream,
                        current,
                        ids,
                        [event.type for event in events],
                        [event.schema_version for event in events],
                        [event.data for event in events],
                        [event.recorded_at for event in events],
                        [msgspec.json.encode(event.metadata).decode() for event in events],
                        self._channel,
                    ),
                ).fetchone()
            except pg_errors.UniqueViolation as error:
                if error.diag.constraint_name == "events_stream_version":  # the backstop; the lock prevents it
                    raise ConcurrencyError(f"stream {stream} moved on during the append") from error
                raise DuplicateEventError(f"an event id of this append to {stream} appears twice") from error
        assert row is not None
        self._wake()
        return AppendResult(stream_version=current + len(events), commit_position=int(row[0]))

    # --- reading ---------------------------------------------------------------------------------------

    def read_stream(self, stream: str, from_version: int = 0, to_version: int | None = None) -> list[RecordedEvent]:
        upper = to_version if to_version is not None else 2**62
        with self._pool.connection() as conn:
            rows = conn.execute(
                f"SELECT {self._columns} FROM {self._table}"
                " WHERE stream = %s AND version >= %s AND version <= %s ORDER BY version",
                (stream, from_version, upper),
            ).fetchall()
        return [_record(row) for row in rows]

    def read_all(self, after_position: int = 0, limit: int = 1000) -> list[RecordedEvent]:
        with self._pool.connection() as conn:
            rows = conn.execute(
                f"SELECT {self._columns} FROM {self._table} WHERE position > %s ORDER BY position LIMIT %s",
                (after_position, limit),
            ).fetchall()
        return [_record(row) for row in rows]

    def head_position(self) -> int:
        with self._pool.connection() as conn:
            row = conn.execute(f"SELECT MAX(position) FROM {self._table}").fetchone()
        return int(row[0] or 0) if row else 0

    # --- subscribing -----------------------------------------------------------------------------------

    def subscribe(self, after_position: int = 0) -> PostgresSubscription:
        self._start_listener()
        return PostgresSubscription(self, after_position)

    def _wake(self) -> None:
        with self._changed:
            self._generation += 1
            self._changed.notify_all()

    def wait_for_wake(self, seen: int, timeout: float) -> None:
        """Block until a wake-up newer than generation ``seen``, the store closes, or time is up."""
        with self._changed:
            self._changed.wait_for(lambda: self._closed or self._generation != seen, timeout=timeout)

    def pause(self, timeout: float) -> None:
        """Wait ``timeout`` seconds, or less if the store closes."""
        with self._changed:
            self._changed.wait_for(lambda: self._closed, timeout=timeout)

    def _start_listener(self) -> None:
        with self._listener_lock:
            if self._listener is None and not self._closed:
                self._listener = threading.Thread(target=self._listen, name=f"listen-{self._channel}", daemon=True)
                self._listener.start()

    def _listen(self) -> None:
        """LISTEN on a connection of its own (outside the pool) and turn notifications into wake-ups; reconnect
        after losing it. While it is down, subscribers fall back on their timed poll."""
        backoff = 0.1
        while not self._closed:
            try:
                with psycopg.connect(self.url, autocommit=True) as conn:
                    conn.execute(f'LISTEN "{self._channel}"')
                    backoff = 0.1
                    self._wake()  # anything committed while no one listened is read now
                    while not self._closed:
                        for _ in conn.notifies(timeout=_LISTEN_TICK):
                            self._wake()
            except psycopg.Error as error:
                if self._closed:
                    return
                log.warning("event store listener lost its connection (%s); polling until it is back", error)
                self.pause(backoff)
                backoff = min(backoff * 2, _POLL)

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify_all()
        with self._listener_lock:
            listener = self._listener
        if listener is not None:
            listener.join(timeout=5)
        self._pool.close()


class PostgresSubscription:
    """Catch-up then live subscription over a PostgresEventStore, yielding pages of events in commit order."""

    def __init__(self, store: PostgresEventStore, after_position: int, page_size: int = 500) -> None:
        self._store = store
        self._position = after_position
        self._page_size = page_size
        self._closed = False

    def __iter__(self) -> Iterator[list[RecordedEvent]]:
        store = self._store
        while not self._closed and not store._closed:
            seen = store._generation
            try:
                page = store.read_all(self._position, self._page_size)
            except PoolClosed:
                return  # the store closed while we read
            except psycopg.OperationalError as error:  # the database is away: try again after a poll interval
                log.warning("event store subscription cannot read (%s); retrying", error)
                store.pause(_POLL)
                continue
            if page:
                self._position = page[-1].position
                yield page
                continue
            store.wait_for_wake(seen, timeout=_POLL)

    def close(self) -> None:
        self._closed = True
        self._store._wake()
