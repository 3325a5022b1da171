"""Erasure in the domain: the ChatSession decider's EraseChatSession (given / when / then), and what
``domain.erasure`` calls personal."""

from __future__ import annotations

import msgspec
import pytest

from domain import chat
from domain import events as ev
from domain.audit import Reader
from domain.chat import AskQuestion, EraseChatSession, RenameChatSession
from domain.erasure import PERSONAL_FIELDS, check_erasure_access, lookup_texts, personal_values, subject_of
from domain.errors import NotFound, PermissionDenied
from tests.unit.scenario import given

CREATED = ev.ChatSessionCreated(session_id="s1", collection_id="c1", name="Mine", owner="ann")
ASKED = ev.QuestionAsked(session_id="s1", message_id="q1", text="Why?", username="ann")
ERASED = ev.ChatSessionErased(session_id="s1")


def test_a_session_is_erased_once_and_then_takes_no_more_commands() -> None:
    given(chat, CREATED, ASKED).when(EraseChatSession(session_id="s1")).then(ERASED)
    given(chat, CREATED, ev.ChatSessionDeleted(session_id="s1")).when(EraseChatSession(session_id="s1")).then(ERASED)
    given(chat, CREATED, ERASED).when(EraseChatSession(session_id="s1")).then()  # again: nothing new
    given(chat).when(EraseChatSession(session_id="s1")).then_error(NotFound, "s1")
    ask = AskQuestion(session_id="s1", message_id="q2", text="And now?", username="ann")
    given(chat, CREATED, ERASED).when(ask).then_error(NotFound, "s1")
    given(chat, CREATED, ERASED).when(RenameChatSession(session_id="s1", name="New")).then_error(NotFound, "s1")


def test_every_personal_field_is_a_text_field_of_its_event_type() -> None:
    types = {cls.__name__: cls for cls in ev.AnyEvent.__args__}
    for name, fields in PERSONAL_FIELDS.items():
        declared = {field.name: field.type for field in msgspec.structs.fields(types[name])}
        assert "session_id" in declared, name  # the subject of every one of them
        for field in fields:
            assert declared[field] in (str, str | None), (name, field)


def test_the_subject_is_the_session_and_only_set_fields_are_personal() -> None:
    answer = {"session_id": "s1", "text": "Because.", "prompt_raw": "<|user|> Why?", "hyde1": None, "llm": "x"}
    assert subject_of("AnswerGenerated", answer) == "s1"
    assert personal_values("AnswerGenerated", answer) == {"text": "Because.", "prompt_raw": "<|user|> Why?"}
    assert subject_of("CollectionCreated", {"session_id": "s1"}) is None
    assert personal_values("ChatSessionCreated", {"session_id": "s1", "name": None}) == {}
    assert lookup_texts("QuestionAsked", msgspec.to_builtins(ASKED)) == ["Why?"]


def test_only_an_admin_may_erase() -> None:
    check_erasure_access(Reader(username="root", key_id="k", is_admin=True))
    with pytest.raises(PermissionDenied, match="admin"):
        check_erasure_access(Reader(username="ann", key_id="k", is_admin=False))
