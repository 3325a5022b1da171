"""Asking a question in a chat session: resolve the settings, answer, record question and answer together."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec

from api.bootstrap import Parley
from api.schemas import ChatCompletionRequest
from domain import chat
from domain.answering import (
    CLIENT_DEFAULT_PRE_PROMPT_QUERY,
    CLIENT_DEFAULT_PROMPT_QUERY,
    DEFAULT_PRE_PROMPT_QUERY,
    DEFAULT_PROMPT_QUERY,
    DEFAULT_SYSTEM_PROMPT,
    FUSION_MODES,
    RETRIEVAL_MODES,
    AnswerRequest,
    Turn,
)
from domain.collection import RAG_TYPES
from domain.errors import BackendUnavailable, InvalidCommand, NotFound
from domain.events import AnswerGenerated, ChatSettings
from domain.service import stream_name

HISTORY_TURNS = 5
HISTORY_ON = {"true", "on", "auto"}
HISTORY_OFF = {"false", "off"}


def _rag_config(request: ChatCompletionRequest, defaults: ChatSettings) -> dict[str, Any]:
    merged = dict(defaults.rag_config or {})
    merged.update(request.rag_config or {})
    return merged


def _number(config: dict[str, Any], key: str, kind: type, default: Any) -> Any:
    value = config.get(key, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or (kind is int and not isinstance(value, int)):
        raise InvalidCommand(f"rag_config.{key} must be a{'n integer' if kind is int else ' number'}, got {value!r}")
    return value


def _choice(config: dict[str, Any], key: str, allowed: tuple[str, ...]) -> str:
    value = config.get(key, allowed[0])
    if value not in allowed:
        raise InvalidCommand(f"rag_config.{key} must be one of {', '.join(allowed)}, got {value!r}")
    return str(value)


def build_answer_request(parley: Parley, session: dict[str, Any], request: ChatCompletionRequest) -> AnswerRequest:
    collection = parley.read_models.collection(session["collection_id"]) if session["collection_id"] else None
    defaults = (
        msgspec.json.decode(collection["chat_settings"], type=ChatSettings)
        if collection is not None
        else ChatSettings()
    )
    config = _rag_config(request, defaults)
    rag_type = config.get("rag_type") or (collection or {}).get("rag_type") or "rag"
    if rag_type not in RAG_TYPES:
        raise InvalidCommand(f"rag_config.rag_type must be one of {', '.join(RAG_TYPES)}, got {rag_type!r}")
    if rag_type == "auto":
        rag_type = "rag"
    if collection is None:
        rag_type = "llm_only"
    max_chunks = _number(config, "rag_max_chunks", int, 10)
    if not 1 <= max_chunks <= 200:
        raise InvalidCommand("rag_config.rag_max_chunks must be between 1 and 200")
    min_score = _number(config, "rag_min_chunk_score", float, None)
    retrieval = _choice(config, "retrieval", RETRIEVAL_MODES)
    fusion = _choice(config, "fusion", FUSION_MODES)
    fusion_weight = _number(config, "fusion_weight", float, 0.5)
    if not 0.0 <= fusion_weight <= 1.0:
        raise InvalidCommand("rag_config.fusion_weight must lie between 0 and 1")
    llm = request.llm or defaults.llm or parley.settings.default_llm
    if llm == "auto":
        llm = parley.settings.default_llm
    history_mode = (request.include_chat_history or defaults.include_chat_history or "auto").lower()
    if history_mode not in HISTORY_ON | HISTORY_OFF:
        raise InvalidCommand(f"include_chat_history must be true, false or auto, got {history_mode!r}")
    history = _history(parley, session["id"]) if history_mode in HISTORY_ON else ()
    pre_prompt = request.pre_prompt_query
    if pre_prompt is None or pre_prompt == CLIENT_DEFAULT_PRE_PROMPT_QUERY:
        pre_prompt = DEFAULT_PRE_PROMPT_QUERY
    prompt_query = request.prompt_query
    if prompt_query is None or prompt_query == CLIENT_DEFAULT_PROMPT_QUERY:
        prompt_query = DEFAULT_PROMPT_QUERY
    system_prompt = DEFAULT_SYSTEM_PROMPT if request.system_prompt == "auto" else request.system_prompt
    return AnswerRequest(
        question=request.message,
        collection_id=session["collection_id"] if collection is not None else None,
        rag_type=rag_type,
        llm=llm,
        llm_args=request.llm_args or defaults.llm_args or {},
        system_prompt=system_prompt,
        pre_prompt_query=pre_prompt,
        prompt_query=prompt_query,
        rag_max_chunks=max_chunks,
        rag_min_chunk_score=min_score,
        retrieval=retrieval,
        fusion=fusion,
        fusion_weight=fusion_weight,
        history=history,
    )


def _history(parley: Parley, session_id: str) -> tuple[Turn, ...]:
    messages = parley.read_models.messages(session_id)
    questions = {m["id"]: m["content"] for m in messages if m["reply_to"] is None}
    turns = [
        Turn(question=questions[m["reply_to"]], answer=m["content"])
        for m in messages
        if m["reply_to"] in questions and m["error"] is None
    ]
    return tuple(turns[-HISTORY_TURNS:])


def ask(parley: Parley, session_id: str, request: ChatCompletionRequest, username: str) -> tuple[str, str]:
    """Answer ``request`` in the session; returns (answer message id, answer text).

    A client mistake raises before anything is recorded. A backend failure is recorded as AnswerFailed and
    re-raised, so the session shows the question and why it has no answer.
    """
    session = parley.read_models.chat_session(session_id)
    if session is None:
        raise NotFound(f"chat session {session_id} not found")
    if not request.message.strip():
        raise InvalidCommand("message cannot be empty")
    answer_request = build_answer_request(parley, session, request)
    question_id, answer_id = str(uuid.uuid4()), str(uuid.uuid4())
    stream = stream_name("chat", session_id)
    asked = chat.AskQuestion(session_id=session_id, message_id=question_id, text=request.message, username=username)
    try:
        answer = parley.answerer.answer(answer_request)
    except BackendUnavailable as error:
        failure = chat.RecordAnswerFailure(
            session_id=session_id,
            message_id=answer_id,
            reply_to=question_id,
            reason=error.message,
            error_type=type(error).__name__,
        )
        parley.wait_for(_position(parley.handler.execute(chat, stream, asked, failure)))
        raise
    event = AnswerGenerated(
        session_id=session_id,
        message_id=answer_id,
        reply_to=question_id,
        text=answer.text,
        references=answer.references,
        rag_type=answer.rag_type,
        llm=answer.llm,
        llm_args=answer_request.llm_args,
        template_id=None,
        template_version=None,
        prompt_raw=answer.prompt_raw,
        usage=answer.usage,
        timings=answer.timings,
    )
    result = parley.handler.execute(chat, stream, asked, chat.RecordAnswer(answer=event))
    parley.wait_for(_position(result))
    return answer_id, answer.text


def _position(result: Any) -> int | None:
    return result.commit_position if result is not None else None
