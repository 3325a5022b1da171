"""What the read side returns: one typed view per read model, the same whatever store serves it.

The read models are folded from events by a store's projector (``ReadModelStore``) and read through
``ReadModelQueries``; these views are what those queries return, so the API, the use cases and the pipelines
never see a store's row type. Values JSON-encoded in events (settings, metadata, llm_args, usage) stay JSON text:
the API hands most of them on as they are, and the few readers that need them decode them with their own type.
"""

from __future__ import annotations

from datetime import datetime

import msgspec


def page_numbers(pages: str) -> tuple[int, ...]:
    """The page numbers of a chunk's ``pages`` column ("3,4"), in order."""
    return tuple(int(page) for page in pages.split(",") if page)


class View(msgspec.Struct, frozen=True, kw_only=True):
    """A read model's row: immutable, compared by value (a rebuild must equal the live read models)."""


class CollectionView(View, frozen=True, kw_only=True):
    id: str
    name: str
    description: str
    embedding_model: str
    settings: str  # JSON of CollectionSettings
    chat_settings: str  # JSON of ChatSettings
    rag_type: str | None
    owner: str
    created_at: datetime
    updated_at: datetime
    document_count: int = 0
    document_size: int = 0
    sessions_count: int = 0
    next_chunk_id: int = 1  # the collection-wide id its next chunk gets
    prompt_template_id: str | None = None  # the template its answers are made with
    is_public: bool = False
    user_count: int = 1  # its owner and the users it is shared with


class UploadView(View, frozen=True, kw_only=True):
    id: str
    filename: str
    size: int
    content_hash: str
    owner: str
    created_at: datetime


class DocumentView(View, frozen=True, kw_only=True):
    id: str
    collection_id: str
    upload_id: str
    job_id: str | None
    name: str
    type: str
    size: int
    page_count: int
    status: str  # completed | failed
    error: str | None
    content_hash: str | None
    metadata: str  # JSON object
    owner: str
    created_at: datetime
    updated_at: datetime
    summary: str | None = None
    summary_llm: str | None = None


class ChunkView(View, frozen=True, kw_only=True):
    collection_id: str
    chunk_id: int  # unique in its collection
    document_id: str
    document_name: str
    ordinal: int  # its place in its document
    text: str
    pages: str  # comma-separated page numbers
    start: int
    end: int
    content_hash: str
    token_count: int


class ChatSessionView(View, frozen=True, kw_only=True):
    id: str
    collection_id: str | None
    collection_name: str | None
    name: str | None
    owner: str
    created_at: datetime
    updated_at: datetime
    latest_message_content: str | None = None
    prompt_template_id: str | None = None  # the template its answers are made with, over its collection's


class MessageView(View, frozen=True, kw_only=True):
    id: str
    session_id: str
    seq: int  # its place in the session's stream
    content: str
    reply_to: str | None  # None for a question
    error: str | None
    username: str | None
    created_at: datetime
    llm: str | None = None
    llm_args: str | None = None  # JSON
    rag_type: str | None = None
    total_references: int = 0
    usage_stats: str | None = None  # JSON
    prompt_raw: str | None = None
    llm_only: str | None = None
    hyde1: str | None = None
    self_reflection: str | None = None
    votes: int = 0
    expected_answer: str | None = None  # the reader's feedback on an answer
    user_comment: str | None = None


class ReferenceView(View, frozen=True, kw_only=True):
    message_id: str
    rank: int
    collection_id: str
    document_id: str
    document_name: str
    chunk_id: int
    score: float
    pages: str  # comma-separated page numbers
    content: str


class JobView(View, frozen=True, kw_only=True):
    id: str
    kind: str
    name: str
    collection_id: str | None
    owner: str
    items_total: int
    items_completed: int
    items_failed: int
    item_progress: float  # the share of the current item done
    status: str  # in progress | completed | failed | canceled
    timeout: float | None
    created_at: datetime
    updated_at: datetime


class JobItemView(View, frozen=True, kw_only=True):
    job_id: str
    seq: int
    item_id: str
    status: str
    document_id: str | None
    error: str | None


class ApiKeyView(View, frozen=True, kw_only=True):
    id: str
    name: str
    username: str
    secret_hash: str
    hint: str
    collection_id: str | None
    is_admin: bool
    active: bool
    created_at: datetime
    expires_at: datetime | None = None
    inactivity_interval: int | None = None  # days
    last_used_at: datetime | None = None
    total_calls: int = 0
    collection_name: str | None = None  # joined in by the key listings


class TemplateView(View, frozen=True, kw_only=True):
    """A prompt template as its latest version says."""

    id: str
    name: str
    description: str | None
    lang: str | None
    fields: str  # JSON of TemplateFields: every field that is set
    owner: str
    version: int
    created_at: datetime
    updated_at: datetime
    is_public: bool = False
    user_count: int = 1  # its owner and the users it is shared with


class TemplateVersionView(View, frozen=True, kw_only=True):
    """One version of a prompt template: its whole text then, what that version changed, and who made it when."""

    template_id: str
    version: int
    fields: str  # JSON of TemplateFields as of this version
    changed: str  # JSON list of the fields this version set or cleared (all that were given, for version 1)
    actor: str | None  # the user whose request made it (None for events written without an envelope)
    key_id: str | None  # the API key that request used
    created_at: datetime


class UserView(View, frozen=True, kw_only=True):
    id: str
    username: str
    email: str
    is_admin: bool
    created_at: datetime


class ShareView(View, frozen=True, kw_only=True):
    """One user a collection or a prompt template is shared with."""

    kind: str
    resource_id: str
    username: str
    permissions: str  # comma-joined: "read" or "read,write"


class LexicalHit(msgspec.Struct, frozen=True):
    document_id: str
    ordinal: int
    score: float  # the engine's relevance (BM25 for SQLite FTS5), higher is better; comparable within one query
