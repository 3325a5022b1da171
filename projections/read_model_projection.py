"""ReadModelProjection: applies pages of events to the SQLite read models, checkpoint in the same transaction."""

from __future__ import annotations

from collections.abc import Sequence

from adapters.sqlite.read_store import SQLiteReadStore
from domain.events import decode_recorded
from domain.ports import RecordedEvent
from projections import read_models


class ReadModelProjection:
    name = read_models.NAME
    serving = True

    def __init__(self, store: SQLiteReadStore) -> None:
        self.store = store

    def checkpoint(self) -> int:
        return self.store.checkpoint(self.name)

    def apply(self, page: Sequence[RecordedEvent]) -> None:
        with self.store.transaction() as conn:
            for record in page:
                read_models.project(conn, record, decode_recorded(record.type, record.schema_version, record.data))
            self.store.set_checkpoint(conn, self.name, page[-1].position)
