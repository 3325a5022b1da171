import sqlite3
from pathlib import Path

import pytest

from adapters.sqlite.event_store import SQLiteEventStore
from domain.ports import NO_METADATA, NO_STREAM, EventMetadata
from tests.contract.event_store_contract import EventStoreContract, new_event


class TestSQLiteEventStore(EventStoreContract):
    @pytest.fixture(autouse=True)
    def _directory(self, tmp_path: Path) -> None:
        self.directory = tmp_path

    def make_store(self) -> SQLiteEventStore:
        return SQLiteEventStore(self.directory / "events.sqlite3")


class TestInMemorySQLiteEventStore(EventStoreContract):
    def make_store(self) -> SQLiteEventStore:
        return SQLiteEventStore(":memory:")


def test_events_survive_reopening_the_file(tmp_path: Path) -> None:
    store = SQLiteEventStore(tmp_path / "events.sqlite3")
    result = store.append("s-1", [new_event()], NO_STREAM)
    store.close()
    reopened = SQLiteEventStore(tmp_path / "events.sqlite3")
    assert reopened.head_position() == result.commit_position
    assert len(reopened.read_stream("s-1")) == 1
    reopened.close()


def test_a_log_written_before_the_envelope_opens_with_empty_metadata(tmp_path: Path) -> None:
    path = tmp_path / "events.sqlite3"
    with sqlite3.connect(path) as old:  # the table as stops 7 and 8 wrote it
        old.execute(
            "CREATE TABLE events (position INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL UNIQUE,"
            " stream TEXT NOT NULL, version INTEGER NOT NULL, type TEXT NOT NULL, schema_version INTEGER NOT NULL,"
            " data BLOB NOT NULL, recorded_at TEXT NOT NULL, UNIQUE (stream, version))"
        )
        old.execute(
            "INSERT INTO events (event_id, stream, version, type, schema_version, data, recorded_at)"
            " VALUES ('e-1', 's-1', 0, 'Happened', 1, X'7B7D', '2026-01-02T03:04:05+00:00')"
        )
    store = SQLiteEventStore(path)
    (recorded,) = store.read_stream("s-1")
    assert recorded.metadata == NO_METADATA
    stamped = EventMetadata(actor="ann", command_id="c-1")
    store.append("s-1", [new_event(metadata=stamped)], 0)
    assert store.read_stream("s-1", from_version=1)[0].metadata == stamped
    store.close()
