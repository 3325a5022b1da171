"""Collections: create, list, count, read, update, delete, settings, prompt template, and its documents and chats."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, delete, get, patch, post, put

from api.access import principal, require_template
from api.bootstrap import Parley
from api.controllers._common import API, COMMAND, LIST, READ, Limit, Offset, caller, errors, page
from api.limits import MAX_JSON_BYTES
from api.schemas import (
    ChatSession,
    Collection,
    CollectionCreateRequest,
    CollectionUpdateRequest,
    Count,
    Document,
    PromptTemplateChangeRequest,
    SuggestedQuestion,
    chat_session_from_row,
    collection_from_row,
    document_from_row,
)
from domain.access import Level
from domain.errors import NotFound
from domain.events import ChatSettings, CollectionSettings
from domain.views import CollectionView


def _collection(parley: Parley, collection_id: str) -> CollectionView:
    row = parley.read_models.collection(collection_id)
    if row is None:
        raise NotFound(f"collection {collection_id} not found")
    return row


class CollectionController(Controller):
    path = f"{API}/collections"
    tags = ["collections"]
    request_max_body_size = MAX_JSON_BYTES

    @post("/", status_code=201, operation_id="create_collection", responses=errors(409, 413, 415), sync_to_thread=True)
    def create_collection(
        self, parley: Parley, request: Request[Any, Any, Any], data: CollectionCreateRequest
    ) -> Collection:
        row = parley.collections().create(
            name=data.name,
            description=data.description,
            embedding_model=data.embedding_model,
            settings=data.collection_settings,
            chat_settings=data.chat_settings,
            owner=caller(request).username,
        )
        return collection_from_row(row)

    @get("/", status_code=200, operation_id="list_collections", responses=LIST, sync_to_thread=True)
    def list_collections(
        self,
        parley: Parley,
        request: Request[Any, Any, Any],
        offset: Offset = 0,
        limit: Limit = 100,
        sort_column: str = "updated_at",
        ascending: bool = False,
    ) -> list[Collection]:
        offset, limit = page(offset, limit)
        rows = parley.read_models.collections(offset, limit, sort_column, ascending, viewer=principal(caller(request)))
        return [collection_from_row(row) for row in rows]

    @get("/count", status_code=200, operation_id="get_collection_count", responses=LIST, sync_to_thread=True)
    def get_collection_count(self, parley: Parley, request: Request[Any, Any, Any]) -> Count:
        return Count(count=parley.read_models.collection_count(viewer=principal(caller(request))))

    @get("/{collection_id:str}", status_code=200, operation_id="get_collection", responses=READ, sync_to_thread=True)
    def get_collection(self, parley: Parley, collection_id: str) -> Collection:
        return collection_from_row(_collection(parley, collection_id))

    @patch(
        "/{collection_id:str}",
        status_code=200,
        operation_id="update_collection",
        responses=COMMAND,
        sync_to_thread=True,
    )
    def update_collection(self, parley: Parley, collection_id: str, data: CollectionUpdateRequest) -> Collection:
        changes = {"name": data.name, "description": data.description, "rag_type": data.rag_type}
        return collection_from_row(parley.collections().update(collection_id, **changes))

    @delete(
        "/{collection_id:str}",
        status_code=204,
        operation_id="delete_collection",
        responses=errors(404, 409),
        sync_to_thread=True,
    )
    def delete_collection(self, parley: Parley, collection_id: str, timeout: float | None = None) -> None:
        parley.collections().delete(collection_id)

    @get(
        "/{collection_id:str}/settings",
        status_code=200,
        operation_id="get_collection_settings",
        responses=READ,
        sync_to_thread=True,
    )
    def get_collection_settings(self, parley: Parley, collection_id: str) -> CollectionSettings:
        row = _collection(parley, collection_id)
        return msgspec.json.decode(row.settings, type=CollectionSettings)

    @put(
        "/{collection_id:str}/settings",
        status_code=204,
        operation_id="update_collection_settings",
        responses=COMMAND,
        sync_to_thread=True,
    )
    def update_collection_settings(self, parley: Parley, collection_id: str, data: CollectionSettings) -> None:
        parley.collections().replace_settings(collection_id, data)

    @get(
        "/{collection_id:str}/chat_settings",
        status_code=200,
        operation_id="get_collection_chat_settings",
        responses=READ,
        sync_to_thread=True,
    )
    def get_collection_chat_settings(self, parley: Parley, collection_id: str) -> ChatSettings:
        return parley.collections().chat_settings(collection_id)

    @put(
        "/{collection_id:str}/chat_settings",
        status_code=204,
        operation_id="update_collection_chat_settings",
        responses=COMMAND,
        sync_to_thread=True,
    )
    def update_collection_chat_settings(self, parley: Parley, collection_id: str, data: ChatSettings) -> None:
        """Replaces the whole chat settings, checked by the rules of a completion."""
        parley.collections().replace_chat_settings(collection_id, data)

    @delete(
        "/{collection_id:str}/prompt_settings",
        status_code=204,
        operation_id="reset_collection_prompt_settings",
        responses=errors(404, 409),
        sync_to_thread=True,
    )
    def reset_collection_prompt_settings(self, parley: Parley, collection_id: str) -> None:
        """Detaches the collection's prompt template and removes the prompt texts from its chat settings."""
        parley.collections().reset_prompt_settings(collection_id)

    @put(
        "/{collection_id:str}/prompt_template",
        status_code=200,
        operation_id="update_collection_prompt_template",
        responses=COMMAND,
        sync_to_thread=True,
    )
    def update_collection_prompt_template(
        self, parley: Parley, request: Request[Any, Any, Any], collection_id: str, data: PromptTemplateChangeRequest
    ) -> Collection:
        """The collection's answers are made with this template (a session's template and a request's fields win)."""
        require_template(parley.read_models, principal(caller(request)), data.prompt_template_id, Level.READ)
        return collection_from_row(parley.collections().attach_template(collection_id, data.prompt_template_id))

    @delete(
        "/{collection_id:str}/prompt_template",
        status_code=200,
        operation_id="delete_collection_prompt_template",
        responses=errors(404, 409),
        sync_to_thread=True,
    )
    def delete_collection_prompt_template(self, parley: Parley, collection_id: str) -> Collection:
        return collection_from_row(parley.collections().detach_template(collection_id))

    @get(
        "/{collection_id:str}/documents",
        status_code=200,
        operation_id="list_documents_for_collection",
        responses=READ,
        sync_to_thread=True,
    )
    def list_documents_for_collection(
        self, parley: Parley, collection_id: str, offset: Offset = 0, limit: Limit = 100, with_summaries: bool = False
    ) -> list[Document]:
        _collection(parley, collection_id)
        offset, limit = page(offset, limit)
        rows = parley.read_models.documents(offset, limit, collection_id=collection_id)
        return [document_from_row(row, with_summaries) for row in rows]

    @get(
        "/{collection_id:str}/documents/count",
        status_code=200,
        operation_id="get_document_count_for_collection",
        responses=READ,
        sync_to_thread=True,
    )
    def get_document_count_for_collection(self, parley: Parley, collection_id: str) -> Count:
        _collection(parley, collection_id)
        return Count(count=parley.read_models.document_count(collection_id))

    @delete(
        "/{collection_id:str}/documents/{document_id:str}",
        status_code=204,
        operation_id="delete_document_from_collection",
        responses=errors(404, 409),
        sync_to_thread=True,
    )
    def delete_document_from_collection(
        self, parley: Parley, collection_id: str, document_id: str, timeout: float | None = None
    ) -> None:
        parley.collections().remove_document(collection_id, document_id)

    @get(
        "/{collection_id:str}/questions",
        status_code=200,
        operation_id="list_questions_for_collection",
        responses=READ,
        sync_to_thread=True,
    )
    def list_questions_for_collection(
        self, parley: Parley, collection_id: str, limit: Limit = 10
    ) -> list[SuggestedQuestion]:
        """Questions suggested at ingestion (``gen_doc_questions``) for the collection's documents, else its prompt
        template's ``default_sample_questions``."""
        row = _collection(parley, collection_id)
        _, limit = page(0, limit)
        questions = parley.read_models.suggested_questions(collection_id, limit)
        if not questions:  # before its documents suggest any: its template's default_sample_questions
            questions = parley.prompt_templates().sample_questions(row.prompt_template_id)[:limit]
        return [SuggestedQuestion(question=q) for q in questions]

    @get(
        "/{collection_id:str}/chats",
        status_code=200,
        operation_id="list_chat_sessions_for_collection",
        responses=READ,
        sync_to_thread=True,
    )
    def list_chat_sessions_for_collection(
        self,
        parley: Parley,
        request: Request[Any, Any, Any],
        collection_id: str,
        offset: Offset = 0,
        limit: Limit = 100,
    ) -> list[ChatSession]:
        """The caller's own chat sessions on the collection (an admin's: everyone's)."""
        _collection(parley, collection_id)
        offset, limit = page(offset, limit)
        viewer = principal(caller(request))
        rows = parley.read_models.chat_sessions(offset, limit, collection_id=collection_id, viewer=viewer)
        return [chat_session_from_row(row) for row in rows]

    @get(
        "/{collection_id:str}/chats/count",
        status_code=200,
        operation_id="get_chat_session_count_for_collection",
        responses=READ,
        sync_to_thread=True,
    )
    def get_chat_session_count_for_collection(
        self, parley: Parley, request: Request[Any, Any, Any], collection_id: str
    ) -> Count:
        _collection(parley, collection_id)
        viewer = principal(caller(request))
        return Count(count=parley.read_models.chat_session_count(collection_id, viewer=viewer))
