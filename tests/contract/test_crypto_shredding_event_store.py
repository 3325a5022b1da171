"""CryptoShreddingEventStore over real event stores: the event-store contract still holds through the decorator
(SQLite), and, on SQLite and a real PostgreSQL 18, personal fields are stored sealed, read back byte for byte, and
read as ``[erased]`` once their session's key is forgotten, with the rest of each event intact."""

from __future__ import annotations

import base64
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest

from adapters.crypto_shredding import SEALED_MEMBER, CryptoShreddingEventStore
from adapters.postgres.event_store import PostgresEventStore
from adapters.postgres.subject_keys import PostgresSubjectKeyStore
from adapters.sqlite.event_store import SQLiteEventStore
from adapters.sqlite.subject_keys import SQLiteSubjectKeyStore
from domain import chat
from domain import events as ev
from domain.errors import Erased, EventStoreError
from domain.ports import NO_STREAM, NewEvent
from domain.service import CommandHandler
from tests.contract.event_store_contract import EventStoreContract

SECRET_QUESTION = "Does my biopsy from 12 March show melanoma?"
SECRET_NAME = "Ann's oncology questions"


class TestSQLiteEventStoreThroughTheDecorator(EventStoreContract):
    @pytest.fixture(autouse=True)
    def _directory(self, tmp_path: Path) -> None:
        self.directory = tmp_path

    def make_store(self) -> CryptoShreddingEventStore:
        return CryptoShreddingEventStore(
            SQLiteEventStore(self.directory / "events.sqlite3"), SQLiteSubjectKeyStore(self.directory / "keys.sqlite3")
        )


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CryptoShreddingEventStore]:
    if request.param == "sqlite":
        sealed = CryptoShreddingEventStore(
            SQLiteEventStore(tmp_path / "events.sqlite3"), SQLiteSubjectKeyStore(tmp_path / "keys.sqlite3")
        )
    else:
        url = request.getfixturevalue("postgres_url")
        sealed = CryptoShreddingEventStore(PostgresEventStore(url), PostgresSubjectKeyStore(url))
    yield sealed
    sealed.close()


def a_session(store: CryptoShreddingEventStore, session_id: str) -> list[bytes]:
    """A session with a name, a question, an answer and feedback, through the command handler; what it encoded."""
    handler = CommandHandler(store)
    stream = f"chat-{session_id}"
    handler.execute(chat, stream, chat.CreateChatSession(session_id=session_id, collection_id="c1", name=SECRET_NAME,
                                                         owner="ann"))  # fmt: skip
    handler.execute(chat, stream, chat.AskQuestion(session_id=session_id, message_id="q1", text=SECRET_QUESTION,
                                                   username="ann"))  # fmt: skip
    answer = ev.AnswerGenerated(
        session_id=session_id, message_id="a1", reply_to="q1", text="No melanoma was found [1].",
        references=(ev.Reference(collection_id="c1", document_id="d1", document_name="report.pdf", chunk_ordinal=0,
                                 chunk_id=7, pages=(2,), score=0.91, content="Biopsy: benign naevus."),),
        rag_type="rag", llm="extractive", llm_args={"temperature": 0.0}, template_id=None, template_version=None,
        prompt_raw=f"<|user|>\n{SECRET_QUESTION}", usage={"llm_calls": 1}, timings={"total": 0.03},
    )  # fmt: skip
    handler.execute(chat, stream, chat.RecordAnswer(answer=answer))
    handler.execute(chat, stream, chat.GiveAnswerFeedback(session_id=session_id, message_id="a1",
                                                          user_comment="Thank you, Ann Smith"))  # fmt: skip
    return [
        ev.encode_event(event) for event in [ev.decode_recorded(r.type, 1, r.data) for r in store.read_stream(stream)]
    ]


def test_personal_fields_are_stored_sealed_and_read_back_byte_for_byte(store: CryptoShreddingEventStore) -> None:
    session_id = str(uuid.uuid4())
    a_session(store, session_id)
    stored = store.inner.read_stream(f"chat-{session_id}")
    raw = b"".join(record.data for record in stored)
    for secret in (SECRET_QUESTION, SECRET_NAME, "No melanoma", "Ann Smith"):
        assert secret.encode() not in raw, secret
    assert b"Biopsy: benign naevus." in raw  # the cited chunk is the document's text, not the person's
    asked = msgspec.json.decode(stored[1].data)
    assert asked["text"] == "[encrypted]" and asked["username"] == "ann"
    assert asked[SEALED_MEMBER]["subject"] == session_id and asked[SEALED_MEMBER]["fields"] == ["text"]
    opened = store.read_stream(f"chat-{session_id}")
    question = ev.decode_recorded(opened[1].type, 1, opened[1].data)
    assert opened[1].data == ev.encode_event(question)  # exactly the bytes the handler encoded
    assert isinstance(question, ev.QuestionAsked) and question.text == SECRET_QUESTION
    assert [r.data for r in store.read_all() if r.stream == f"chat-{session_id}"] == [r.data for r in opened]


def test_with_the_key_forgotten_the_fields_read_erased_and_the_rest_stays(store: CryptoShreddingEventStore) -> None:
    erased, kept = str(uuid.uuid4()), str(uuid.uuid4())
    a_session(store, erased)
    kept_events = a_session(store, kept)
    before = store.read_stream(f"chat-{erased}")
    assert store.keys.forget([erased]) == [erased]
    after = store.read_stream(f"chat-{erased}")
    assert [(r.event_id, r.type, r.version, r.position, r.recorded_at, r.metadata) for r in after] == [
        (r.event_id, r.type, r.version, r.position, r.recorded_at, r.metadata) for r in before
    ]
    created, asked, answered, feedback = (ev.decode_recorded(r.type, 1, r.data) for r in after)
    assert isinstance(created, ev.ChatSessionCreated) and created.name == "[erased]" and created.owner == "ann"
    assert isinstance(asked, ev.QuestionAsked) and (asked.text, asked.message_id) == ("[erased]", "q1")
    assert isinstance(answered, ev.AnswerGenerated)
    assert (answered.text, answered.prompt_raw, answered.hyde1) == ("[erased]", "[erased]", None)
    assert answered.references[0].chunk_id == 7 and answered.llm_args == {"temperature": 0.0}
    assert isinstance(feedback, ev.AnswerFeedbackGiven) and feedback.user_comment == "[erased]"
    assert feedback.expected_answer is None
    # Subscribers get the same: the projections fold what is left.
    subscription = store.subscribe(0)
    pages = iter(subscription)
    seen: list[bytes] = []
    while len(seen) < 8:
        seen += [r.data for r in next(pages) if r.stream in (f"chat-{erased}", f"chat-{kept}")]
    subscription.close()
    assert SECRET_QUESTION.encode() not in b"".join(seen[:4]) and b"[erased]" in seen[1]
    assert seen[4:] == kept_events  # the other session reads as it was written
    with pytest.raises(Erased, match=erased):  # nothing personal is sealed for it again
        CommandHandler(store).execute(chat, f"chat-{erased}", chat.RenameChatSession(session_id=erased, name="Again"))


def test_a_sealed_box_moved_to_another_event_does_not_open(tmp_path: Path) -> None:
    store = CryptoShreddingEventStore(
        SQLiteEventStore(tmp_path / "events.sqlite3"), SQLiteSubjectKeyStore(tmp_path / "keys.sqlite3")
    )
    try:
        a_session(store, "s1")
        with sqlite3.connect(tmp_path / "events.sqlite3") as conn:
            rows = conn.execute(
                "SELECT position, data FROM events WHERE stream = 'chat-s1' ORDER BY version"
            ).fetchall()
            question = msgspec.json.decode(rows[1][1])
            renamed = msgspec.json.decode(rows[0][1])
            renamed[SEALED_MEMBER] = {**question[SEALED_MEMBER], "fields": ["name"]}
            conn.execute("UPDATE events SET data = ? WHERE position = ?", (msgspec.json.encode(renamed), rows[0][0]))
        with pytest.raises(EventStoreError, match="do not open"):
            store.read_stream("chat-s1")
        box = question[SEALED_MEMBER]
        flipped = bytearray(base64.b64decode(box["box"]))
        flipped[0] ^= 1
        question[SEALED_MEMBER] = {**box, "box": base64.b64encode(bytes(flipped)).decode()}
        with sqlite3.connect(tmp_path / "events.sqlite3") as conn:
            conn.execute("UPDATE events SET data = ? WHERE position = ?", (msgspec.json.encode(question), rows[1][0]))
        with pytest.raises(EventStoreError, match="changed"):
            store.read_stream("chat-s1", from_version=1, to_version=1)
    finally:
        store.close()


def test_events_with_nothing_personal_or_written_before_sealing_pass_unchanged(tmp_path: Path) -> None:
    inner = SQLiteEventStore(tmp_path / "events.sqlite3")
    keys = SQLiteSubjectKeyStore(tmp_path / "keys.sqlite3")
    store = CryptoShreddingEventStore(inner, keys)
    try:
        legacy = ev.QuestionAsked(session_id="old", message_id="q1", text="Written in the clear", username="bo")
        unnamed = ev.ChatSessionCreated(session_id="s2", collection_id=None, name=None, owner="bo")
        at = datetime(2026, 1, 2, tzinfo=UTC)
        inner.append("chat-old", [NewEvent(event_id=str(uuid.uuid4()), type="QuestionAsked", schema_version=1,
                                           data=ev.encode_event(legacy), recorded_at=at)], NO_STREAM)  # fmt: skip
        store.append("chat-s2", [NewEvent(event_id=str(uuid.uuid4()), type="ChatSessionCreated", schema_version=1,
                                          data=ev.encode_event(unnamed), recorded_at=at)], NO_STREAM)  # fmt: skip
        assert store.read_stream("chat-old")[0].data == ev.encode_event(legacy)
        assert inner.read_stream("chat-s2")[0].data == ev.encode_event(unnamed)  # nothing to seal: no key made
        assert keys.keys_of(["s2", "old"]) == {}
    finally:
        store.close()


def test_concurrent_writers_of_one_session_share_its_key(tmp_path: Path) -> None:
    store = CryptoShreddingEventStore(
        SQLiteEventStore(tmp_path / "events.sqlite3"), SQLiteSubjectKeyStore(tmp_path / "keys.sqlite3")
    )
    try:
        handler = CommandHandler(store)
        handler.execute(chat, "chat-s1", chat.CreateChatSession(session_id="s1", collection_id=None, name=None,
                                                                owner="ann"))  # fmt: skip

        def ask(number: int) -> None:
            handler.execute(chat, "chat-s1", chat.AskQuestion(session_id="s1", message_id=f"q{number}",
                                                              text=f"Question {number}", username="ann"))  # fmt: skip

        threads = [threading.Thread(target=ask, args=(number,)) for number in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        texts = sorted(msgspec.json.decode(r.data)["text"] for r in store.read_stream("chat-s1")[1:])
        assert texts == [f"Question {number}" for number in range(6)]
    finally:
        store.close()
