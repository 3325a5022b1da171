"""Time travel (``as_of``) over a real SQLite event log, with the clock frozen (freezegun): a session with questions
at three times shows, as of each moment between them, exactly the messages it had then, and a later rename does
not change the past; templates and the whole-log listing too; the access rule, and bad points in time."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
from freezegun import freeze_time

from adapters.sqlite.event_store import SQLiteEventStore
from adapters.sqlite.past_states import InMemoryPastStates
from domain import chat, template
from domain import events as ev
from domain.audit import AsOf, LogFilter, Reader, check_history_access, parse_time
from domain.errors import InvalidCommand, NotFound, PermissionDenied
from domain.service import CommandHandler
from domain.usecases.audit import ReadHistory, TimeTravel

ADMIN = Reader(username="admin", key_id="k-admin", is_admin=True)
SESSION = "s-1"
QUESTIONS = {"10:00": "Who kept the lighthouse?", "11:00": "When was it closed?", "12:00": "What is it today?"}


def answer_of(question_id: str, number: int) -> ev.AnswerGenerated:
    reference = ev.Reference(
        collection_id="c-1",
        document_id="d-1",
        document_name="kestrel.pdf",
        chunk_ordinal=number,
        chunk_id=number + 1,
        pages=(number + 1,),
        score=0.5,
        content=f"chunk text {number}",
    )
    return ev.AnswerGenerated(
        session_id=SESSION,
        message_id=f"a-{number}",
        reply_to=question_id,
        text=f"answer {number} [1]",
        references=(reference,),
        rag_type="rag",
        llm="extractive",
        llm_args={},
        template_id=None,
        template_version=None,
        prompt_raw="<|user|>\nquestion",
        usage={},
        timings={},
    )


@pytest.fixture
def log(tmp_path: Path) -> Iterator[SQLiteEventStore]:
    store = SQLiteEventStore(tmp_path / "events.sqlite3")
    handler = CommandHandler(store)
    stream = f"chat-{SESSION}"
    with freeze_time("2026-03-01T09:30:00Z") as clock:
        handler.execute(chat, stream, chat.CreateChatSession(session_id=SESSION, collection_id=None, name="Keepers",
                                                             owner="alice"))  # fmt: skip
        for number, (at, question) in enumerate(QUESTIONS.items()):
            clock.move_to(f"2026-03-01T{at}:00Z")
            asked = chat.AskQuestion(session_id=SESSION, message_id=f"q-{number}", text=question, username="alice")
            handler.execute(chat, stream, asked, chat.RecordAnswer(answer=answer_of(f"q-{number}", number)))
        clock.move_to("2026-03-01T13:00:00Z")
        handler.execute(chat, stream, chat.RenameChatSession(session_id=SESSION, name="Renamed later"))
        created = template.CreateTemplate(template_id="t-1", fields=ev.TemplateFields(name="v1", system_prompt="One"),
                                          owner="alice")  # fmt: skip
        handler.execute(template, "template-t-1", created)
        clock.move_to("2026-03-01T14:00:00Z")
        changed = ev.TemplateFields(system_prompt="Two")
        handler.execute(template, "template-t-1", template.UpdateTemplate(template_id="t-1", changes=changed))
    yield store
    store.close()


def messages_at(log: SQLiteEventStore, as_of: str) -> tuple[str | None, list[str]]:
    with TimeTravel(log, InMemoryPastStates()).session(ADMIN, SESSION, AsOf.parse(as_of)) as past:
        session = past.chat_session(SESSION)
        assert session is not None
        return session.name, [message.content for message in past.messages(SESSION)]


def test_as_of_between_questions_shows_exactly_the_earlier_messages(log: SQLiteEventStore) -> None:
    assert messages_at(log, "2026-03-01T10:30:00Z") == ("Keepers", ["Who kept the lighthouse?", "answer 0 [1]"])
    name, at_half_past_eleven = messages_at(log, "2026-03-01T11:30:00+00:00")
    assert at_half_past_eleven == ["Who kept the lighthouse?", "answer 0 [1]", "When was it closed?", "answer 1 [1]"]
    name, before_rename = messages_at(log, "2026-03-01T12:59:59")  # no zone: UTC
    assert (name, len(before_rename)) == ("Keepers", 6)
    # The rename came later: the past keeps the old name, the present has the new one.
    assert messages_at(log, "2026-03-01T13:00:00Z")[0] == "Renamed later"


def test_as_of_a_log_position_and_the_references_then(log: SQLiteEventStore) -> None:
    records = log.read_stream(f"chat-{SESSION}")
    second_answer = next(r for r in records if r.type == "AnswerGenerated" and b'"a-1"' in r.data)
    with TimeTravel(log, InMemoryPastStates()).session(ADMIN, SESSION, AsOf.parse(str(second_answer.position))) as past:
        assert [m.id for m in past.messages(SESSION)] == ["q-0", "a-0", "q-1", "a-1"]
        (reference,) = past.references("a-1")
        assert (reference.content, reference.pages, reference.document_name) == ("chunk text 1", "2", "kestrel.pdf")
        assert past.document("d-1") is None  # never ingested in this log: were_references_deleted


def test_a_point_before_the_session_or_not_a_point_is_refused(log: SQLiteEventStore) -> None:
    travel = TimeTravel(log, InMemoryPastStates())
    too_early = AsOf.parse("2026-03-01T09:00:00Z")
    with pytest.raises(NotFound, match="did not exist as of"), travel.session(ADMIN, SESSION, too_early):
        pass
    with pytest.raises(NotFound), travel.session(ADMIN, "no-such-session", AsOf.parse("5")):
        pass
    for bad in ("yesterday", "2026-13-01", "", "-3", "1.5", "²", "١٢"):
        with pytest.raises(InvalidCommand, match="as_of"):
            AsOf.parse(bad)
    # One stream is read by whoever the entry point let through (api/access.py); the whole log by admins only.
    stranger = Reader(username="bob", key_id="k-2", is_admin=False)
    check_history_access(stranger, "chat-" + SESSION)
    with pytest.raises(PermissionDenied, match="admin"):
        check_history_access(stranger, None)


def test_a_template_as_of_each_version(log: SQLiteEventStore) -> None:
    travel = TimeTravel(log, InMemoryPastStates())
    with travel.template(ADMIN, "t-1", AsOf.parse("2026-03-01T13:30:00Z")) as past:
        first = past.template("t-1")
        assert first is not None and first.version == 1 and '"One"' in first.fields
    with travel.template(ADMIN, "t-1", AsOf.parse("2026-03-01T14:00:00Z")) as past:
        second = past.template("t-1")
        assert second is not None and second.version == 2 and '"Two"' in second.fields


def test_history_of_a_stream_and_of_the_log(log: SQLiteEventStore) -> None:
    history = ReadHistory(log)
    whole = history.stream(ADMIN, "chat", SESSION, 0, 100)
    assert [e.version for e in whole.events] == list(range(8)) and whole.next is None
    assert [e.type for e in whole.events][:3] == ["ChatSessionCreated", "QuestionAsked", "AnswerGenerated"]
    assert whole.events[1].payload["text"] == "Who kept the lighthouse?"
    assert whole.events[1].recorded_at == parse_time("2026-03-01T10:00:00Z", "t")
    paged = history.stream(ADMIN, "chat", SESSION, 2, 3)
    assert [e.version for e in paged.events] == [2, 3, 4] and paged.next == 5
    questions = history.log(ADMIN, LogFilter(event_type="QuestionAsked"), 0, 2)
    assert [e.payload["message_id"] for e in questions.events] == ["q-0", "q-1"] and questions.next is not None
    rest = history.log(ADMIN, LogFilter(event_type="QuestionAsked"), questions.next or 0, 10)
    assert [e.payload["message_id"] for e in rest.events] == ["q-2"] and rest.next is None
    late = LogFilter(stream_prefix="template-", since=parse_time("2026-03-01T13:30:00Z", "since"))
    assert [e.type for e in history.log(ADMIN, late, 0, 10).events] == ["TemplateUpdated"]
    with pytest.raises(NotFound):
        history.stream(ADMIN, "document", "never", 0, 10)
    with pytest.raises(PermissionDenied):
        history.log(Reader(username="bob", key_id="k-2", is_admin=False), LogFilter(), 0, 10)


def test_a_replay_is_recorded_only_for_a_message_of_a_live_session() -> None:
    created = ev.ChatSessionCreated(session_id=SESSION, collection_id=None, name=None, owner="alice")
    asked = ev.QuestionAsked(session_id=SESSION, message_id="q-0", text="Who?", username="alice")
    state = chat.evolve(chat.evolve(chat.evolve(None, created), asked), answer_of("q-0", 0))
    replay = ev.AnswerReplayed(
        session_id=SESSION, message_id="a-0", replay_id="r-1", llm="extractive", text="answer 0 [1]", identical=True
    )
    assert chat.decide(state, chat.RecordReplay(replay=replay)) == [replay]
    unknown = msgspec.structs.replace(replay, message_id="a-9")
    with pytest.raises(NotFound, match="a-9"):
        chat.decide(state, chat.RecordReplay(replay=unknown))
    deleted = chat.evolve(state, ev.ChatSessionDeleted(session_id=SESSION))
    with pytest.raises(NotFound):
        chat.decide(deleted, chat.RecordReplay(replay=replay))
