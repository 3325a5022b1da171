"""ReadModelProjection: feeds pages of decoded events to the read-model store, which folds them and stores the
checkpoint in the same transaction (whatever engine it is)."""

from __future__ import annotations

from collections.abc import Sequence

from domain.events import decode_recorded
from domain.ports import ReadModelStore, RecordedEvent

NAME = "read_models"


class ReadModelProjection:
    name = NAME
    serving = True

    def __init__(self, store: ReadModelStore) -> None:
        self.store = store

    def checkpoint(self) -> int:
        return self.store.checkpoint(self.name)

    def apply(self, page: Sequence[RecordedEvent]) -> None:
        decoded = [(record, decode_recorded(record.type, record.schema_version, record.data)) for record in page]
        self.store.apply(self.name, decoded)
