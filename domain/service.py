"""Application service: load a stream, decide, append, retry on conflict. Pure orchestration over ports."""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from domain.envelope import CommandContext, current_context, event_id
from domain.errors import ConcurrencyError, DomainError
from domain.events import Event, decode_recorded, encode_event, event_type, event_version
from domain.ports import NO_STREAM, AppendResult, EventStore, NewEvent

MAX_ATTEMPTS = 8


class Decider(Protocol):
    """An aggregate module: ``decide(state, command)`` and ``evolve(state, event)``; state starts as None."""

    def decide(self, state: Any, command: Any, /) -> list[Event]: ...

    def evolve(self, state: Any, event: Event, /) -> Any: ...


def utc_now() -> datetime:
    return datetime.now(UTC)


class CommandHandler:
    """Runs commands against aggregates held in an event store.

    States are immutable, so the handler keeps the latest state of recently used streams and reads only the
    events appended since (a job over thousands of uploads would otherwise refold its whole stream for every
    file). The cache is an optimisation only: the expected version still guards every append.
    """

    def __init__(self, store: EventStore, clock: Callable[[], datetime] = utc_now, cache_size: int = 2048) -> None:
        self.store = store
        self.clock = clock
        self._cache: OrderedDict[tuple[int, str], tuple[int, Any]] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def load(self, decider: Decider, stream: str) -> Any:
        return self._load(decider, stream)[1]

    def _load(self, decider: Decider, stream: str) -> tuple[int, Any]:
        """The stream's version (NO_STREAM when empty) and its folded state."""
        key = (id(decider), stream)
        with self._lock:
            version, state = self._cache.get(key, (NO_STREAM, None))
        for record in self.store.read_stream(stream, from_version=version + 1):
            state = decider.evolve(state, decode_recorded(record.type, record.schema_version, record.data))
            version = record.version
        self._remember(key, version, state)
        return version, state

    def _remember(self, key: tuple[int, str], version: int, state: Any) -> None:
        if version == NO_STREAM:
            return
        with self._lock:
            cached = self._cache.get(key)
            if cached is None or cached[0] < version:
                self._cache[key] = (version, state)
            self._cache.move_to_end(key)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)

    def execute(
        self,
        decider: Decider,
        stream: str,
        *commands: Any,
        command_id: str | None = None,
        context: CommandContext | None = None,
    ) -> AppendResult | None:
        """Decide every command in turn on the evolving state and append all their events in one batch.

        On a concurrent write the stream is reloaded and the commands decided again, a bounded number of
        times. Returns None when the commands changed nothing. The events' ids derive from ``command_id`` (a
        fresh one when None): a command run again with the same id appends nothing new. Each event's
        metadata says who asked and in answer to what (``context``, else the one in progress).
        """
        stable = command_id is not None
        command_id = command_id or str(uuid.uuid4())
        metadata = (context or current_context()).metadata(command_id)
        for _ in range(MAX_ATTEMPTS):
            expected, state = self._load(decider, stream)
            events: list[Event] = []
            try:
                for command in commands:
                    for event in decider.decide(state, command):
                        state = decider.evolve(state, event)
                        events.append(event)
            except DomainError:
                # A command run again may be refused only because it took effect the first time.
                earlier = self._appended_by(stream, command_id) if stable else None
                if earlier is None:
                    raise
                return earlier
            if not events:
                return None
            now = self.clock()
            batch = [
                NewEvent(
                    event_id=event_id(command_id, index),
                    type=event_type(event),
                    schema_version=event_version(event),
                    data=encode_event(event),
                    recorded_at=now,
                    metadata=metadata,
                )
                for index, event in enumerate(events)
            ]
            try:
                result = self.store.append(stream, batch, expected_version=expected)
            except ConcurrencyError:
                continue
            self._remember((id(decider), stream), result.stream_version, state)
            return result
        raise ConcurrencyError(f"stream {stream} kept changing; gave up after {MAX_ATTEMPTS} attempts")

    def _appended_by(self, stream: str, command_id: str) -> AppendResult | None:
        """What the command's earlier run appended to ``stream``, if it ran before."""
        mine = [record for record in self.store.read_stream(stream) if record.metadata.command_id == command_id]
        return AppendResult(mine[-1].version, mine[-1].position) if mine else None


def stream_name(kind: str, aggregate_id: str) -> str:
    return f"{kind}-{aggregate_id}"
