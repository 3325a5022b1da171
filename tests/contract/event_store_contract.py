"""The event store contract: one abstract suite, subclassed once per adapter (SQLite, Postgres, KurrentDB).

A subclass provides ``make_store`` (a fresh, empty store); every test here must pass for every adapter.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from domain.errors import ConcurrencyError, DuplicateEventError
from domain.ports import ANY_VERSION, NO_METADATA, NO_STREAM, EventMetadata, EventStore, NewEvent, RecordedEvent


def new_event(
    data: bytes = b'{"n":1}',
    event_id: str | None = None,
    type_: str = "Happened",
    metadata: EventMetadata = NO_METADATA,
) -> NewEvent:
    return NewEvent(
        event_id=event_id or str(uuid.uuid4()),
        type=type_,
        schema_version=1,
        data=data,
        recorded_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        metadata=metadata,
    )


def stream() -> str:
    return f"test-{uuid.uuid4()}"


class EventStoreContract:
    def make_store(self) -> EventStore:
        raise NotImplementedError("each adapter's test class provides its store")

    @pytest.fixture
    def store(self) -> Iterator[EventStore]:
        store = self.make_store()
        yield store
        store.close()

    def test_first_append_creates_the_stream_at_version_zero(self, store: EventStore) -> None:
        name = stream()
        before = store.head_position()
        result = store.append(name, [new_event(), new_event()], NO_STREAM)
        assert result.stream_version == 1
        assert result.commit_position > before
        recorded = store.read_stream(name)
        assert [r.version for r in recorded] == [0, 1]
        assert recorded[-1].position == result.commit_position == store.head_position()

    def test_metadata_comes_back_as_it_was_appended(self, store: EventStore) -> None:
        name = stream()
        stamped = EventMetadata(
            actor="ann", key_id="k-1", command_id=str(uuid.uuid4()), correlation_id="req-7", causation_id="req-7"
        )
        store.append(name, [new_event(metadata=stamped), new_event()], NO_STREAM)
        first, second = store.read_stream(name)
        assert first.metadata == stamped
        assert second.metadata == NO_METADATA
        assert [r.metadata for r in store.read_all() if r.stream == name] == [stamped, NO_METADATA]

    def test_read_stream_up_to_a_version(self, store: EventStore) -> None:
        name = stream()
        store.append(name, [new_event() for _ in range(5)], NO_STREAM)
        assert [r.version for r in store.read_stream(name, to_version=2)] == [0, 1, 2]
        assert [r.version for r in store.read_stream(name, from_version=1, to_version=3)] == [1, 2, 3]
        assert store.read_stream(name, from_version=3, to_version=2) == []
        assert [r.version for r in store.read_stream(name, to_version=99)] == [0, 1, 2, 3, 4]

    def test_round_trip_keeps_every_field(self, store: EventStore) -> None:
        name, event = stream(), new_event(b'{"text":"h\\u00e9llo"}', type_="Greeted")
        store.append(name, [event], NO_STREAM)
        (recorded,) = store.read_stream(name)
        assert (recorded.event_id, recorded.type, recorded.schema_version, recorded.data) == (
            event.event_id,
            "Greeted",
            1,
            event.data,
        )
        assert recorded.recorded_at == event.recorded_at
        assert recorded.stream == name

    def test_expected_version_must_hold(self, store: EventStore) -> None:
        name = stream()
        store.append(name, [new_event()], NO_STREAM)
        with pytest.raises(ConcurrencyError):
            store.append(name, [new_event()], NO_STREAM)
        with pytest.raises(ConcurrencyError):
            store.append(name, [new_event()], 5)
        with pytest.raises(ConcurrencyError):
            store.append(stream(), [new_event()], 0)
        assert store.append(name, [new_event()], 0).stream_version == 1
        assert len(store.read_stream(name)) == 2

    def test_any_version_appends_whatever_the_stream_holds(self, store: EventStore) -> None:
        name = stream()
        assert store.append(name, [new_event()], ANY_VERSION).stream_version == 0
        assert store.append(name, [new_event()], ANY_VERSION).stream_version == 1

    def test_a_failed_append_writes_nothing(self, store: EventStore) -> None:
        name = stream()
        store.append(name, [new_event()], NO_STREAM)
        head = store.head_position()
        with pytest.raises(ConcurrencyError):
            store.append(name, [new_event(), new_event()], 7)
        assert store.head_position() == head
        assert len(store.read_stream(name)) == 1

    def test_reappending_the_same_event_ids_is_idempotent(self, store: EventStore) -> None:
        name = stream()
        events = [new_event(), new_event()]
        first = store.append(name, events, NO_STREAM)
        again = store.append(name, events, NO_STREAM)
        assert again == first
        assert len(store.read_stream(name)) == 2

    def test_an_event_id_cannot_appear_in_two_places(self, store: EventStore) -> None:
        event = new_event()
        store.append(stream(), [event], NO_STREAM)
        with pytest.raises(DuplicateEventError):
            store.append(stream(), [event], NO_STREAM)

    def test_read_stream_from_a_version(self, store: EventStore) -> None:
        name = stream()
        store.append(name, [new_event(f'{{"n":{i}}}'.encode()) for i in range(5)], NO_STREAM)
        assert [r.version for r in store.read_stream(name, from_version=3)] == [3, 4]
        assert store.read_stream(stream()) == []

    def test_read_all_is_in_commit_order_across_streams(self, store: EventStore) -> None:
        start = store.head_position()
        a, b = stream(), stream()
        store.append(a, [new_event()], NO_STREAM)
        store.append(b, [new_event(), new_event()], NO_STREAM)
        store.append(a, [new_event()], 0)
        recorded = store.read_all(after_position=start)
        assert [(r.stream, r.version) for r in recorded] == [(a, 0), (b, 0), (b, 1), (a, 1)]
        positions = [r.position for r in recorded]
        assert positions == sorted(positions) and len(set(positions)) == 4
        assert [r.position for r in store.read_all(after_position=positions[1], limit=2)] == positions[2:4]

    def test_concurrent_writers_to_one_stream_never_share_a_version(self, store: EventStore) -> None:
        name = stream()
        store.append(name, [new_event()], NO_STREAM)
        outcomes: list[str] = []

        def write() -> None:
            try:
                store.append(name, [new_event()], 0)
                outcomes.append("ok")
            except ConcurrencyError:
                outcomes.append("conflict")

        threads = [threading.Thread(target=write) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(outcomes) == ["conflict"] * 7 + ["ok"]
        assert [r.version for r in store.read_stream(name)] == [0, 1]

    def test_batches_from_concurrent_writers_never_interleave(self, store: EventStore) -> None:
        start = store.head_position()
        names = [stream() for _ in range(4)]

        def write(name: str) -> None:
            for _ in range(5):
                store.append(name, [new_event() for _ in range(10)], ANY_VERSION)

        threads = [threading.Thread(target=write, args=(name,)) for name in names]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        recorded = store.read_all(after_position=start, limit=1000)
        assert len(recorded) == 200
        for first in range(0, 200, 10):
            batch = recorded[first : first + 10]
            assert len({r.stream for r in batch}) == 1, "a batch was interleaved with another writer's events"

    def test_subscription_catches_up_then_goes_live(self, store: EventStore) -> None:
        start = store.head_position()
        name = stream()
        store.append(name, [new_event(), new_event()], NO_STREAM)
        received: list[RecordedEvent] = []
        arrived = threading.Event()
        subscription = store.subscribe(after_position=start)

        def consume() -> None:
            for page in subscription:
                received.extend(page)
                if len(received) >= 3:
                    arrived.set()

        thread = threading.Thread(target=consume, daemon=True)
        thread.start()
        time.sleep(0.2)
        assert [r.version for r in received] == [0, 1]
        appended_at = time.monotonic()
        store.append(name, [new_event()], 1)
        assert arrived.wait(5), "the live event never arrived"
        latency = time.monotonic() - appended_at
        subscription.close()
        thread.join(5)
        assert not thread.is_alive(), "closing the subscription did not end its iteration"
        assert [r.version for r in received] == [0, 1, 2]
        assert latency < self.live_latency_bound(), f"live delivery took {latency:.3f}s: a poll, not a wake-up"

    def live_latency_bound(self) -> float:
        return 0.5

    def test_subscription_from_a_position_skips_what_came_before(self, store: EventStore) -> None:
        name = stream()
        first = store.append(name, [new_event()], NO_STREAM)
        store.append(name, [new_event()], 0)
        subscription = store.subscribe(after_position=first.commit_position)
        page: list[Any] = next(iter(subscription))
        subscription.close()
        assert [r.version for r in page if r.stream == name] == [1]
