"""Rebuilding read models from the log and proving a build equals it: ``parley replay --verify`` folds the log from
position 0 into an empty store beside the live one and compares the two, table by table, by content hash."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable
from typing import Any

import msgspec

from domain import events as ev
from domain.ports import EventStore, ReadModelStore

PAGE = 500  # events per transaction of a rebuild
Progress = Callable[[int], None]  # the position reached


def fold_log(events: EventStore, store: ReadModelStore, name: str, up_to: int, progress: Progress) -> int:
    """Applies the log's events from position 1 to ``up_to`` (the live checkpoint) to ``store`` in pages, each
    with checkpoint ``name``; returns how many it applied."""
    position, applied = 0, 0
    while position < up_to:
        records = [record for record in events.read_all(position, PAGE) if record.position <= up_to]
        if not records:
            break
        store.apply(name, [(r, ev.decode_recorded(r.type, r.schema_version, r.data)) for r in records])
        position, applied = records[-1].position, applied + len(records)
        progress(position)
    return applied


class TableDifference(msgspec.Struct, frozen=True, kw_only=True):
    """The first row in which a live read model differs from what the log implies."""

    table: str
    live_hash: str
    rebuilt_hash: str
    live_row: tuple[Any, ...] | None  # a live row the rebuild does not have (None: the live table lacks one)
    rebuilt_row: tuple[Any, ...] | None  # the rebuild's row nearest to it, or the one the live table lacks

    def describe(self) -> str:
        if self.live_row is not None and self.rebuilt_row is not None:
            return f"{self.table}: live row {self.live_row!r} differs from the rebuilt {self.rebuilt_row!r}"
        if self.live_row is not None:
            return f"{self.table}: live row {self.live_row!r} is not implied by the log"
        return f"{self.table}: the log implies row {self.rebuilt_row!r}, which the live table lacks"


def table_hash(rows: list[tuple[Any, ...]]) -> str:
    """A content hash of a table: sha256 over its rows in a stable order."""
    digest = hashlib.sha256()
    for row in sorted(rows, key=repr):
        digest.update(repr(row).encode())
        digest.update(b"\n")
    return digest.hexdigest()


def table_hashes(snapshot: dict[str, list[tuple[Any, ...]]]) -> dict[str, str]:
    return {table: table_hash(rows) for table, rows in snapshot.items()}


def first_difference(
    live: dict[str, list[tuple[Any, ...]]], rebuilt: dict[str, list[tuple[Any, ...]]]
) -> TableDifference | None:
    """The first table (in the snapshots' order) whose hashes differ, with its first differing row; None when
    every table is identical."""
    for table in live:
        live_rows, rebuilt_rows = live[table], rebuilt.get(table, [])
        live_hash, rebuilt_hash = table_hash(live_rows), table_hash(rebuilt_rows)
        if live_hash == rebuilt_hash:
            continue
        extra = sorted((Counter(live_rows) - Counter(rebuilt_rows)).elements(), key=repr)
        missing = sorted((Counter(rebuilt_rows) - Counter(live_rows)).elements(), key=repr)
        live_row = extra[0] if extra else None
        rebuilt_row = missing[0] if missing else None
        if live_row is not None and missing:  # the rebuilt row with the same key (first column), if any
            rebuilt_row = next((row for row in missing if row[:1] == live_row[:1]), missing[0])
        return TableDifference(
            table=table, live_hash=live_hash, rebuilt_hash=rebuilt_hash, live_row=live_row, rebuilt_row=rebuilt_row
        )
    return None
