from pathlib import Path

import pytest

from adapters.sqlite.event_store import SQLiteEventStore
from domain.ports import NO_STREAM
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
