"""The command handler over a real (in-memory SQLite) event store: retries, caching, batching."""

from __future__ import annotations

import threading

import pytest

from adapters.sqlite.event_store import SQLiteEventStore
from domain import chat
from domain.chat import AskQuestion, CreateChatSession
from domain.errors import AlreadyExists
from domain.service import CommandHandler


@pytest.fixture
def store() -> SQLiteEventStore:
    return SQLiteEventStore(":memory:")


def test_commands_of_one_call_are_appended_as_one_batch(store: SQLiteEventStore) -> None:
    handler = CommandHandler(store)
    result = handler.execute(
        chat,
        "chat-s1",
        CreateChatSession(session_id="s1", collection_id=None, owner="ann"),
        AskQuestion(session_id="s1", message_id="q1", text="Why?", username="ann"),
    )
    assert result is not None and result.stream_version == 1
    assert [r.type for r in store.read_stream("chat-s1")] == ["ChatSessionCreated", "QuestionAsked"]


def test_a_rule_broken_by_a_later_command_appends_nothing(store: SQLiteEventStore) -> None:
    handler = CommandHandler(store)
    with pytest.raises(AlreadyExists):
        handler.execute(
            chat,
            "chat-s1",
            CreateChatSession(session_id="s1", collection_id=None, owner="ann"),
            CreateChatSession(session_id="s1", collection_id=None, owner="ann"),
        )
    assert store.read_stream("chat-s1") == []


def test_a_stale_cache_never_hides_another_writer(store: SQLiteEventStore) -> None:
    mine, theirs = CommandHandler(store), CommandHandler(store)
    mine.execute(chat, "chat-s1", CreateChatSession(session_id="s1", collection_id=None, owner="ann"))
    theirs.execute(chat, "chat-s1", AskQuestion(session_id="s1", message_id="q1", text="a", username="bo"))
    with pytest.raises(AlreadyExists, match="q1"):
        mine.execute(chat, "chat-s1", AskQuestion(session_id="s1", message_id="q1", text="b", username="ann"))
    assert "q1" in mine.load(chat, "chat-s1").message_ids


def test_concurrent_commands_on_one_stream_all_land_by_retrying(store: SQLiteEventStore) -> None:
    CommandHandler(store).execute(chat, "chat-s1", CreateChatSession(session_id="s1", collection_id=None, owner="a"))
    handlers = [CommandHandler(store) for _ in range(6)]

    def ask(index: int) -> None:
        command = AskQuestion(session_id="s1", message_id=f"q{index}", text="?", username="ann")
        handlers[index].execute(chat, "chat-s1", command)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r.version for r in store.read_stream("chat-s1")) == list(range(7))
    assert CommandHandler(store).load(chat, "chat-s1").unanswered == {f"q{i}" for i in range(6)}
