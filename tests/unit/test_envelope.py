"""The event envelope: metadata stamped from the command context, ids derived from the command, and upcasting of
events written in an older version of their type, over a real SQLite event store."""

from __future__ import annotations

import msgspec
import pytest

from adapters.sqlite.event_store import SQLiteEventStore
from domain import chat
from domain.chat import AskQuestion, CreateChatSession
from domain.envelope import CommandContext, command_context, command_id, current_context
from domain.errors import AlreadyExists
from domain.events import ChatSessionRenamed, Upcasters, decode_recorded
from domain.ports import NO_STREAM, NewEvent
from domain.service import CommandHandler, utc_now


@pytest.fixture
def store() -> SQLiteEventStore:
    return SQLiteEventStore(":memory:")


def test_every_event_is_stamped_with_the_context_it_was_decided_in(store: SQLiteEventStore) -> None:
    handler = CommandHandler(store)
    context = CommandContext(actor="ann", key_id="key-1", correlation_id="req-42")
    with command_context(context):
        handler.execute(
            chat,
            "chat-s1",
            CreateChatSession(session_id="s1", collection_id=None, owner="ann"),
            AskQuestion(session_id="s1", message_id="q1", text="Why?", username="ann"),
        )
    first, second = store.read_stream("chat-s1")
    assert first.metadata == second.metadata
    assert (first.metadata.actor, first.metadata.key_id) == ("ann", "key-1")
    assert first.metadata.correlation_id == first.metadata.causation_id == "req-42"
    assert first.metadata.command_id is not None and first.event_id != second.event_id


def test_outside_any_context_the_system_acts(store: SQLiteEventStore) -> None:
    assert current_context().actor == "system"
    CommandHandler(store).execute(chat, "chat-s1", CreateChatSession(session_id="s1", collection_id=None, owner="x"))
    assert store.read_stream("chat-s1")[0].metadata.actor == "system"


def test_work_set_off_by_a_request_names_it_as_its_cause(store: SQLiteEventStore) -> None:
    request = CommandContext(actor="ann", correlation_id="req-1")
    job = request.caused_by("job-9")
    CommandHandler(store).execute(
        chat, "chat-s1", CreateChatSession(session_id="s1", collection_id=None, owner="x"), context=job
    )
    metadata = store.read_stream("chat-s1")[0].metadata
    assert (metadata.actor, metadata.correlation_id, metadata.causation_id) == ("ann", "req-1", "job-9")


def test_a_command_run_again_under_its_id_appends_nothing_new(store: SQLiteEventStore) -> None:
    handler = CommandHandler(store)
    handler.execute(chat, "chat-s1", CreateChatSession(session_id="s1", collection_id=None, owner="ann"))
    ask = AskQuestion(session_id="s1", message_id="q1", text="Why?", username="ann")
    stable = command_id("ask", "s1", "q1")
    first = handler.execute(chat, "chat-s1", ask, command_id=stable)
    again = handler.execute(chat, "chat-s1", ask, command_id=stable)
    assert first == again
    assert [r.type for r in store.read_stream("chat-s1")] == ["ChatSessionCreated", "QuestionAsked"]
    with pytest.raises(AlreadyExists):  # the same question as a new command is refused as ever
        handler.execute(chat, "chat-s1", ask)
    other = AskQuestion(session_id="s1", message_id="q2", text="How?", username="ann")
    assert handler.execute(chat, "chat-s1", other, command_id=command_id("ask", "s1", "q2")) is not None
    assert len(store.read_stream("chat-s1")) == 3


def test_events_of_an_older_version_are_read_in_the_current_shape(store: SQLiteEventStore) -> None:
    # Suppose ChatSessionRenamed once carried `title` and is now at version 2 with `name`.
    upcasters = Upcasters({"ChatSessionRenamed": 2})
    upcasters.register("ChatSessionRenamed", 1, lambda old: {**{k: v for k, v in old.items() if k != "title"},
                                                             "name": old["title"]})  # fmt: skip
    old_payload = msgspec.json.encode({"event": "ChatSessionRenamed", "session_id": "s1", "title": "Plans"})
    written = NewEvent(event_id="e-1", type="ChatSessionRenamed", schema_version=1, data=old_payload,
                       recorded_at=utc_now())  # fmt: skip
    store.append("chat-s1", [written], NO_STREAM)
    (recorded,) = store.read_stream("chat-s1")
    assert recorded.schema_version == 1
    assert decode_recorded(recorded.type, recorded.schema_version, recorded.data, upcasters) == ChatSessionRenamed(
        session_id="s1", name="Plans"
    )
    with pytest.raises(ValueError, match="no upcaster"):
        decode_recorded(recorded.type, 1, recorded.data, Upcasters({"ChatSessionRenamed": 3}))
    # Current-version events decode directly.
    current = msgspec.json.encode(ChatSessionRenamed(session_id="s1", name="Now"))
    assert decode_recorded("ChatSessionRenamed", 2, current, upcasters) == ChatSessionRenamed(
        session_id="s1", name="Now"
    )
