"""The OpenAI wire format Parley speaks under ``/v1``: what the ``openai`` SDK sends and parses.

Requests keep to the fields Parley can honour; Parley's extensions (the SDK's ``extra_body``) are the last
fields of each. Unknown fields are ignored, as OpenAI-compatible servers do, except those that would change the
answer's meaning (``n``, ``tools``), which are refused where they are read.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec


class ContentPart(msgspec.Struct, frozen=True, kw_only=True):
    type: str
    text: str | None = None


class InputMessage(msgspec.Struct, frozen=True, kw_only=True):
    role: str
    content: str | list[ContentPart] | None = None
    name: str | None = None


class StreamOptions(msgspec.Struct, frozen=True, kw_only=True):
    include_usage: bool = False


class ChatCompletionsRequest(msgspec.Struct, frozen=True, kw_only=True):
    model: str
    messages: list[InputMessage]
    stream: bool = False
    stream_options: StreamOptions | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    seed: int | None = None
    n: int | None = None
    response_format: dict[str, Any] | None = None
    tools: list[Any] | None = None
    # Parley's extensions
    collection_id: str | None = None  # RAG over this collection (a new session on it)
    session_id: str | None = None  # continue this Parley chat session (its history takes part)
    rag_config: dict[str, Any] | None = None  # h2oGPTe's rag_config: rag_type, retrieval, rag_max_chunks, ...
    tags: list[str] | None = None


class UrlCitation(msgspec.Struct, frozen=True, kw_only=True):
    url: str
    title: str
    start_index: int
    end_index: int


class Annotation(msgspec.Struct, frozen=True, kw_only=True):
    """OpenAI's ``url_citation`` annotation, pointing at the cited document's page; the span is the citation
    marker (``[n]``) in the answer, or the whole answer when the answer has no marker for it."""

    type: Literal["url_citation"] = "url_citation"
    url_citation: UrlCitation


class Citation(msgspec.Struct, frozen=True, kw_only=True):
    """One chunk in the answer's context (``metadata.relevant_docs``), as the h2oGPTe references list it."""

    marker: str  # how the answer cites it: [1], [2], ...
    document_id: str
    document_name: str
    page: int | None
    pages: list[int]
    chunk_id: int
    score: float
    quote: str


class AnswerMetadata(msgspec.Struct, frozen=True, kw_only=True):
    session_id: str
    message_id: str
    relevant_docs: list[Citation]


class AssistantMessage(msgspec.Struct, frozen=True, kw_only=True):
    role: Literal["assistant"] = "assistant"
    content: str
    annotations: list[Annotation] = []
    refusal: None = None


class Choice(msgspec.Struct, frozen=True, kw_only=True):
    index: int = 0
    message: AssistantMessage
    finish_reason: str = "stop"
    logprobs: None = None
    metadata: AnswerMetadata


class Usage(msgspec.Struct, frozen=True, kw_only=True):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatCompletion(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage
    # Parley's: the session to continue with (``extra_body={"session_id": ...}``) and the answer's message id
    session_id: str
    message_id: str


class ModelCard(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "parley"


class ModelList(msgspec.Struct, frozen=True, kw_only=True):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class EmbeddingsRequest(msgspec.Struct, frozen=True, kw_only=True):
    input: str | list[str]
    model: str
    encoding_format: str = "float"
    dimensions: int | None = None
    user: str | None = None


class Embedding(msgspec.Struct, frozen=True, kw_only=True):
    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str  # str: base64 of little-endian float32


class EmbeddingUsage(msgspec.Struct, frozen=True, kw_only=True):
    prompt_tokens: int
    total_tokens: int


class EmbeddingList(msgspec.Struct, frozen=True, kw_only=True):
    object: Literal["list"] = "list"
    data: list[Embedding]
    model: str
    usage: EmbeddingUsage


class SearchRequest(msgspec.Struct, frozen=True, kw_only=True):
    """OpenGateLLM's search body, with the h2oGPTe retrieval options (``rag_config``'s names)."""

    collections: list[str]
    prompt: str
    k: int = 10
    method: str = "hybrid"  # hybrid | semantic (dense) | lexical (bm25), or Parley's names dense | bm25
    fusion: str = "score"
    fusion_weight: float = 0.5
    score_threshold: float | None = None


class SearchChunk(msgspec.Struct, frozen=True, kw_only=True):
    id: str  # document_id:ordinal
    content: str
    metadata: dict[str, Any]


class SearchHit(msgspec.Struct, frozen=True, kw_only=True):
    object: Literal["search.result"] = "search.result"
    method: str
    score: float
    chunk: SearchChunk


class SearchResults(msgspec.Struct, frozen=True, kw_only=True):
    object: Literal["list"] = "list"
    data: list[SearchHit]
    usage: EmbeddingUsage


class OpenAIErrorDetail(msgspec.Struct, frozen=True, kw_only=True):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class OpenAIError(msgspec.Struct, frozen=True, kw_only=True):
    error: OpenAIErrorDetail
