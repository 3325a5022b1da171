"""Moving up: copy an event log into another event store (the embedded log into a production one), event by
event in the log's order, keeping every event's id, stream, version, time and metadata, and the uploaded files
those events name. The read models are not copied: the projections rebuild them from the copied log."""

from __future__ import annotations

from collections.abc import Callable

from domain.errors import ConfigurationError
from domain.events import UploadReceived, decode_recorded
from domain.ports import NO_STREAM, BlobStore, EventStore, NewEvent, RecordedEvent

Progress = Callable[[int, int], None]  # (events copied, the source's head position)


def copy_log(
    source: EventStore,
    target: EventStore,
    progress: Progress | None = None,
    source_blobs: BlobStore | None = None,
    target_blobs: BlobStore | None = None,
    page_size: int = 1000,
) -> int:
    """Copy every event of ``source`` into ``target``, which must be empty (Conflict otherwise); with blob stores,
    the bytes of every upload too. Returns the number of events copied."""
    if target.head_position() > 0:
        raise ConfigurationError("the target event store already holds events: migrate only into an empty one")
    total = source.head_position()  # the last position: as many events, less any gaps
    copied, after = 0, 0
    while page := source.read_all(after_position=after, limit=page_size):
        # Consecutive events of one stream were appended together (a command's events): append them together,
        # each stream at exactly the version it had, so the target's optimistic checks hold for the copy too.
        run: list[RecordedEvent] = []
        for record in page:
            if run and record.stream != run[0].stream:
                _append(target, run)
                run = []
            run.append(record)
            if source_blobs is not None and target_blobs is not None and record.type == "UploadReceived":
                event = decode_recorded(record.type, record.schema_version, record.data)
                if isinstance(event, UploadReceived):
                    target_blobs.put(source_blobs.get(event.content_hash))
        _append(target, run)
        copied += len(page)
        after = page[-1].position
        if progress is not None:
            progress(copied, total)
    return copied


def _append(target: EventStore, run: list[RecordedEvent]) -> None:
    if not run:
        return
    events = [
        NewEvent(
            event_id=record.event_id,
            type=record.type,
            schema_version=record.schema_version,
            data=record.data,
            recorded_at=record.recorded_at,
            metadata=record.metadata,
        )
        for record in run
    ]
    first = run[0].version
    target.append(run[0].stream, events, NO_STREAM if first == 0 else first - 1)
