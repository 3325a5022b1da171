"""Chat sessions, completions, messages, references and message meta."""

from __future__ import annotations

import uuid
from typing import Any

import anyio.to_thread
from litestar import Controller, Request, delete, get, patch, post

from api.bootstrap import Parley
from api.chat import ask
from api.controllers._common import API, caller, optional_body, page
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
    chat_message_from_row,
    chat_session_from_row,
    reference_from_row,
)
from domain import chat
from domain.errors import InvalidCommand, NotFound
from domain.service import stream_name

META_TYPES = ("usage_stats", "prompt_raw", "llm_only", "hyde1", "self_reflection")


def _session(parley: Parley, session_id: str) -> dict[str, Any]:
    row = parley.read_models.chat_session(session_id)
    if row is None:
        raise NotFound(f"chat session {session_id} not found")
    return row


class ChatController(Controller):
    path = f"{API}/chats"
    tags = ["chat"]

    @post("/", status_code=201, operation_id="create_chat_session")
    async def create_chat_session(
        self, parley: Parley, request: Request[Any, Any, Any], collection_id: str | None = None
    ) -> ChatSession:
        await optional_body(request, CreateChatSessionRequest)
        who = caller(request)
        who.check_collection(collection_id)

        def create() -> ChatSession:
            if collection_id is not None and parley.read_models.collection(collection_id) is None:
                raise NotFound(f"collection {collection_id} not found")
            session_id = str(uuid.uuid4())
            result = parley.handler.execute(
                chat,
                stream_name("chat", session_id),
                chat.CreateChatSession(session_id=session_id, collection_id=collection_id, owner=who.username),
            )
            parley.wait_for(result.commit_position if result else None)
            return chat_session_from_row(_session(parley, session_id))

        return await anyio.to_thread.run_sync(create)

    @get("/", status_code=200, operation_id="list_chat_sessions", sync_to_thread=True)
    def list_chat_sessions(self, parley: Parley, offset: int = 0, limit: int = 100) -> list[ChatSession]:
        offset, limit = page(offset, limit)
        return [chat_session_from_row(row) for row in parley.read_models.chat_sessions(offset, limit)]

    @get("/count", status_code=200, operation_id="get_chat_session_count", sync_to_thread=True)
    def get_chat_session_count(self, parley: Parley) -> Count:
        return Count(count=parley.read_models.chat_session_count())

    @get("/{session_id:str}", status_code=200, operation_id="get_chat_session", sync_to_thread=True)
    def get_chat_session(self, parley: Parley, session_id: str) -> ChatSession:
        return chat_session_from_row(_session(parley, session_id))

    @patch("/{session_id:str}", status_code=200, operation_id="update_chat_session", sync_to_thread=True)
    def update_chat_session(self, parley: Parley, session_id: str, data: ChatSessionUpdateRequest) -> ChatSession:
        result = parley.handler.execute(
            chat, stream_name("chat", session_id), chat.RenameChatSession(session_id=session_id, name=data.name)
        )
        parley.wait_for(result.commit_position if result else None)
        return chat_session_from_row(_session(parley, session_id))

    @delete("/{session_id:str}", status_code=204, operation_id="delete_chat_session", sync_to_thread=True)
    def delete_chat_session(self, parley: Parley, session_id: str, timeout: float | None = None) -> None:
        result = parley.handler.execute(
            chat, stream_name("chat", session_id), chat.DeleteChatSession(session_id=session_id)
        )
        parley.wait_for(result.commit_position if result else None)

    @post("/{session_id:str}/completions", status_code=200, operation_id="get_completion", sync_to_thread=True)
    def get_completion(
        self, parley: Parley, request: Request[Any, Any, Any], session_id: str, data: ChatCompletionRequest
    ) -> ChatCompletion:
        who = caller(request)
        who.check_collection(_session(parley, session_id)["collection_id"])
        message_id, body = ask(parley, session_id, data, who.username)
        return ChatCompletion(message_id=message_id, body=body)

    @get("/{session_id:str}/messages", status_code=200, operation_id="get_chat_session_messages", sync_to_thread=True)
    def get_chat_session_messages(
        self, parley: Parley, session_id: str, offset: int = 0, limit: int = 100
    ) -> list[ChatMessage]:
        _session(parley, session_id)
        offset, limit = page(offset, limit)
        return [chat_message_from_row(row) for row in parley.read_models.messages(session_id, offset, limit)]


class MessageController(Controller):
    path = f"{API}/messages"
    tags = ["chat"]

    @get("/{message_id:str}/references", status_code=200, operation_id="get_message_references", sync_to_thread=True)
    def get_message_references(
        self, parley: Parley, message_id: str, limit: int | None = None
    ) -> list[ChatMessageReference]:
        if parley.read_models.message(message_id) is None:
            raise NotFound(f"message {message_id} not found")
        if limit is not None and limit < 0:
            raise InvalidCommand("limit must not be negative")
        rows = parley.read_models.references(message_id, limit)
        return [reference_from_row(row, parley.read_models.document(row["document_id"]) is not None) for row in rows]

    @get("/{message_id:str}/meta", status_code=200, operation_id="get_message_meta", sync_to_thread=True)
    def get_message_meta(self, parley: Parley, message_id: str, info_type: str | None = None) -> list[ChatMessageMeta]:
        row = parley.read_models.message(message_id)
        if row is None:
            raise NotFound(f"message {message_id} not found")
        if info_type is not None and info_type not in META_TYPES:
            raise InvalidCommand(f"info_type must be one of {', '.join(META_TYPES)}, got {info_type!r}")
        wanted = [info_type] if info_type else list(META_TYPES)
        return [ChatMessageMeta(message_type=kind, content=row[kind]) for kind in wanted if row.get(kind) is not None]
