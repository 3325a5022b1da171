"""Application service: load a stream, decide, append, retry on conflict. Pure orchestration over ports."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from domain.errors import ConcurrencyError
from domain.events import SCHEMA_VERSION, Event, decode_event, encode_event, event_type
from domain.ports import NO_STREAM, AppendResult, EventStore, NewEvent, RecordedEvent

MAX_ATTEMPTS = 8


class Decider(Protocol):
    """An aggregate module: ``decide(state, command)`` and ``evolve(state, event)``; state starts as None."""

    def decide(self, state: Any, command: Any, /) -> list[Event]: ...

    def evolve(self, state: Any, event: Event, /) -> Any: ...


def fold(decider: Decider, recorded: Sequence[RecordedEvent]) -> Any:
    state = None
    for record in recorded:
        state = decider.evolve(state, decode_event(record.data))
    return state


def utc_now() -> datetime:
    return datetime.now(UTC)


class CommandHandler:
    """Runs commands against aggregates held in an event store."""

    def __init__(self, store: EventStore, clock: Callable[[], datetime] = utc_now) -> None:
        self.store = store
        self.clock = clock

    def load(self, decider: Decider, stream: str) -> Any:
        return fold(decider, self.store.read_stream(stream))

    def execute(self, decider: Decider, stream: str, *commands: Any) -> AppendResult | None:
        """Decide every command in turn on the evolving state and append all their events in one batch.

        On a concurrent write the stream is reloaded and the commands decided again, a bounded number of
        times. Returns None when the commands changed nothing.
        """
        for _ in range(MAX_ATTEMPTS):
            recorded = self.store.read_stream(stream)
            state = fold(decider, recorded)
            expected = recorded[-1].version if recorded else NO_STREAM
            events: list[Event] = []
            for command in commands:
                for event in decider.decide(state, command):
                    state = decider.evolve(state, event)
                    events.append(event)
            if not events:
                return None
            now = self.clock()
            batch = [
                NewEvent(
                    event_id=str(uuid.uuid4()),
                    type=event_type(event),
                    schema_version=SCHEMA_VERSION,
                    data=encode_event(event),
                    recorded_at=now,
                )
                for event in events
            ]
            try:
                return self.store.append(stream, batch, expected_version=expected)
            except ConcurrencyError:
                continue
        raise ConcurrencyError(f"stream {stream} kept changing; gave up after {MAX_ATTEMPTS} attempts")


def stream_name(kind: str, aggregate_id: str) -> str:
    return f"{kind}-{aggregate_id}"
