"""InMemoryPastStates: time travel's read models, folded from chosen events into a private in-memory SQLite
database by the same projector and schema as the live read models, and read by the same queries; the live read
models are never touched.

Folding a session of 1,000 events this way takes milliseconds (``bench/audit_bench.py``), so nothing is cached.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from adapters.sql import projector
from adapters.sql.queries import SQLReadModelQueries
from adapters.sqlite.read_models import SQLiteReadModelStore
from adapters.sqlite.read_models import _Writer as SQLiteWriter
from domain import events as ev
from domain.ports import ReadModelQueries, RecordedEvent


class _PrivateReadModels(SQLiteReadModelStore):
    """The read models' schema in one in-memory database of one connection (an in-memory database is private to
    its connection, so the per-thread connections of the file store would each see an empty one)."""

    def __init__(self) -> None:
        super().__init__(":memory:")

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        return conn

    def connection(self) -> sqlite3.Connection:
        return self._keepalive

    def apply(self, name: str, page: Sequence[tuple[RecordedEvent, ev.AnyEvent]]) -> None:
        with self.transaction() as conn:
            writer = _Unsearched(conn)
            for record, event in page:
                projector.project(writer, record, event)
            self.set_checkpoint(conn, name, page[-1][0].position)


class _Unsearched(SQLiteWriter):
    """The live projector's writer without the lexical index: nothing searches the past, and indexing every cited
    document's chunks was a fifth of folding a long session."""

    def index_chunks(self, collection_id: str, document_id: str, chunks: Sequence[ev.Chunk]) -> None:
        return None


class InMemoryPastStates:
    """The PastStates port on SQLite in memory."""

    @contextmanager
    def folded(self, page: Sequence[tuple[RecordedEvent, ev.AnyEvent]]) -> Iterator[ReadModelQueries]:
        store = _PrivateReadModels()
        try:
            if page:
                store.apply("as_of", page)
            yield SQLReadModelQueries(store)
        finally:
            store.close()
