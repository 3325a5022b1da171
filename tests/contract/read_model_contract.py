"""The read-side contract: one abstract suite for a read-model store, its queries and its lexical index,
subclassed once per engine (SQLite today; Postgres next).

A subclass provides ``make_read_side`` (an empty store with its queries and lexical index, all on one engine).
The events come through a real event log (embedded SQLite) and the real projection runner, as in the server,
so "a rebuild from the log equals the live read models" is checked the way ``parley replay`` will do it.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

import msgspec
import pytest

from adapters.sqlite.event_store import SQLiteEventStore
from domain import events as ev
from domain.ports import (
    ANY_VERSION,
    NO_METADATA,
    EventMetadata,
    EventStore,
    LexicalIndex,
    NewEvent,
    ReadModelQueries,
    ReadModelStore,
    RecordedEvent,
)
from domain.views import ChunkView, CollectionView, LexicalHit, TemplateView
from projections.read_model_projection import ReadModelProjection
from projections.runner import ProjectionRunner

START = datetime(2026, 3, 4, 9, 0, tzinfo=UTC)


class ReadSide(Protocol):
    store: ReadModelStore
    queries: ReadModelQueries
    lexical: LexicalIndex


@dataclass
class Live:
    store: ReadModelStore
    queries: ReadModelQueries
    lexical: LexicalIndex
    sync: Callable[[], None]  # waits until the projection has applied the whole log


class Log:
    """An event log to feed the read side, with one clock tick per event."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self.ticks = 0

    def append(self, stream: str, *events: ev.Event, metadata: EventMetadata = NO_METADATA) -> int:
        new = []
        for event in events:
            self.ticks += 1
            new.append(
                NewEvent(
                    event_id=str(uuid.uuid4()),
                    type=ev.event_type(event),
                    schema_version=ev.event_version(event),
                    data=ev.encode_event(event),
                    recorded_at=START + timedelta(seconds=self.ticks),
                    metadata=metadata,
                )
            )
        return self.store.append(stream, new, ANY_VERSION).commit_position


def decoded(records: Sequence[RecordedEvent]) -> list[tuple[RecordedEvent, ev.AnyEvent]]:
    return [(r, ev.decode_recorded(r.type, r.schema_version, r.data)) for r in records]


def chunk(ordinal: int, text: str, page: int = 1) -> ev.Chunk:
    return ev.Chunk(
        ordinal=ordinal,
        text=text,
        pages=(page,),
        start=0,
        end=len(text),
        content_hash=text[:8],
        token_count=len(text.split()),
    )


def collection_created(collection_id: str, name: str) -> ev.CollectionCreated:
    return ev.CollectionCreated(
        collection_id=collection_id,
        name=name,
        description=f"about {name}",
        embedding_model="all-MiniLM-L6-v2",
        settings=ev.CollectionSettings(),
        chat_settings=ev.ChatSettings(llm="extractive"),
        rag_type=None,
        owner="ana",
    )


def ingested(collection_id: str, document_id: str, name: str, *texts: str) -> ev.DocumentIngested:
    return ev.DocumentIngested(
        document_id=document_id,
        collection_id=collection_id,
        upload_id=f"up-{document_id}",
        job_id="job-1",
        name=name,
        type="txt",
        size=sum(len(t) for t in texts),
        content_hash=f"hash-{document_id}",
        page_count=len(texts),
        chunks=tuple(chunk(i, t, i + 1) for i, t in enumerate(texts)),
        metadata={"k": 1},
        owner="ana",
    )


def answer(session_id: str, message_id: str, reply_to: str, collection_id: str) -> ev.AnswerGenerated:
    reference = ev.Reference(
        collection_id=collection_id,
        document_id="lighthouse",
        document_name="light.txt",
        chunk_ordinal=1,
        chunk_id=2,
        pages=(2,),
        score=0.8,
        content="decommissioned in 1987",
    )
    return ev.AnswerGenerated(
        session_id=session_id,
        message_id=message_id,
        reply_to=reply_to,
        text="In 1987 [1].",
        references=(reference,),
        rag_type="rag",
        llm="extractive",
        llm_args={"temperature": 0},
        template_id=None,
        template_version=None,
        prompt_raw="prompt",
        usage={"llm_calls": 1},
        timings={},
        llm_only=None,
        hyde1=None,
        self_reflection="ok",
    )


class ReadModelContract:
    def make_read_side(self, directory: Path) -> ReadSide:
        raise NotImplementedError("each engine's test class provides its read side")

    @pytest.fixture
    def log(self, tmp_path: Path) -> Iterator[Log]:
        store = SQLiteEventStore(tmp_path / "events.sqlite3")
        yield Log(store)
        store.close()

    @pytest.fixture
    def live(self, tmp_path: Path, log: Log) -> Iterator[Live]:
        """A read side kept by a running projection, as in the server."""
        side = self.make_read_side(tmp_path / "live")
        runner = ProjectionRunner(log.store, ReadModelProjection(side.store))
        runner.start()
        yield Live(side.store, side.queries, side.lexical, lambda: runner.wait_for(log.store.head_position(), 10))
        runner.stop()
        side.store.close()

    def library(self, log: Log) -> dict[str, str]:
        """Two collections, three documents, a chat with an answer, a job and a key: every read model."""
        light, cider = "col-light", "col-cider"
        log.append(f"collection-{light}", collection_created(light, "Lighthouses"))
        log.append(f"collection-{cider}", collection_created(cider, "Cider"))
        log.append(
            "upload-up-lighthouse",
            ev.UploadReceived(upload_id="up-lighthouse", filename="light.txt", size=80, content_hash="h", owner="ana"),
        )
        log.append(
            "document-lighthouse",
            ingested(
                light,
                "lighthouse",
                "light.txt",
                "Kestrel Point is a rocky headland.",
                "The lighthouse was decommissioned in 1987 by the board.",
            ),
        )
        log.append("document-keeper", ingested(light, "keeper", "keeper.txt", "Morwenna kept the logbook."))
        log.append("document-orchard", ingested(cider, "orchard", "orchard.txt", "Forty varieties of cider apple."))
        log.append(
            "document-orchard",
            ev.DocumentQuestionsSuggested(
                document_id="orchard", collection_id=cider, questions=("How many?", "Which?"), llm="m"
            ),
        )
        log.append(
            "document-orchard",
            ev.DocumentSummarized(document_id="orchard", collection_id=cider, summary="Apples.", llm="m"),
        )
        session = "chat-1"
        log.append(
            f"chat-{session}", ev.ChatSessionCreated(session_id=session, collection_id=light, name=None, owner="ana")
        )
        log.append(
            f"chat-{session}",
            ev.QuestionAsked(session_id=session, message_id="q1", text="When?", username="ana"),
            answer(session, "a1", "q1", light),
        )
        log.append(
            "job-job-1",
            ev.JobStarted(
                job_id="job-1",
                kind="ingest",
                name="Ingest",
                collection_id=light,
                items=("up-lighthouse", "up-keeper"),
                timeout=None,
                owner="ana",
            ),
        )
        log.append(
            "job-job-1",
            ev.JobItemFinished(
                job_id="job-1", item_id="up-lighthouse", status="completed", document_id="lighthouse", error=None
            ),
            ev.JobItemFinished(
                job_id="job-1", item_id="up-keeper", status="failed", document_id=None, error="keeper.txt: unreadable"
            ),
            ev.JobFinished(job_id="job-1", status="completed"),
        )
        log.append(
            "apikey-k1",
            ev.ApiKeyCreated(
                key_id="k1",
                name="admin",
                username="ana",
                secret_hash="s3cret",
                hint="abcd",
                collection_id=None,
                is_admin=True,
            ),
        )
        ana, bob = EventMetadata(actor="ana", key_id="k1"), EventMetadata(actor="bob", key_id="k2")
        terse = ev.TemplateFields(name="Terse", description="One line", system_prompt="Answer in one sentence.")
        log.append("template-t1", ev.TemplateCreated(template_id="t1", fields=terse, owner="ana"), metadata=ana)
        log.append(
            "template-t1",
            ev.TemplateUpdated(
                template_id="t1", changed=ev.TemplateFields(system_prompt="Be brief.", lang="en"), version=2
            ),
            metadata=bob,
        )
        formal = ev.TemplateFields(name="Formal", description="For the board", default_sample_questions=("Why?",))
        log.append("template-t2", ev.TemplateCreated(template_id="t2", fields=formal, owner="bob"), metadata=bob)
        log.append(
            "template-t2",
            ev.TemplateUpdated(template_id="t2", changed=ev.TemplateFields(), cleared=("description",), version=2),
            metadata=bob,
        )
        gone = ev.TemplateFields(name="Gone")
        log.append("template-t3", ev.TemplateCreated(template_id="t3", fields=gone, owner="ana"), metadata=ana)
        log.append("template-t3", ev.TemplateDeleted(template_id="t3"), metadata=ana)
        return {"light": light, "cider": cider, "session": session}

    # --- what the queries return -----------------------------------------------------------------------------

    def test_collections_are_typed_counted_and_sorted(self, live: Live, log: Log) -> None:
        ids = self.library(log)
        live.sync()
        light = live.queries.collection(ids["light"])
        assert isinstance(light, CollectionView) and light.name == "Lighthouses" and light.owner == "ana"
        assert light.document_count == 2 and light.sessions_count == 1 and light.next_chunk_id == 4
        assert light.created_at.tzinfo is not None and light.updated_at >= light.created_at
        assert live.queries.collection("nope") is None and live.queries.collection_count() == 2
        by_name = live.queries.collections(0, 10, "name", True)
        assert [c.name for c in by_name] == ["Cider", "Lighthouses"]
        assert [c.name for c in live.queries.collections(1, 10, "name", True)] == ["Lighthouses"]
        # An unknown sort column falls back to updated_at, never into the query text.
        assert len(live.queries.collections(0, 10, "name; DROP TABLE collections", False)) == 2

    def test_documents_chunks_and_uploads(self, live: Live, log: Log) -> None:
        ids = self.library(log)
        live.sync()
        docs = live.queries.documents(0, 10, collection_id=ids["light"], sort_column="name", ascending=True)
        assert [d.name for d in docs] == ["keeper.txt", "light.txt"] and docs[1].page_count == 2
        assert live.queries.document_count(ids["light"]) == 2 and live.queries.document_count() == 3
        assert live.queries.document("orchard").summary == "Apples."  # type: ignore[union-attr]
        assert live.queries.documents_from_uploads(ids["light"], ["up-lighthouse", "up-x"]) == {
            "up-lighthouse": "lighthouse"
        }
        assert live.queries.upload("up-lighthouse").filename == "light.txt"  # type: ignore[union-attr]
        found = live.queries.chunks_by_position([("lighthouse", 1), ("keeper", 0), ("gone", 0)])
        assert set(found) == {("lighthouse", 1), ("keeper", 0)}
        second = found[("lighthouse", 1)]
        assert isinstance(second, ChunkView) and second.document_name == "light.txt" and second.pages == "2"
        assert "decommissioned" in second.text and second.chunk_id == 2
        listed = live.queries.collection_chunks(ids["light"], 10)
        assert [(c.document_name, c.ordinal) for c in listed] == [("keeper.txt", 0), ("light.txt", 0), ("light.txt", 1)]
        assert live.queries.chunk_totals(ids["light"]) == (3, sum(c.token_count for c in listed))
        assert live.queries.suggested_questions(ids["cider"], 5) == ["How many?", "Which?"]

    def test_chat_sessions_messages_and_references(self, live: Live, log: Log) -> None:
        ids = self.library(log)
        live.sync()
        session = live.queries.chat_session(ids["session"])
        assert session.collection_name == "Lighthouses" and session.latest_message_content == "In 1987 [1]."
        assert [s.id for s in live.queries.chat_sessions(0, 10, collection_id=ids["light"])] == [ids["session"]]
        assert live.queries.chat_session_count() == 1 and live.queries.chat_session_count(ids["cider"]) == 0
        question, reply = live.queries.messages(ids["session"])
        assert (question.id, question.reply_to, question.username) == ("q1", None, "ana")
        assert (reply.reply_to, reply.total_references, reply.self_reflection) == ("q1", 1, "ok")
        assert question.seq < reply.seq and live.queries.message("a1") == reply
        (reference,) = live.queries.references("a1")
        assert (reference.rank, reference.document_id, reference.pages, reference.score) == (0, "lighthouse", "2", 0.8)

    def test_jobs_and_keys(self, live: Live, log: Log) -> None:
        self.library(log)
        live.sync()
        job = live.queries.job("job-1")
        assert (job.status, job.items_total, job.items_completed, job.items_failed) == ("completed", 2, 1, 1)
        assert [i.status for i in live.queries.job_items("job-1")] == ["completed", "failed"]
        assert [j.id for j in live.queries.jobs()] == ["job-1"] and live.queries.jobs(owner="bob") == []
        key = live.queries.api_key_by_hash("s3cret")
        assert key.is_admin is True and key.active is True and live.queries.api_key_count() == 1
        log.append("apikey-k1", ev.ApiKeyDeactivated(key_id="k1"))
        live.sync()
        assert live.queries.api_key_by_hash("s3cret").active is False

    def test_prompt_templates_keep_their_latest_text_and_every_version(self, live: Live, log: Log) -> None:
        self.library(log)
        live.sync()
        terse = live.queries.template("t1")
        assert isinstance(terse, TemplateView) and (terse.name, terse.lang, terse.version) == ("Terse", "en", 2)
        assert msgspec.json.decode(terse.fields) == {
            "name": "Terse",
            "description": "One line",
            "lang": "en",
            "system_prompt": "Be brief.",
        }
        assert terse.owner == "ana" and terse.updated_at > terse.created_at
        formal = live.queries.template("t2")
        assert formal is not None and formal.description is None and formal.version == 2
        assert msgspec.json.decode(formal.fields) == {"name": "Formal", "default_sample_questions": ["Why?"]}
        # A deleted template is gone from every read, its versions with it.
        assert live.queries.template("t3") is None and live.queries.template_versions("t3") == []
        assert live.queries.template_count() == 2
        assert [t.id for t in live.queries.templates(0, 10, "name", True)] == ["t2", "t1"]
        assert [t.id for t in live.queries.templates(1, 10, "name", True)] == ["t1"]
        assert [t.id for t in live.queries.templates(0, 1, "updated_at", False)] == ["t2"]
        assert [t.id for t in live.queries.templates(0, 10, "name; DROP TABLE prompt_templates", True)] == ["t1", "t2"]
        # The filter looks at name, description and language, in any case, with LIKE's wildcards as plain text.
        assert [t.id for t in live.queries.templates(0, 10, "name", True, "ONE LINE")] == ["t1"]
        assert [t.id for t in live.queries.templates(0, 10, "name", True, "en")] == ["t1"]
        assert live.queries.templates(0, 10, "name", True, "%") == [] and live.queries.template_count("_") == 0
        assert live.queries.template_count("form") == 1
        first, second = live.queries.template_versions("t1")
        assert (first.version, first.actor, first.key_id) == (1, "ana", "k1")
        assert (second.version, second.actor, second.key_id) == (2, "bob", "k2")
        assert msgspec.json.decode(first.changed) == ["description", "name", "system_prompt"]
        assert msgspec.json.decode(second.changed) == ["lang", "system_prompt"]
        assert msgspec.json.decode(first.fields)["system_prompt"] == "Answer in one sentence."
        assert msgspec.json.decode(second.fields)["system_prompt"] == "Be brief."
        assert second.created_at > first.created_at
        cleared = live.queries.template_versions("t2")[1]
        assert msgspec.json.decode(cleared.changed) == ["description"]
        assert "description" not in msgspec.json.decode(cleared.fields)

    def test_templates_attach_to_collections_and_sessions(self, live: Live, log: Log) -> None:
        ids = self.library(log)
        light, session = ids["light"], ids["session"]
        settings = ev.ChatSettings(llm="extractive", rag_config={"system_prompt": "Be kind."})
        log.append(
            f"collection-{light}",
            ev.CollectionTemplateAttached(collection_id=light, template_id="t1"),
            ev.CollectionChatSettingsReplaced(collection_id=light, chat_settings=settings),
        )
        log.append(f"chat-{session}", ev.ChatSessionTemplateAttached(session_id=session, template_id="t2"))
        made = msgspec.structs.replace(
            answer(session, "a2", "q2", light), template_id="t2", template_version=2, prompt_raw="<|user|>\nWhen?"
        )
        log.append(
            f"chat-{session}",
            ev.QuestionAsked(session_id=session, message_id="q2", text="When?", username="ana"),
            made,
        )
        live.sync()
        collection = live.queries.collection(light)
        assert collection is not None and collection.prompt_template_id == "t1"
        assert msgspec.json.decode(collection.chat_settings, type=ev.ChatSettings) == settings
        chat = live.queries.chat_session(session)
        assert chat is not None and chat.prompt_template_id == "t2"
        # The prompt_raw meta is headed by the template that made it; an answer from before templates is not.
        assert [m.prompt_raw for m in live.queries.messages(session) if m.reply_to] == [
            "prompt",
            "<|template|>\nt2 version 2\n\n<|user|>\nWhen?",
        ]
        # Deleting a template detaches it everywhere; detaching leaves no template.
        log.append("template-t2", ev.TemplateDeleted(template_id="t2"))
        log.append(f"collection-{light}", ev.CollectionTemplateDetached(collection_id=light))
        live.sync()
        assert live.queries.chat_session(session).prompt_template_id is None  # type: ignore[union-attr]
        assert live.queries.collection(light).prompt_template_id is None  # type: ignore[union-attr]
        log.append(f"chat-{session}", ev.ChatSessionTemplateAttached(session_id=session, template_id="t1"))
        log.append(f"chat-{session}", ev.ChatSessionTemplateDetached(session_id=session))
        live.sync()
        assert live.queries.chat_session(session).prompt_template_id is None  # type: ignore[union-attr]

    def test_removals_reach_every_read_model_and_the_lexical_index(self, live: Live, log: Log) -> None:
        ids = self.library(log)
        live.sync()
        assert {h.document_id for h in live.lexical.search(ids["light"], ["decommissioned"], 10)} == {"lighthouse"}
        log.append("document-lighthouse", ev.DocumentRemoved(document_id="lighthouse", collection_id=ids["light"]))
        log.append(f"chat-{ids['session']}", ev.ChatSessionDeleted(session_id=ids["session"]))
        live.sync()
        assert live.lexical.search(ids["light"], ["decommissioned"], 10) == []
        assert live.queries.chunks_by_position([("lighthouse", 1)]) == {}
        light = live.queries.collection(ids["light"])
        assert light.document_count == 1 and light.sessions_count == 0
        assert live.queries.references("a1") == [] and live.queries.message("a1") is None
        # Its owner's deletion must still find it, to erase it, until it is erased.
        assert live.queries.owned_ids("ana")["chat"] == [ids["session"]]
        log.append(f"chat-{ids['session']}", ev.ChatSessionErased(session_id=ids["session"]))
        live.sync()
        assert live.queries.owned_ids("ana")["chat"] == []
        log.append(f"collection-{ids['cider']}", ev.CollectionDeleted(collection_id=ids["cider"]))
        live.sync()
        assert live.queries.document("orchard") is None and live.queries.suggested_questions(ids["cider"], 5) == []
        assert live.lexical.search(ids["cider"], ["cider"], 10) == []

    # --- the lexical index ---------------------------------------------------------------------------------

    def test_lexical_search_ranks_within_a_collection(self, live: Live, log: Log) -> None:
        ids = self.library(log)
        live.sync()
        hits = live.lexical.search(ids["light"], ["lighthouse", "decommissioned", "logbook"], 10)
        assert all(isinstance(h, LexicalHit) for h in hits) and hits[0] == max(hits, key=lambda h: h.score)
        assert (hits[0].document_id, hits[0].ordinal) == ("lighthouse", 1)  # two of the terms
        assert {h.document_id for h in hits} == {"lighthouse", "keeper"}
        assert live.lexical.search(ids["cider"], ["lighthouse"], 10) == []  # another collection's words
        assert live.lexical.search(ids["light"], [], 10) == []
        assert len(live.lexical.search(ids["light"], ["lighthouse", "logbook"], 1)) == 1

    def test_query_syntax_in_terms_is_matched_as_words(self, live: Live, log: Log) -> None:
        ids = self.library(log)
        live.sync()
        for term in ['"', "NEAR(", "AND", "*", "rocky OR", "col:x", "^1987"]:
            assert isinstance(live.lexical.search(ids["light"], [term], 5), list)

    # --- checkpoints and rebuilds --------------------------------------------------------------------------

    def test_a_page_and_its_checkpoint_are_one_transaction(self, tmp_path: Path, log: Log) -> None:
        side = self.make_read_side(tmp_path / "atomic")
        try:
            self.library(log)
            records = log.store.read_all()
            page = decoded(records[:3])
            side.store.apply("read_models", page)
            assert side.store.checkpoint("read_models") == records[2].position
            # A page that fails half way leaves neither its changes nor its checkpoint.
            bad = [(records[3], page[0][1])]  # creates the first collection again: a primary key conflict
            with pytest.raises(Exception):  # noqa: B017 - the engine's own integrity error
                side.store.apply("read_models", decoded(records[3:5]) + bad)
            assert side.store.checkpoint("read_models") == records[2].position
            assert side.queries.document("lighthouse") is None
            side.store.save_checkpoint("vector_index", 42)
            assert side.store.checkpoint("vector_index") == 42 and side.store.checkpoint("other") == 0
        finally:
            side.store.close()

    def test_a_snapshot_and_its_checkpoint_agree_while_the_projector_writes(self, live: Live, log: Log) -> None:
        """``parley replay --verify`` folds the log up to the snapshot's checkpoint: a page committed between
        reading the two would show as a difference that the log does not have."""
        stop = threading.Event()
        folded = [0]  # the last snapshot's position, written by the reading thread

        def create_collections() -> None:
            # In batches, each waiting until a snapshot has folded it: on a loaded machine a free-running writer
            # can finish before a second snapshot is read, and the test would then check nothing concurrent.
            for batch in range(20):
                for number in range(batch * 20, batch * 20 + 20):
                    log.append(f"collection-c{number}", collection_created(f"c{number}", f"Collection {number}"))
                deadline = time.monotonic() + 30
                while folded[0] < batch * 20 + 20 and not stop.is_set() and time.monotonic() < deadline:
                    time.sleep(0.001)
                if stop.is_set():
                    return

        writer = threading.Thread(target=create_collections)
        writer.start()
        try:
            seen = set()
            while writer.is_alive():
                position, tables = live.store.snapshot("read_models")
                # Each event is at its own position and creates one collection: so many rows, so far folded.
                assert len(tables["collections"]) == position
                seen.add(position)
                folded[0] = position
        finally:
            stop.set()
            writer.join()
        assert len(seen) >= 20  # a snapshot was taken after each batch had landed, others while pages landed

    def test_a_rebuild_from_the_log_equals_the_live_read_models(self, tmp_path: Path, live: Live, log: Log) -> None:
        ids = self.library(log)
        log.append("document-keeper", ev.DocumentRemoved(document_id="keeper", collection_id=ids["light"]))
        log.append(
            f"collection-{ids['light']}",
            ev.CollectionUpdated(collection_id=ids["light"], name="Lights", description="", rag_type="hyde1"),
        )
        log.append(f"chat-{ids['session']}", ev.ChatSessionRenamed(session_id=ids["session"], name="Kestrel"))
        log.append(
            f"chat-{ids['session']}", ev.ChatSessionTemplateAttached(session_id=ids["session"], template_id="t2")
        )
        log.append(
            f"collection-{ids['light']}", ev.CollectionTemplateAttached(collection_id=ids["light"], template_id="t1")
        )
        live.sync()
        rebuilt = self.make_read_side(tmp_path / "rebuilt")
        try:
            records = log.store.read_all()
            for first in range(0, len(records), 4):  # other page boundaries than the live runner's
                rebuilt.store.apply("read_models", decoded(records[first : first + 4]))
            assert rebuilt.store.snapshot("read_models") == live.store.snapshot("read_models")
            assert rebuilt.queries.collections(0, 10, "name", True) == live.queries.collections(0, 10, "name", True)
            assert rebuilt.queries.messages(ids["session"]) == live.queries.messages(ids["session"])
            assert rebuilt.queries.chat_session(ids["session"]).name == "Kestrel"  # type: ignore[union-attr]
            assert rebuilt.queries.templates(0, 10, "name", True) == live.queries.templates(0, 10, "name", True)
            assert rebuilt.queries.template_versions("t1") == live.queries.template_versions("t1")
            terms = ["lighthouse", "cider", "logbook"]
            assert rebuilt.lexical.search(ids["light"], terms, 10) == live.lexical.search(ids["light"], terms, 10)
        finally:
            rebuilt.store.close()
