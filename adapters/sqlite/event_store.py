"""SQLiteEventStore: the embedded event store (stdlib sqlite3, WAL).

One table holds every event; ``position`` (an INTEGER PRIMARY KEY) gives the global commit order because a
writer holds SQLite's single write lock (``BEGIN IMMEDIATE``) from the version check to the commit, so insert
order and commit order are the same and no reader ever skips an event committed later with a lower position.
Subscribers in this process are woken by a condition variable when an append commits; a slow timed wait is
kept only as a safety net for writers in other processes.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path

import msgspec

from adapters.sql.event_log import replayed_append
from domain.errors import ConcurrencyError, DuplicateEventError
from domain.ports import NO_METADATA, NO_STREAM, AppendResult, EventMetadata, NewEvent, RecordedEvent

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    position INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    stream TEXT NOT NULL,
    version INTEGER NOT NULL,
    type TEXT NOT NULL,
    schema_version INTEGER NOT NULL,
    data BLOB NOT NULL,
    recorded_at TEXT NOT NULL,
    metadata BLOB NOT NULL DEFAULT '{}',
    UNIQUE (stream, version)
);
"""
_COLUMNS = "position, stream, version, event_id, type, schema_version, data, recorded_at, metadata"
_metadata_decoder = msgspec.json.Decoder(EventMetadata)
_OTHER_PROCESS_WAIT = 2.0  # seconds; only writers in another process need this


def _record(row: tuple[int, str, int, str, str, int, bytes, str, bytes]) -> RecordedEvent:
    position, stream, version, event_id, type_, schema_version, data, recorded_at, metadata = row
    return RecordedEvent(
        position=position,
        stream=stream,
        version=version,
        event_id=event_id,
        type=type_,
        schema_version=schema_version,
        data=bytes(data),
        recorded_at=datetime.fromisoformat(recorded_at),
        metadata=_metadata_decoder.decode(metadata) if metadata != b"{}" else NO_METADATA,
    )


class SQLiteEventStore:
    """Embedded event store in one SQLite file (or ``:memory:`` for a throwaway one)."""

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._appended = threading.Condition()
        self._closed = False
        self._scratch: str | None = None
        if self.path == ":memory:":
            # A throwaway store lives in a temporary file: SQLite's shared-cache in-memory databases lock whole
            # tables and fail concurrent writers at once instead of letting them wait.
            self._scratch = tempfile.mkdtemp(prefix="parley-events-")
            self.path = os.path.join(self._scratch, "events.sqlite3")
        self._keepalive = self._connect()
        self._keepalive.executescript(_SCHEMA)
        columns = {row[1] for row in self._keepalive.execute("PRAGMA table_info(events)")}
        if "metadata" not in columns:  # a log written before events had an envelope
            self._keepalive.execute("ALTER TABLE events ADD COLUMN metadata BLOB NOT NULL DEFAULT '{}'")

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=30, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
        return conn

    # --- writing ---------------------------------------------------------------------------------------

    def append(self, stream: str, events: Sequence[NewEvent], expected_version: int | None) -> AppendResult:
        if not events:
            raise ValueError("append needs at least one event")
        conn = self._conn()
        with self._write_lock:
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = self._append_locked(conn, stream, events, expected_version)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        with self._appended:
            self._appended.notify_all()
        return result

    def _append_locked(
        self, conn: sqlite3.Connection, stream: str, events: Sequence[NewEvent], expected: int | None
    ) -> AppendResult:
        replay = self._idempotent_replay(conn, stream, events)
        if replay is not None:
            return replay
        row = conn.execute("SELECT MAX(version) FROM events WHERE stream = ?", (stream,)).fetchone()
        current = NO_STREAM if row[0] is None else int(row[0])
        if expected is not None and expected != current:
            raise ConcurrencyError(f"stream {stream} is at version {current}, expected {expected}")
        position = 0
        for offset, event in enumerate(events):
            try:
                cursor = conn.execute(
                    "INSERT INTO events (event_id, stream, version, type, schema_version, data, recorded_at, metadata)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        event.event_id,
                        stream,
                        current + 1 + offset,
                        event.type,
                        event.schema_version,
                        event.data,
                        event.recorded_at.isoformat(),
                        msgspec.json.encode(event.metadata),
                    ),
                )
            except sqlite3.IntegrityError as error:
                raise DuplicateEventError(f"event {event.event_id} was already appended elsewhere") from error
            position = int(cursor.lastrowid or 0)
        return AppendResult(stream_version=current + len(events), commit_position=position)

    def _idempotent_replay(
        self, conn: sqlite3.Connection, stream: str, events: Sequence[NewEvent]
    ) -> AppendResult | None:
        """If these exact event ids were appended to this stream before, answer as that append did."""
        ids = [event.event_id for event in events]
        marks = ",".join("?" * len(ids))
        rows = conn.execute(
            f"SELECT event_id, stream, version, position FROM events WHERE event_id IN ({marks})", ids
        ).fetchall()
        if not rows:
            return None
        return replayed_append(stream, ids, rows)

    # --- reading ---------------------------------------------------------------------------------------

    def read_stream(self, stream: str, from_version: int = 0, to_version: int | None = None) -> list[RecordedEvent]:
        upper = to_version if to_version is not None else 2**62
        rows = self._conn().execute(
            f"SELECT {_COLUMNS} FROM events WHERE stream = ? AND version >= ? AND version <= ? ORDER BY version",
            (stream, from_version, upper),
        )
        return [_record(row) for row in rows]

    def read_all(self, after_position: int = 0, limit: int = 1000) -> list[RecordedEvent]:
        rows = self._conn().execute(
            f"SELECT {_COLUMNS} FROM events WHERE position > ? ORDER BY position LIMIT ?",
            (after_position, limit),
        )
        return [_record(row) for row in rows]

    def head_position(self) -> int:
        row = self._conn().execute("SELECT MAX(position) FROM events").fetchone()
        return int(row[0] or 0)

    def subscribe(self, after_position: int = 0) -> SQLiteSubscription:
        return SQLiteSubscription(self, after_position)

    def wait_for_append(self, after_position: int, timeout: float, stopped: Callable[[], bool] = lambda: False) -> None:
        """Block until the log holds an event after ``after_position``, the store closes, ``stopped()`` (a closed
        subscription), or time is up."""
        with self._appended:
            self._appended.wait_for(
                lambda: self._closed or stopped() or self.head_position() > after_position, timeout=timeout
            )

    def close(self) -> None:
        self._closed = True
        with self._appended:
            self._appended.notify_all()
        self._keepalive.close()
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)


class SQLiteSubscription:
    """Catch-up then live subscription over a SQLiteEventStore, yielding pages of events."""

    def __init__(self, store: SQLiteEventStore, after_position: int, page_size: int = 500) -> None:
        self._store = store
        self._position = after_position
        self._page_size = page_size
        self._closed = False

    def __iter__(self) -> Iterator[list[RecordedEvent]]:
        while not self._closed and not self._store._closed:
            page = self._store.read_all(self._position, self._page_size)
            if page:
                self._position = page[-1].position
                yield page
                continue
            self._store.wait_for_append(self._position, _OTHER_PROCESS_WAIT, lambda: self._closed)

    def close(self) -> None:
        self._closed = True
        with self._store._appended:
            self._store._appended.notify_all()
