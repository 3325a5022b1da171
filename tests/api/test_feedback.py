"""Votes and feedback on answers through the real h2ogpte client (``set_message_votes``,
``update_question_answer_feedback``): recorded as events, shown with the message, refused with the right status
for what cannot be voted on."""

from __future__ import annotations

import h2ogpte.rest_sync as rest
import pytest
from h2ogpte.rest_sync.exceptions import ApiException

from adapters.crypto_shredding import CryptoShreddingEventStore
from adapters.sqlite.event_store import SQLiteEventStore
from adapters.sqlite.subject_keys import SQLiteSubjectKeyStore
from tests.api.test_h2ogpte_client import RECIPE, apis
from tests.server import ServerProcess


def test_votes_and_feedback_are_events_shown_with_the_answer(api: rest.ApiClient, server: ServerProcess) -> None:
    a = apis(api)
    collection = a["collections"].create_collection(rest.CollectionCreateRequest(name="Votes", description=""))
    upload = a["ingestion"].upload_file(file=("rye.txt", RECIPE))
    a["ingestion"].ingest_upload([upload.id], collection_id=collection.id, timeout=120)
    session = a["chat"].create_chat_session(collection_id=collection.id)
    answer = a["chat"].get_completion(session.id, rest.ChatCompletionRequest(message="How is rye bread made?"))
    question_id = a["chat"].get_chat_session_messages(session.id)[0].id

    a["chat"].set_message_votes(answer.message_id, rest.MessageVoteUpdateRequest(votes=1))
    assert [m.votes for m in a["chat"].get_chat_session_messages(session.id)] == [0, 1]
    a["chat"].set_message_votes(answer.message_id, rest.MessageVoteUpdateRequest(votes=1))  # the same: no event
    a["chat"].set_message_votes(answer.message_id, rest.MessageVoteUpdateRequest(votes=-1))
    assert a["chat"].get_chat_session_messages(session.id)[1].votes == -1
    feedback = rest.UpdateQAFeedbackRequest(expected_answer="Mix, rise overnight, bake.", user_comment="Too long")
    a["chat"].update_question_answer_feedback(answer.message_id, feedback)

    log = SQLiteEventStore(server.data_dir / "events.sqlite3")
    store = CryptoShreddingEventStore(log, SQLiteSubjectKeyStore(server.data_dir / "keys.sqlite3"))
    try:
        recorded = [r for r in store.read_stream(f"chat-{session.id}") if r.type.startswith("Answer")]
        stored = log.read_stream(f"chat-{session.id}")[-1].data
    finally:
        store.close()
    assert [r.type for r in recorded] == ["AnswerGenerated", "AnswerVoted", "AnswerVoted", "AnswerFeedbackGiven"]
    assert b"Too long" in recorded[-1].data and recorded[-1].metadata.actor == "admin"
    assert b"Too long" not in stored and b"[encrypted]" in stored  # sealed with the session's key in the log

    for message_id, votes, status in ((question_id, 1, 404), ("no-such-message", 1, 404), (answer.message_id, 5, 400)):
        with pytest.raises(ApiException) as refused:
            a["chat"].set_message_votes(message_id, rest.MessageVoteUpdateRequest(votes=votes))
        assert refused.value.status == status, (message_id, votes)
    with pytest.raises(ApiException) as missing:
        a["chat"].update_question_answer_feedback("no-such-message", feedback)
    assert missing.value.status == 404
