"""What the relational event logs (SQLite, PostgreSQL) share: the answer to an append whose event ids are
already in the log."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from domain.errors import DuplicateEventError
from domain.ports import AppendResult


def replayed_append(stream: str, ids: Sequence[str], rows: Sequence[Sequence[Any]]) -> AppendResult:
    """``rows`` (event_id, stream, version, position) of ``ids`` found in the log: the same append made again is
    answered as it was the first time; any other overlap is a DuplicateEventError."""
    found = {row[0]: row for row in rows}
    if len(found) != len(ids) or any(row[1] != stream for row in rows):
        raise DuplicateEventError(f"some of these events were already appended to {stream} or elsewhere")
    versions = [found[event_id][2] for event_id in ids]
    if versions != list(range(versions[0], versions[0] + len(ids))):
        raise DuplicateEventError(f"these events were appended to {stream} in another order")
    last = found[ids[-1]]
    return AppendResult(stream_version=int(last[2]), commit_position=int(last[3]))
