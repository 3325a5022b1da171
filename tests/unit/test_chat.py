from domain import chat
from domain.chat import (
    AskQuestion,
    CreateChatSession,
    DeleteChatSession,
    GiveAnswerFeedback,
    RecordAnswer,
    RecordAnswerFailure,
    RenameChatSession,
    VoteOnAnswer,
)
from domain.errors import AlreadyExists, InvalidCommand, NotFound
from domain.events import (
    AnswerFailed,
    AnswerFeedbackGiven,
    AnswerGenerated,
    AnswerVoted,
    ChatSessionCreated,
    ChatSessionDeleted,
    ChatSessionRenamed,
    QuestionAsked,
)
from tests.unit.scenario import given

CREATED = ChatSessionCreated(session_id="s1", collection_id="c1", name=None, owner="ann")
ASKED = QuestionAsked(session_id="s1", message_id="q1", text="Why?", username="ann")


def answer(message_id: str = "a1", reply_to: str = "q1") -> AnswerGenerated:
    return AnswerGenerated(
        session_id="s1", message_id=message_id, reply_to=reply_to, text="Because. [1]", references=(),
        rag_type="rag", llm="extractive", llm_args={}, template_id=None, template_version=None,
        prompt_raw="<|user|>Why?", usage={"llm_calls": 1}, timings={},
    )  # fmt: skip


def test_create_rename_delete() -> None:
    given(chat).when(CreateChatSession(session_id="s1", collection_id="c1", owner="ann")).then(CREATED)
    given(chat, CREATED).when(CreateChatSession(session_id="s1", collection_id=None, owner="ann")).then_error(
        AlreadyExists, "s1"
    )
    given(chat, CREATED).when(RenameChatSession(session_id="s1", name=" Q4 ")).then(
        ChatSessionRenamed(session_id="s1", name="Q4")
    )
    given(chat, CREATED).when(RenameChatSession(session_id="s1", name=" ")).then_error(InvalidCommand, "empty")
    given(chat, CREATED).when(DeleteChatSession(session_id="s1")).then(ChatSessionDeleted(session_id="s1"))


def test_nothing_happens_in_a_missing_or_deleted_session() -> None:
    ask = AskQuestion(session_id="s1", message_id="q1", text="Why?", username="ann")
    given(chat).when(ask).then_error(NotFound, "s1")
    given(chat, CREATED, ChatSessionDeleted(session_id="s1")).when(ask).then_error(NotFound, "s1")


def test_a_question_is_asked() -> None:
    ask = AskQuestion(session_id="s1", message_id="q1", text="Why?", username="ann")
    given(chat, CREATED).when(ask).then(ASKED)


def test_an_empty_question_is_refused() -> None:
    ask = AskQuestion(session_id="s1", message_id="q1", text="  ", username="ann")
    given(chat, CREATED).when(ask).then_error(InvalidCommand, "empty")


def test_message_ids_are_unique_in_a_session() -> None:
    ask = AskQuestion(session_id="s1", message_id="q1", text="Again?", username="ann")
    given(chat, CREATED, ASKED).when(ask).then_error(AlreadyExists, "q1")


def test_an_answer_replies_to_an_unanswered_question() -> None:
    given(chat, CREATED, ASKED).when(RecordAnswer(answer=answer())).then(answer())
    given(chat, CREATED).when(RecordAnswer(answer=answer())).then_error(InvalidCommand, "not an unanswered")
    given(chat, CREATED, ASKED, answer()).when(RecordAnswer(answer=answer("a2"))).then_error(
        InvalidCommand, "not an unanswered"
    )


def test_a_failed_answer_is_recorded_with_its_reason() -> None:
    failure = RecordAnswerFailure(
        session_id="s1", message_id="a1", reply_to="q1", reason="model server down", error_type="BackendUnavailable"
    )
    given(chat, CREATED, ASKED).when(failure).then(
        AnswerFailed(
            session_id="s1",
            message_id="a1",
            reply_to="q1",
            reason="model server down",
            error_type="BackendUnavailable",
        )
    )


def test_readers_vote_on_answers_once_per_change() -> None:
    answered = (CREATED, ASKED, answer())
    given(chat, *answered).when(VoteOnAnswer(session_id="s1", message_id="a1", votes=1)).then(
        AnswerVoted(session_id="s1", message_id="a1", votes=1)
    )
    up = AnswerVoted(session_id="s1", message_id="a1", votes=1)
    given(chat, *answered, up).when(VoteOnAnswer(session_id="s1", message_id="a1", votes=1)).then()
    given(chat, *answered, up).when(VoteOnAnswer(session_id="s1", message_id="a1", votes=0)).then(
        AnswerVoted(session_id="s1", message_id="a1", votes=0)
    )
    given(chat, *answered).when(VoteOnAnswer(session_id="s1", message_id="a1", votes=2)).then_error(
        InvalidCommand, "votes"
    )
    given(chat, *answered).when(VoteOnAnswer(session_id="s1", message_id="q1", votes=1)).then_error(NotFound, "q1")


def test_feedback_is_given_on_an_answer_only() -> None:
    answered = (CREATED, ASKED, answer())
    feedback = GiveAnswerFeedback(session_id="s1", message_id="a1", user_comment="Too short")
    given(chat, *answered).when(feedback).then(
        AnswerFeedbackGiven(session_id="s1", message_id="a1", user_comment="Too short")
    )
    given(chat, CREATED, ASKED).when(feedback).then_error(NotFound, "a1")
    long = GiveAnswerFeedback(session_id="s1", message_id="a1", expected_answer="x" * 10_001)
    given(chat, *answered).when(long).then_error(InvalidCommand, "10000")
