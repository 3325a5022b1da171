"""Chat sessions, completions, messages, references and message meta."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
import msgspec
from litestar import Controller, Request, Response, delete, get, patch, post, put
from litestar.openapi import ResponseSpec
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIResponse, OpenAPIType, Operation, Schema
from litestar.response import Stream

from api.access import principal, require_template
from api.bootstrap import Parley
from api.chat import ask_of
from api.controllers._common import API, COMMAND, LIST, READ, Limit, Offset, caller, errors, optional_body, page
from api.limits import MAX_JSON_BYTES
from api.schemas import (
    ChatCompletion,
    ChatCompletionRequest,
    ChatMessage,
    ChatMessageMeta,
    ChatMessageReference,
    ChatSession,
    ChatSessionUpdateRequest,
    Count,
    CreateChatSessionRequest,
    MessageVoteUpdateRequest,
    PromptTemplateChangeRequest,
    SuggestedQuestion,
    UpdateQAFeedbackRequest,
    chat_message_from_row,
    chat_session_from_row,
    reference_from_row,
)
from api.streaming import StreamedAnswer
from domain.access import Level
from domain.errors import InvalidCommand, NotFound, ParleyError
from domain.views import ChatSessionView

log = logging.getLogger("parley")
META_TYPES = ("usage_stats", "prompt_raw", "llm_only", "hyde1", "self_reflection")


def prefers_jsonl(accept: str) -> bool:
    """Whether an Accept header ranks ``application/jsonl`` above ``application/json``."""
    quality = {}
    for part in accept.split(","):
        media, *params = (piece.strip() for piece in part.split(";"))
        weight = next((float(p[2:]) for p in params if p.startswith("q=") and _is_number(p[2:])), 1.0)
        quality[media.lower()] = weight
    jsonl = max(quality.get("application/jsonl", 0.0), quality.get("application/x-ndjson", 0.0))
    return jsonl > 0 and jsonl >= quality.get("application/json", 0.0)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _line(payload: dict[str, Any]) -> bytes:
    return msgspec.json.encode(payload) + b"\n"


async def _streamed_answer(parley: Parley, session_id: str, data: ChatCompletionRequest, username: str) -> Stream:
    """JSON Lines of the answer's pieces (``api.streaming``: an error before any text is a plain 4xx/5xx)."""
    ask = ask_of(session_id, data, username)
    streamed = StreamedAnswer(lambda on_delta: parley.asking()(ask, on_delta=on_delta))
    await streamed.start()

    async def lines() -> AsyncIterator[bytes]:
        async for delta in streamed.deltas():
            yield _line({"body": delta, "finished": False})
        if streamed.asked is not None:
            yield _line({"body": streamed.asked.text, "finished": True, "message_id": streamed.asked.message_id})
        else:
            error = streamed.error
            if not isinstance(error, ParleyError):
                log.error("streamed answer failed", exc_info=error)
            reason = error.message if isinstance(error, ParleyError) else "internal error"
            yield _line({"finished": True, "error": reason})

    return Stream(lines(), media_type="application/jsonl")


_STREAMED_PIECE = Schema(
    type=OpenAPIType.OBJECT,
    description="One line of a streamed answer: a delta (finished false), then the whole answer with its "
    "message_id (finished true), or an error (finished true) when the answer fails after streaming began",
    properties={
        "body": Schema(type=OpenAPIType.STRING),
        "finished": Schema(type=OpenAPIType.BOOLEAN),
        "message_id": Schema(type=OpenAPIType.STRING),
        "error": Schema(type=OpenAPIType.STRING),
    },
    required=["finished"],
)


@dataclass
class CompletionOperation(Operation):
    """get_completion answers 200 with one ChatCompletion, or with JSON Lines of streamed pieces: both are in its
    OpenAPI operation (Litestar's ResponseSpec holds one media type)."""

    def __post_init__(self) -> None:
        answered = (self.responses or {}).get("200")
        if isinstance(answered, OpenAPIResponse) and answered.content is not None:
            answered.content["application/jsonl"] = OpenAPIMediaType(schema=_STREAMED_PIECE)


def _session(parley: Parley, session_id: str) -> ChatSessionView:
    row = parley.read_models.chat_session(session_id)
    if row is None:
        raise NotFound(f"chat session {session_id} not found")
    return row


class ChatController(Controller):
    path = f"{API}/chats"
    tags = ["chat"]
    request_max_body_size = MAX_JSON_BYTES

    @post(
        "/",
        status_code=201,
        operation_id="create_chat_session",
        responses=errors(403, 404, 409, 413, 415),
    )
    async def create_chat_session(
        self, parley: Parley, request: Request[Any, Any, Any], collection_id: str | None = None
    ) -> ChatSession:
        await optional_body(request, CreateChatSessionRequest)
        who = caller(request)

        row = await anyio.to_thread.run_sync(parley.sessions().create, collection_id, who.username)
        return chat_session_from_row(row)

    @get("/", status_code=200, operation_id="list_chat_sessions", responses=LIST, sync_to_thread=True)
    def list_chat_sessions(
        self, parley: Parley, request: Request[Any, Any, Any], offset: Offset = 0, limit: Limit = 100
    ) -> list[ChatSession]:
        offset, limit = page(offset, limit)
        rows = parley.read_models.chat_sessions(offset, limit, viewer=principal(caller(request)))
        return [chat_session_from_row(row) for row in rows]

    @get("/count", status_code=200, operation_id="get_chat_session_count", responses=LIST, sync_to_thread=True)
    def get_chat_session_count(self, parley: Parley, request: Request[Any, Any, Any]) -> Count:
        return Count(count=parley.read_models.chat_session_count(viewer=principal(caller(request))))

    @get("/{session_id:str}", status_code=200, operation_id="get_chat_session", responses=READ, sync_to_thread=True)
    def get_chat_session(self, parley: Parley, session_id: str) -> ChatSession:
        return chat_session_from_row(_session(parley, session_id))

    @patch(
        "/{session_id:str}", status_code=200, operation_id="update_chat_session", responses=COMMAND, sync_to_thread=True
    )
    def update_chat_session(self, parley: Parley, session_id: str, data: ChatSessionUpdateRequest) -> ChatSession:
        return chat_session_from_row(parley.sessions().rename(session_id, data.name))

    @delete(
        "/{session_id:str}",
        status_code=204,
        operation_id="delete_chat_session",
        responses=errors(404, 409),
        sync_to_thread=True,
    )
    def delete_chat_session(self, parley: Parley, session_id: str, timeout: float | None = None) -> None:
        parley.sessions().delete(session_id)

    @put(
        "/{session_id:str}/prompt_template",
        status_code=200,
        operation_id="update_chat_session_prompt_template",
        responses=errors(403, 404, 409, 413, 415),
        sync_to_thread=True,
    )
    def update_chat_session_prompt_template(
        self, parley: Parley, request: Request[Any, Any, Any], session_id: str, data: PromptTemplateChangeRequest
    ) -> ChatSession:
        """The session's answers are made with this template, over its collection's (a request's fields win)."""
        require_template(parley.read_models, principal(caller(request)), data.prompt_template_id, Level.READ)
        return chat_session_from_row(parley.sessions().attach_template(session_id, data.prompt_template_id))

    @delete(
        "/{session_id:str}/prompt_template",
        status_code=200,
        operation_id="delete_chat_session_prompt_template",
        responses=errors(403, 404, 409),
        sync_to_thread=True,
    )
    def delete_chat_session_prompt_template(self, parley: Parley, session_id: str) -> ChatSession:
        return chat_session_from_row(parley.sessions().detach_template(session_id))

    @post(
        "/{session_id:str}/completions",
        status_code=200,
        operation_id="get_completion",
        responses={
            200: ResponseSpec(data_container=ChatCompletion, description="The answer, or JSON Lines when streamed"),
            **errors(403, 404, 409, 413, 415, 503),
        },
        operation_class=CompletionOperation,
    )
    async def get_completion(
        self, parley: Parley, request: Request[Any, Any, Any], session_id: str, data: ChatCompletionRequest
    ) -> Response[Any]:
        """The answer as one ``ChatCompletion``, or, when the body has ``"stream": true`` or the Accept header
        prefers ``application/jsonl``, as JSON Lines: ``{"body": delta, "finished": false}`` per piece, then
        ``{"body": answer, "finished": true, "message_id": id}``, or ``{"finished": true, "error": reason}`` when it
        fails after streaming began (before that, errors are ordinary status codes)."""
        who = caller(request)
        if not (data.stream or prefers_jsonl(request.headers.get("accept", ""))):
            asked = await anyio.to_thread.run_sync(parley.asking(), ask_of(session_id, data, who.username))
            return Response(ChatCompletion(message_id=asked.message_id, body=asked.text))
        return await _streamed_answer(parley, session_id, data, who.username)

    @get("/{session_id:str}/questions", status_code=200, operation_id="list_questions_for_chat_session", responses=READ,
         sync_to_thread=True)  # fmt: skip
    def list_questions_for_chat_session(
        self, parley: Parley, session_id: str, limit: Limit = 10
    ) -> list[SuggestedQuestion]:
        """Questions suggested for the documents of the session's collection, else the ``default_sample_questions``
        of the session's template, else of its collection's."""
        session = _session(parley, session_id)
        collection_id = session.collection_id
        _, limit = page(0, limit)
        questions = parley.read_models.suggested_questions(collection_id, limit) if collection_id else []
        if not questions:
            collection = parley.read_models.collection(collection_id) if collection_id else None
            nearest = (session.prompt_template_id, collection.prompt_template_id if collection else None)
            questions = parley.prompt_templates().sample_questions(*nearest)[:limit]
        return [SuggestedQuestion(question=question) for question in questions]

    @get(
        "/{session_id:str}/messages",
        status_code=200,
        operation_id="get_chat_session_messages",
        responses=READ,
        sync_to_thread=True,
    )
    def get_chat_session_messages(
        self, parley: Parley, session_id: str, offset: Offset = 0, limit: Limit = 100
    ) -> list[ChatMessage]:
        _session(parley, session_id)
        offset, limit = page(offset, limit)
        return [chat_message_from_row(row) for row in parley.read_models.messages(session_id, offset, limit)]


class MessageController(Controller):
    path = f"{API}/messages"
    tags = ["chat"]
    request_max_body_size = MAX_JSON_BYTES

    @get(
        "/{message_id:str}/references",
        status_code=200,
        operation_id="get_message_references",
        responses=READ,
        sync_to_thread=True,
    )
    def get_message_references(
        self, parley: Parley, message_id: str, limit: Limit | None = None
    ) -> list[ChatMessageReference]:
        if parley.read_models.message(message_id) is None:
            raise NotFound(f"message {message_id} not found")
        rows = parley.read_models.references(message_id, None if limit is None else page(0, limit)[1])
        return [reference_from_row(row, parley.read_models.document(row.document_id) is not None) for row in rows]

    @get(
        "/{message_id:str}/meta", status_code=200, operation_id="get_message_meta", responses=READ, sync_to_thread=True
    )
    def get_message_meta(self, parley: Parley, message_id: str, info_type: str | None = None) -> list[ChatMessageMeta]:
        row = parley.read_models.message(message_id)
        if row is None:
            raise NotFound(f"message {message_id} not found")
        if info_type is not None and info_type not in META_TYPES:
            raise InvalidCommand(f"info_type must be one of {', '.join(META_TYPES)}, got {info_type!r}")
        wanted = [info_type] if info_type else list(META_TYPES)
        contents = {kind: getattr(row, kind) for kind in wanted}
        return [ChatMessageMeta(message_type=kind, content=text) for kind, text in contents.items() if text is not None]

    @put(
        "/{message_id:str}/votes",
        status_code=204,
        operation_id="set_message_votes",
        responses=errors(404, 409, 413, 415),
        sync_to_thread=True,
    )
    def set_message_votes(self, parley: Parley, message_id: str, data: MessageVoteUpdateRequest) -> None:
        """A vote on an answer: 1 up, -1 down, 0 taken back (an event; the message's ``votes`` shows it)."""
        parley.sessions().vote(message_id, data.votes)


class FeedbackController(Controller):
    path = f"{API}/question_answer_feedbacks"
    tags = ["chat"]
    request_max_body_size = MAX_JSON_BYTES

    @post(
        "/{answer_id:str}",
        status_code=204,
        operation_id="update_question_answer_feedback",
        responses=errors(404, 409, 413, 415),
        sync_to_thread=True,
    )
    def update_question_answer_feedback(self, parley: Parley, answer_id: str, data: UpdateQAFeedbackRequest) -> None:
        """Feedback on an answer (the expected answer, a comment), replacing earlier feedback on it."""
        parley.sessions().give_feedback(answer_id, data.expected_answer, data.user_comment)
