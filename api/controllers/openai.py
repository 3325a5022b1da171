"""The OpenAI-compatible API under ``/v1``: chat completions (streamed as server-sent events or not), models,
embeddings and search, for the ``openai`` SDK and everything built on it.

A completion is a question in a Parley chat session, asked through the same use case as h2oGPTe's
``get_completion``: the same events, so a session reads the same through either API. ``model`` names a Parley
model, or ``parley-rag`` for the default model over a collection. Parley's extensions ride in the body (the
SDK's ``extra_body``): ``collection_id`` (RAG over it, in a new session), ``session_id`` (continue that session:
its history takes part, and earlier turns in ``messages`` are the client's copy of it), ``rag_config``
(h2oGPTe's). Each answer's citations come as OpenAI ``url_citation`` annotations and, with their quotes, in
``choices[0].metadata.relevant_docs``; a streamed answer sends them in its last chunk before ``[DONE]``.
Errors have OpenAI's shape, ``{"error": {"message", "type", "param", "code"}}``, so the SDK raises its own
exceptions (``AuthenticationError``, ``NotFoundError``, ...).
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
import msgspec
import numpy as np
from litestar import Controller, Request, Response, get, post
from litestar.exceptions import HTTPException
from litestar.openapi import ResponseSpec
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIResponse, OpenAPIType, Operation, Schema
from litestar.response import Stream

from api.access import principal, readable_collections, require_collection, require_session
from api.auth import Caller
from api.bootstrap import EMBEDDING_MODELS, Parley
from api.controllers._common import ERROR_DESCRIPTIONS, caller
from api.limits import MAX_JSON_BYTES
from api.openai_schemas import (
    Annotation,
    AnswerMetadata,
    AssistantMessage,
    ChatCompletion,
    ChatCompletionsRequest,
    Choice,
    Citation,
    Embedding,
    EmbeddingList,
    EmbeddingsRequest,
    EmbeddingUsage,
    InputMessage,
    ModelCard,
    ModelList,
    OpenAIError,
    OpenAIErrorDetail,
    SearchChunk,
    SearchHit,
    SearchRequest,
    SearchResults,
    UrlCitation,
    Usage,
)
from api.streaming import StreamedAnswer
from domain.access import Level, require_in_scope
from domain.errors import InvalidCommand, NotFound, ParleyError, PermissionDenied
from domain.events import Reference
from domain.ports import SearchQuery
from domain.usecases.ask import AnswerOverrides, Ask, Asked
from domain.views import ReferenceView, page_numbers

RAG_MODEL = "parley-rag"  # the default model, answering over a collection
MODELS_LISTED_AT = int(time.time())  # a model's `created`: when this process started serving it
SEARCH_METHODS = {"hybrid": "hybrid", "semantic": "dense", "dense": "dense", "lexical": "bm25", "bm25": "bm25"}
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    429: "rate_limit_error",
    503: "service_unavailable_error",
}


def openai_errors(*statuses: int) -> dict[int, ResponseSpec]:
    """The error responses of an operation, in OpenAI's error shape: 400, 401 and 500 for all."""
    return {
        status: ResponseSpec(
            data_container=OpenAIError, description=ERROR_DESCRIPTIONS[status], generate_examples=False
        )
        for status in sorted({400, 401, 500, *statuses})
    }


@dataclass
class StreamedCompletionOperation(Operation):
    """Chat completions answer 200 with one ChatCompletion, or with server-sent events when ``stream`` is true."""

    def __post_init__(self) -> None:
        answered = (self.responses or {}).get("200")
        if isinstance(answered, OpenAPIResponse) and answered.content is not None:
            events = Schema(
                type=OpenAPIType.STRING,
                description="`data: <chat.completion.chunk JSON>` events, then "
                '`data: [DONE]`; an answer that fails after streaming began sends `data: {"error": ...}`',
            )
            answered.content["text/event-stream"] = OpenAPIMediaType(schema=events)


def _openai_error(status: int, message: str, code: str | None = None) -> Response[OpenAIError]:
    detail = OpenAIErrorDetail(message=message, type=_ERROR_TYPES.get(status, "api_error"), code=code)
    return Response(OpenAIError(error=detail), status_code=status)


def parley_error(_: Request[Any, Any, Any], error: ParleyError) -> Response[OpenAIError]:
    from api.app import status_for  # the app imports this module: the one status table is read at call time

    return _openai_error(status_for(error), error.message, type(error).__name__)


def http_error(request: Request[Any, Any, Any], error: HTTPException) -> Response[OpenAIError]:
    from api.app import http_error_message  # the same messages as the h2oGPTe routes, in OpenAI's shape

    return _openai_error(error.status_code, http_error_message(request, error), type(error).__name__)


def _text(message: InputMessage) -> str:
    if message.content is None:
        return ""
    if isinstance(message.content, str):
        return message.content
    parts = []
    for part in message.content:
        if part.type != "text" or part.text is None:
            raise InvalidCommand(f"messages: only text content is supported, got a {part.type!r} part")
        parts.append(part.text)
    return "".join(parts)


def _llm_args(data: ChatCompletionsRequest) -> dict[str, Any] | None:
    """OpenAI's sampling fields in h2oGPTe's ``llm_args`` names (checked by the ask use case)."""
    args: dict[str, Any] = {}
    for name in ("temperature", "top_p", "seed"):
        if getattr(data, name) is not None:
            args[name] = getattr(data, name)
    limit = data.max_completion_tokens if data.max_completion_tokens is not None else data.max_tokens
    if limit is not None:
        args["max_new_tokens"] = limit
    if data.response_format is not None:
        kind = data.response_format.get("type")
        if kind in ("text", "json_object"):
            args["response_format"] = kind
        elif kind == "json_schema":
            schema = (data.response_format.get("json_schema") or {}).get("schema")
            if not isinstance(schema, dict):
                raise InvalidCommand("response_format.json_schema.schema must be a JSON schema object")
            args["guided_json"] = schema
        else:
            raise InvalidCommand(f"response_format.type must be text, json_object or json_schema, got {kind!r}")
    return args or None


class _Plan(msgspec.Struct, frozen=True, kw_only=True):
    session_id: str
    ask: Ask


def _known_model(parley: Parley, model: str) -> None:
    if model != RAG_MODEL and model not in {spec.name for spec in parley.answerer.model_specs()}:
        raise NotFound(f"model {model!r} not found; GET /v1/models lists them")


def _plan(parley: Parley, who: Caller, data: ChatCompletionsRequest) -> _Plan:
    """The question and its session (made now when the request names none), checked before anything is asked."""
    _known_model(parley, data.model)
    if data.n not in (None, 1):
        raise InvalidCommand("n: Parley makes one answer per request")
    if data.tools:
        raise InvalidCommand("tools: Parley's models do not call tools")
    if data.tags:
        raise InvalidCommand("tags: Parley has no document tags; name a collection_id instead")
    if not data.messages or data.messages[-1].role != "user":
        raise InvalidCommand("messages must end with the user's question")
    question = _text(data.messages[-1])
    system = "\n\n".join(_text(m) for m in data.messages if m.role in ("system", "developer")) or None
    earlier = [m for m in data.messages[:-1] if m.role not in ("system", "developer")]
    llm_args = _llm_args(data)
    if data.session_id is not None:
        require_session(parley.read_models, principal(who), data.session_id)
        session = parley.read_models.chat_session(data.session_id)
        if session is None:
            raise NotFound(f"chat session {data.session_id} not found")
        if data.collection_id is not None and data.collection_id != session.collection_id:
            raise InvalidCommand("collection_id is not the collection of session_id; leave one of them out")
        session_id = session.id
    else:
        if earlier:
            raise InvalidCommand(
                "earlier turns need their Parley session: send the session_id of the first answer "
                "(extra_body={'session_id': ...}) so that its history is the recorded one"
            )
        if data.model == RAG_MODEL and data.collection_id is None:
            raise InvalidCommand(f"model {RAG_MODEL} answers over a collection: send collection_id")
        if data.collection_id is None:
            require_in_scope(principal(who), None)
        else:
            require_collection(parley.read_models, principal(who), data.collection_id, Level.READ)
        session_id = parley.sessions().create(data.collection_id, who.username).id
    overrides = AnswerOverrides(
        system_prompt=system,
        llm=None if data.model == RAG_MODEL else data.model,
        llm_args=llm_args,
        rag_config=data.rag_config,
    )
    return _Plan(
        session_id=session_id, ask=Ask(session_id=session_id, message=question, actor=who.username, overrides=overrides)
    )


def _citations(references: list[ReferenceView], text: str) -> tuple[list[Citation], list[Annotation]]:
    citations, annotations = [], []
    for row in references:
        marker = f"[{row.rank + 1}]"
        pages = list(page_numbers(row.pages))
        citations.append(
            Citation(
                marker=marker,
                document_id=row.document_id,
                document_name=row.document_name,
                page=pages[0] if pages else None,
                pages=pages,
                chunk_id=row.chunk_id,
                score=row.score,
                quote=row.content,
            )
        )
        start = text.find(marker)
        span = (start, start + len(marker)) if start >= 0 else (0, len(text))
        page = f"?page={pages[0]}" if pages else ""
        where = f", page {pages[0]}" if len(pages) == 1 else f", pages {pages[0]}-{pages[-1]}" if pages else ""
        title = f"{row.document_name}{where}"
        url = f"/api/v1/documents/{row.document_id}{page}"
        annotations.append(
            Annotation(url_citation=UrlCitation(url=url, title=title, start_index=span[0], end_index=span[1]))
        )
    return citations, annotations


def _usage(parley: Parley, message_id: str) -> Usage:
    row = parley.read_models.message(message_id)
    stats = json.loads(row.usage_stats) if row is not None and row.usage_stats else {}
    prompt, completion = int(stats.get("input_tokens", 0)), int(stats.get("output_tokens", 0))
    return Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion)


def _answered(parley: Parley, plan: _Plan, asked: Asked) -> tuple[AnswerMetadata, list[Annotation], Usage]:
    citations, annotations = _citations(parley.read_models.references(asked.message_id), asked.text)
    metadata = AnswerMetadata(session_id=plan.session_id, message_id=asked.message_id, relevant_docs=citations)
    return metadata, annotations, _usage(parley, asked.message_id)


def _sse(payload: Any) -> bytes:
    return b"data: " + msgspec.json.encode(payload) + b"\n\n"


def _tokens(parley: Parley, texts: list[str]) -> int:
    return sum(len(parley.tokenizer.token_spans(text)) for text in texts)


def _no_scoped_keys(who: Caller) -> None:
    if who.collection_id is not None:
        raise PermissionDenied("a collection-scoped API key may only chat in its collection")


class OpenAIController(Controller):
    path = "/v1"
    tags = ["openai"]
    request_max_body_size = MAX_JSON_BYTES
    exception_handlers = {ParleyError: parley_error, HTTPException: http_error}

    @get("/models", status_code=200, operation_id="openai_list_models", responses=openai_errors(), sync_to_thread=True)
    def list_models(self, parley: Parley) -> ModelList:
        names = [RAG_MODEL, *(spec.name for spec in parley.answerer.model_specs())]
        return ModelList(data=[ModelCard(id=name, created=MODELS_LISTED_AT) for name in names])

    @get(
        "/models/{model:str}",
        status_code=200,
        operation_id="openai_get_model",
        responses=openai_errors(404),
        sync_to_thread=True,
    )
    def get_model(self, parley: Parley, model: str) -> ModelCard:
        _known_model(parley, model)
        return ModelCard(id=model, created=MODELS_LISTED_AT)

    @post(
        "/chat/completions",
        status_code=200,
        operation_id="openai_chat_completions",
        responses={
            200: ResponseSpec(data_container=ChatCompletion, description="The answer, or server-sent events"),
            **openai_errors(403, 404, 409, 413, 415, 503),
        },
        operation_class=StreamedCompletionOperation,
    )
    async def chat_completions(
        self, parley: Parley, request: Request[Any, Any, Any], data: ChatCompletionsRequest
    ) -> Response[Any]:
        plan = await anyio.to_thread.run_sync(_plan, parley, caller(request), data)
        created = int(time.time())
        if not data.stream:
            asked = await anyio.to_thread.run_sync(parley.asking(), plan.ask)
            metadata, annotations, usage = await anyio.to_thread.run_sync(_answered, parley, plan, asked)
            message = AssistantMessage(content=asked.text, annotations=annotations)
            return Response(
                ChatCompletion(
                    id=f"chatcmpl-{asked.message_id}",
                    created=created,
                    model=data.model,
                    choices=[Choice(message=message, metadata=metadata)],
                    usage=usage,
                    session_id=plan.session_id,
                    message_id=asked.message_id,
                )
            )
        streamed = StreamedAnswer(lambda on_delta: parley.asking()(plan.ask, on_delta=on_delta))
        await streamed.start()  # an error before any text is a plain status code
        include_usage = data.stream_options is not None and data.stream_options.include_usage
        return Stream(
            self._events(parley, plan, streamed, data.model, created, include_usage),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache"},
        )

    @staticmethod
    async def _events(
        parley: Parley, plan: _Plan, streamed: StreamedAnswer, model: str, created: int, include_usage: bool
    ) -> AsyncIterator[bytes]:
        chunk_id = f"chatcmpl-{uuid.uuid4()}"

        def chunk(choices: list[dict[str, Any]], **extra: Any) -> bytes:
            body = {"id": chunk_id, "object": "chat.completion.chunk", "created": created, "model": model}
            return _sse({**body, "choices": choices, **extra})

        yield chunk([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}])
        async for delta in streamed.deltas():
            yield chunk([{"index": 0, "delta": {"content": delta}, "finish_reason": None}])
        if streamed.asked is None:
            error = streamed.error
            message = error.message if isinstance(error, ParleyError) else "internal error"
            yield _sse({"error": {"message": message, "type": "api_error", "code": type(error).__name__}})
        else:
            metadata, annotations, usage = await anyio.to_thread.run_sync(_answered, parley, plan, streamed.asked)
            last = {
                "index": 0,
                "delta": {"annotations": msgspec.to_builtins(annotations)},
                "finish_reason": "stop",
                "metadata": msgspec.to_builtins(metadata),
            }
            yield chunk([last], session_id=plan.session_id, message_id=streamed.asked.message_id)
            if include_usage:
                yield chunk([], usage=msgspec.to_builtins(usage))
        yield b"data: [DONE]\n\n"

    @post("/embeddings", status_code=200, operation_id="openai_embeddings", responses=openai_errors(403, 404, 413, 415))
    async def embeddings(
        self, parley: Parley, request: Request[Any, Any, Any], data: EmbeddingsRequest
    ) -> EmbeddingList:
        _no_scoped_keys(caller(request))
        if data.model not in EMBEDDING_MODELS:
            raise NotFound(
                f"embedding model {data.model!r} not found; Parley embeds with {', '.join(EMBEDDING_MODELS)}"
            )
        texts = [data.input] if isinstance(data.input, str) else list(data.input)
        if not texts or len(texts) > 256 or any(not text.strip() for text in texts):
            raise InvalidCommand("input: give 1 to 256 texts, none empty")
        if data.dimensions is not None and data.dimensions != parley.embedder.dimension:
            raise InvalidCommand(f"dimensions: {data.model} makes {parley.embedder.dimension}-dimensional vectors")
        if data.encoding_format not in ("float", "base64"):
            raise InvalidCommand(f"encoding_format must be float or base64, got {data.encoding_format!r}")
        vectors = await anyio.to_thread.run_sync(parley.embedder.embed, texts)
        tokens = await anyio.to_thread.run_sync(_tokens, parley, texts)
        data_out = []
        for index, vector in enumerate(np.asarray(vectors, dtype=np.float32)):
            encoded: list[float] | str = (
                base64.b64encode(vector.astype("<f4").tobytes()).decode()
                if data.encoding_format == "base64"
                else [float(value) for value in vector]
            )
            data_out.append(Embedding(index=index, embedding=encoded))
        return EmbeddingList(
            data=data_out, model=data.model, usage=EmbeddingUsage(prompt_tokens=tokens, total_tokens=tokens)
        )

    @post("/search", status_code=200, operation_id="openai_search", responses=openai_errors(403, 404, 413, 415, 503))
    async def search(self, parley: Parley, request: Request[Any, Any, Any], data: SearchRequest) -> SearchResults:
        """Hybrid (or dense, or BM25) search over collections, as an answer's retrieval, without an answer."""
        who = caller(request)
        _no_scoped_keys(who)
        # Only collections the caller may read are searched: another user's private one is 404, as if absent.
        await anyio.to_thread.run_sync(readable_collections, parley.read_models, principal(who), data.collections)
        if data.method not in SEARCH_METHODS:
            raise InvalidCommand(f"method must be one of {', '.join(SEARCH_METHODS)}, got {data.method!r}")
        query = SearchQuery(
            text=data.prompt,
            top_k=data.k,
            mode=SEARCH_METHODS[data.method],
            fusion=data.fusion,
            fusion_weight=data.fusion_weight,
            min_score=data.score_threshold,
        )
        hits: list[Reference] = await anyio.to_thread.run_sync(parley.searching(), data.collections, query)
        tokens = await anyio.to_thread.run_sync(_tokens, parley, [data.prompt])
        results = [
            SearchHit(
                method=data.method,
                score=hit.score,
                chunk=SearchChunk(
                    id=f"{hit.document_id}:{hit.chunk_ordinal}",
                    content=hit.content,
                    metadata={
                        "collection_id": hit.collection_id,
                        "document_id": hit.document_id,
                        "document_name": hit.document_name,
                        "pages": list(hit.pages),
                        "chunk_id": hit.chunk_id,
                    },
                ),
            )
            for hit in hits
        ]
        return SearchResults(data=results, usage=EmbeddingUsage(prompt_tokens=tokens, total_tokens=tokens))
