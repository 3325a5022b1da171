"""The ChatSession aggregate: a conversation, optionally over one collection, of questions and answers.

Every question ends with exactly one answer event: ``AnswerGenerated`` or ``AnswerFailed``.
"""

from __future__ import annotations

import msgspec

from domain.errors import AlreadyExists, InvalidCommand, NotFound
from domain.events import (
    AnswerFailed,
    AnswerFeedbackGiven,
    AnswerGenerated,
    AnswerReplayed,
    AnswerVoted,
    ChatSessionCreated,
    ChatSessionDeleted,
    ChatSessionErased,
    ChatSessionRenamed,
    ChatSessionTemplateAttached,
    ChatSessionTemplateDetached,
    Event,
    QuestionAsked,
)

MAX_QUESTION_CHARS = 100_000
MAX_FEEDBACK_CHARS = 10_000
VOTES = (-1, 0, 1)


class CreateChatSession(msgspec.Struct, frozen=True, kw_only=True):
    session_id: str
    collection_id: str | None
    name: str | None = None
    owner: str


class RenameChatSession(msgspec.Struct, frozen=True, kw_only=True):
    session_id: str
    name: str


class DeleteChatSession(msgspec.Struct, frozen=True, kw_only=True):
    session_id: str


class EraseChatSession(msgspec.Struct, frozen=True, kw_only=True):
    """Erase the session's personal content (crypto-shredding); a deleted session may be erased too."""

    session_id: str


class AskQuestion(msgspec.Struct, frozen=True, kw_only=True):
    session_id: str
    message_id: str
    text: str
    username: str


class RecordAnswer(msgspec.Struct, frozen=True, kw_only=True):
    """Record a finished answer. The answer is built by the answering pipeline, so it arrives whole."""

    answer: AnswerGenerated


class RecordAnswerFailure(msgspec.Struct, frozen=True, kw_only=True):
    session_id: str
    message_id: str
    reply_to: str
    reason: str
    error_type: str


class RecordReplay(msgspec.Struct, frozen=True, kw_only=True):
    """Record that an answer was reproduced (an audit), with what the reproduction said."""

    replay: AnswerReplayed


class AttachSessionTemplate(msgspec.Struct, frozen=True, kw_only=True):
    """The use case has checked that the template exists."""

    session_id: str
    template_id: str


class DetachSessionTemplate(msgspec.Struct, frozen=True, kw_only=True):
    session_id: str


class VoteOnAnswer(msgspec.Struct, frozen=True, kw_only=True):
    session_id: str
    message_id: str
    votes: int


class GiveAnswerFeedback(msgspec.Struct, frozen=True, kw_only=True):
    session_id: str
    message_id: str
    expected_answer: str | None = None
    user_comment: str | None = None


ChatCommand = (
    CreateChatSession
    | RenameChatSession
    | DeleteChatSession
    | EraseChatSession
    | AskQuestion
    | RecordAnswer
    | RecordAnswerFailure
    | RecordReplay
    | AttachSessionTemplate
    | DetachSessionTemplate
    | VoteOnAnswer
    | GiveAnswerFeedback
)


class ChatSession(msgspec.Struct, frozen=True, kw_only=True):
    session_id: str
    collection_id: str | None
    template_id: str | None = None
    message_ids: frozenset[str] = frozenset()
    unanswered: frozenset[str] = frozenset()
    answers: frozenset[str] = frozenset()  # the generated answers: what readers may vote on
    votes: dict[str, int] = {}
    deleted: bool = False
    erased: bool = False


State = ChatSession | None


def decide(state: State, command: ChatCommand) -> list[Event]:
    if isinstance(command, CreateChatSession):
        if state is not None:
            raise AlreadyExists(f"chat session {command.session_id} already exists")
        return [
            ChatSessionCreated(
                session_id=command.session_id,
                collection_id=command.collection_id,
                name=command.name,
                owner=command.owner,
            )
        ]
    if isinstance(command, EraseChatSession):
        if state is None:
            raise NotFound(f"chat session {command.session_id} not found")
        # Erasing again changes nothing: the caller goes on to forget the key, which a crash may have left.
        return [] if state.erased else [ChatSessionErased(session_id=command.session_id)]
    if isinstance(command, RecordAnswer):
        session_id = command.answer.session_id
    elif isinstance(command, RecordReplay):
        session_id = command.replay.session_id
    else:
        session_id = command.session_id
    session = _existing(state, session_id)
    if isinstance(command, RecordReplay):
        if command.replay.message_id not in session.message_ids:
            raise NotFound(f"message {command.replay.message_id} not found in chat session {session_id}")
        return [command.replay]
    if isinstance(command, RenameChatSession):
        if not command.name.strip():
            raise InvalidCommand("a chat session name cannot be empty")
        return [ChatSessionRenamed(session_id=session_id, name=command.name.strip())]
    if isinstance(command, DeleteChatSession):
        return [ChatSessionDeleted(session_id=session_id)]
    if isinstance(command, AttachSessionTemplate):
        if command.template_id == session.template_id:
            return []
        return [ChatSessionTemplateAttached(session_id=session_id, template_id=command.template_id)]
    if isinstance(command, DetachSessionTemplate):
        return [ChatSessionTemplateDetached(session_id=session_id)] if session.template_id else []
    if isinstance(command, VoteOnAnswer):
        _an_answer(session, command.message_id)
        if command.votes not in VOTES:
            raise InvalidCommand(f"votes must be 1 (up), -1 (down) or 0 (none), got {command.votes}")
        if session.votes.get(command.message_id, 0) == command.votes:
            return []
        return [AnswerVoted(session_id=session_id, message_id=command.message_id, votes=command.votes)]
    if isinstance(command, GiveAnswerFeedback):
        _an_answer(session, command.message_id)
        texts = [text for text in (command.expected_answer, command.user_comment) if text is not None]
        if any(len(text) > MAX_FEEDBACK_CHARS for text in texts):
            raise InvalidCommand(f"feedback texts are limited to {MAX_FEEDBACK_CHARS} characters")
        return [
            AnswerFeedbackGiven(
                session_id=session_id,
                message_id=command.message_id,
                expected_answer=command.expected_answer,
                user_comment=command.user_comment,
            )
        ]
    if isinstance(command, AskQuestion):
        if not command.text.strip():
            raise InvalidCommand("the question (message) cannot be empty")
        if len(command.text) > MAX_QUESTION_CHARS:
            raise InvalidCommand(f"the question is longer than {MAX_QUESTION_CHARS} characters")
        _new_message_id(session, command.message_id)
        return [
            QuestionAsked(
                session_id=session_id,
                message_id=command.message_id,
                text=command.text,
                username=command.username,
            )
        ]
    if isinstance(command, RecordAnswer):
        answer = command.answer
        _answerable(session, answer.reply_to)
        _new_message_id(session, answer.message_id)
        return [answer]
    _answerable(session, command.reply_to)
    _new_message_id(session, command.message_id)
    if not command.reason.strip():
        raise InvalidCommand("a failed answer needs a reason")
    return [
        AnswerFailed(
            session_id=session_id,
            message_id=command.message_id,
            reply_to=command.reply_to,
            reason=command.reason,
            error_type=command.error_type,
        )
    ]


def evolve(state: State, event: Event) -> State:
    if isinstance(event, ChatSessionCreated):
        return ChatSession(session_id=event.session_id, collection_id=event.collection_id)
    if state is None:
        return state
    if isinstance(event, ChatSessionDeleted):
        return msgspec.structs.replace(state, deleted=True)
    if isinstance(event, ChatSessionErased):
        return msgspec.structs.replace(state, deleted=True, erased=True)
    if isinstance(event, ChatSessionTemplateAttached):
        return msgspec.structs.replace(state, template_id=event.template_id)
    if isinstance(event, ChatSessionTemplateDetached):
        return msgspec.structs.replace(state, template_id=None)
    if isinstance(event, QuestionAsked):
        return msgspec.structs.replace(
            state,
            message_ids=state.message_ids | {event.message_id},
            unanswered=state.unanswered | {event.message_id},
        )
    if isinstance(event, AnswerGenerated | AnswerFailed):
        return msgspec.structs.replace(
            state,
            message_ids=state.message_ids | {event.message_id},
            unanswered=state.unanswered - {event.reply_to},
            answers=state.answers | {event.message_id} if isinstance(event, AnswerGenerated) else state.answers,
        )
    if isinstance(event, AnswerVoted):
        return msgspec.structs.replace(state, votes={**state.votes, event.message_id: event.votes})
    return state


def _existing(state: State, session_id: str) -> ChatSession:
    if state is None or state.deleted:
        raise NotFound(f"chat session {session_id} not found")
    return state


def _new_message_id(session: ChatSession, message_id: str) -> None:
    if message_id in session.message_ids:
        raise AlreadyExists(f"message {message_id} already exists in chat session {session.session_id}")


def _an_answer(session: ChatSession, message_id: str) -> None:
    if message_id not in session.answers:
        raise NotFound(f"answer {message_id} not found in chat session {session.session_id}")


def _answerable(session: ChatSession, question_id: str) -> None:
    if question_id not in session.unanswered:
        raise InvalidCommand(f"message {question_id} is not an unanswered question of this session")
