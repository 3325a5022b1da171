"""Domain events: immutable facts, the only source of truth. Read models and indexes are derived from them.

Every event is a frozen msgspec Struct tagged with its class name (the ``event`` field on the wire). Payloads
carry everything a read model needs (a document's chunk texts, page numbers and offsets are in
``DocumentIngested``); derived data such as embeddings is not. Each event type has a version
(``EVENT_VERSIONS``), recorded beside each event; when a type's shape changes, its version goes up and an
upcaster turns the older payloads into the newer shape as they are read (``Upcasters``), so the log is never
rewritten.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import msgspec

SCHEMA_VERSION = 1  # the version of every event type that has no entry in EVENT_VERSIONS


class Event(msgspec.Struct, frozen=True, tag=True, tag_field="event", kw_only=True):
    """Base of all domain events."""


# --- value objects carried inside events -------------------------------------------------------------


class CollectionSettings(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """How documents of a collection are ingested (the h2oGPTe ``CollectionSettings`` fields)."""

    max_tokens_per_chunk: int | None = None
    chunk_overlap_tokens: int | None = None
    gen_doc_summaries: bool = False
    gen_doc_questions: bool = False
    audio_input_language: str = "auto"
    ocr_model: str = "auto"
    tesseract_lang: str | None = None
    keep_tables_as_one_chunk: bool | None = None
    chunk_by_page: bool | None = None
    handwriting_check: bool | None = None
    ingest_mode: str | None = None
    follow_links: bool | None = None
    max_depth: int | None = None
    max_documents: int | None = None
    root_dir: str | None = None
    copy_document: bool | None = None
    guardrails_settings: dict[str, Any] | None = None
    expiry_timezone: str | None = None


class ChatSettings(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Default answering settings of a collection (the h2oGPTe ``ChatSettings`` fields)."""

    llm: str | None = None
    llm_args: dict[str, Any] | None = None
    self_reflection_config: dict[str, Any] | None = None
    rag_config: dict[str, Any] | None = None
    include_chat_history: str | None = None
    tags: Any = None


class Chunk(msgspec.Struct, frozen=True, kw_only=True):
    """One retrievable piece of a document, as recorded at ingestion."""

    ordinal: int  # 0-based position within the document
    text: str
    pages: tuple[int, ...]  # 1-based page numbers the chunk spans
    start: int  # character offsets into the document's extracted text
    end: int
    content_hash: str
    token_count: int


class Reference(msgspec.Struct, frozen=True, kw_only=True):
    """A chunk that was placed in an answer's context, with its retrieval score."""

    collection_id: str
    document_id: str
    document_name: str
    chunk_ordinal: int
    chunk_id: int
    pages: tuple[int, ...]
    score: float
    content: str


# --- collections ---------------------------------------------------------------------------------------


class CollectionCreated(Event, frozen=True):
    collection_id: str
    name: str
    description: str
    embedding_model: str
    settings: CollectionSettings
    chat_settings: ChatSettings
    rag_type: str | None
    owner: str


class CollectionUpdated(Event, frozen=True):
    collection_id: str
    name: str
    description: str
    rag_type: str | None


class CollectionSettingsReplaced(Event, frozen=True):
    collection_id: str
    settings: CollectionSettings


class CollectionDeleted(Event, frozen=True):
    collection_id: str


class CollectionChatSettingsReplaced(Event, frozen=True):
    """The collection's chat settings, replaced whole (``update_collection_chat_settings``)."""

    collection_id: str
    chat_settings: ChatSettings


class CollectionTemplateAttached(Event, frozen=True):
    """The collection's answers are made with this prompt template (unless a session's or a request's wins)."""

    collection_id: str
    template_id: str


class CollectionTemplateDetached(Event, frozen=True):
    collection_id: str


# --- uploads --------------------------------------------------------------------------------------------


class UploadReceived(Event, frozen=True):
    upload_id: str
    filename: str
    size: int
    content_hash: str  # sha256 of the bytes; the bytes live in the blob store under this name
    owner: str


# --- documents ------------------------------------------------------------------------------------------


class DocumentIngested(Event, frozen=True):
    document_id: str
    collection_id: str
    upload_id: str
    job_id: str | None
    name: str
    type: str
    size: int
    content_hash: str
    page_count: int
    chunks: tuple[Chunk, ...]
    metadata: dict[str, Any]
    owner: str


class DocumentIngestionFailed(Event, frozen=True):
    document_id: str
    collection_id: str
    upload_id: str
    job_id: str | None
    name: str
    type: str
    size: int
    reason: str
    owner: str


class DocumentRemoved(Event, frozen=True):
    document_id: str
    collection_id: str


class DocumentSummarized(Event, frozen=True):
    """A summary of the whole document, made by ``llm`` at ingestion (``gen_doc_summaries``)."""

    document_id: str
    collection_id: str
    summary: str
    llm: str


class DocumentQuestionsSuggested(Event, frozen=True):
    """Questions the document can answer, made by ``llm`` at ingestion (``gen_doc_questions``)."""

    document_id: str
    collection_id: str
    questions: tuple[str, ...]
    llm: str


# --- chat sessions --------------------------------------------------------------------------------------


class ChatSessionCreated(Event, frozen=True):
    session_id: str
    collection_id: str | None
    name: str | None
    owner: str


class ChatSessionRenamed(Event, frozen=True):
    session_id: str
    name: str


class ChatSessionDeleted(Event, frozen=True):
    session_id: str


class ChatSessionErased(Event, frozen=True):
    """The session's personal content was erased (crypto-shredding): its key is forgotten, so the personal fields
    of its events (``domain.erasure.PERSONAL_FIELDS``) read as ``[erased]`` from now on, and it leaves every read
    model. The events themselves stay, with their types, times, actors and ids."""

    session_id: str


class ChatSessionTemplateAttached(Event, frozen=True):
    """The session's answers are made with this prompt template, over its collection's (a request's fields win)."""

    session_id: str
    template_id: str


class ChatSessionTemplateDetached(Event, frozen=True):
    session_id: str


class QuestionAsked(Event, frozen=True):
    session_id: str
    message_id: str
    text: str
    username: str


class AnswerGenerated(Event, frozen=True):
    """An answer and everything that produced it, so an auditor can see how it came about."""

    session_id: str
    message_id: str
    reply_to: str
    text: str
    references: tuple[Reference, ...]
    rag_type: str
    llm: str
    llm_args: dict[str, Any]
    template_id: str | None
    template_version: int | None
    prompt_raw: str
    usage: dict[str, Any]
    timings: dict[str, float]
    llm_only: str | None = None
    hyde1: str | None = None
    self_reflection: str | None = None


class AnswerReplayed(Event, frozen=True):
    """An auditor re-ran an answer's recorded prompt against its recorded chunks with its recorded model and
    arguments (``POST /messages/{id}/replay``): the new text beside the old, so the log shows every reproduction."""

    session_id: str
    message_id: str  # the answer that was replayed
    replay_id: str
    llm: str
    text: str
    identical: bool
    usage: dict[str, Any] = {}


class AnswerFailed(Event, frozen=True):
    session_id: str
    message_id: str
    reply_to: str
    reason: str
    error_type: str


class AnswerVoted(Event, frozen=True):
    """A reader's vote on an answer (h2oGPTe's ``set_message_votes``): 1 up, -1 down, 0 taken back."""

    session_id: str
    message_id: str
    votes: int


class AnswerFeedbackGiven(Event, frozen=True):
    """A reader's feedback on an answer (h2oGPTe's ``update_question_answer_feedback``); it replaces earlier
    feedback on that answer."""

    session_id: str
    message_id: str
    expected_answer: str | None = None
    user_comment: str | None = None


# --- jobs -----------------------------------------------------------------------------------------------


class IngestOptions(msgspec.Struct, frozen=True, kw_only=True):
    """What an ingest job was asked to do with its uploads, recorded so that a restart can resume it."""

    settings: CollectionSettings
    metadata: dict[str, Any] = {}
    enrich_llm: str | None = None


class JobStarted(Event, frozen=True):
    job_id: str
    kind: str
    name: str
    collection_id: str | None
    items: tuple[str, ...]  # the ids the job works through (upload ids for an ingest job)
    timeout: float | None
    owner: str
    ingest: IngestOptions | None = None  # None in jobs started before jobs could be resumed


class JobItemFinished(Event, frozen=True):
    job_id: str
    item_id: str
    status: str  # completed | failed
    document_id: str | None
    error: str | None


class JobProgressed(Event, frozen=True):
    """How far the job has come within one item (pages of a file), between item events."""

    job_id: str
    item_id: str
    done: int
    total: int


class JobFinished(Event, frozen=True):
    job_id: str
    status: str  # completed | failed | canceled


# --- API keys -------------------------------------------------------------------------------------------


class TemplateFields(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """What a prompt template says: h2oGPTe's ``PromptTemplate`` text fields (None: not set, the next source in
    the precedence answers), and Parley's ``chat_template``, a whole chat template in sandboxed Jinja2."""

    name: str | None = None
    description: str | None = None
    lang: str | None = None
    system_prompt: str | None = None
    pre_prompt_query: str | None = None
    prompt_query: str | None = None
    hyde_no_rag_llm_prompt_extension: str | None = None
    pre_prompt_summary: str | None = None
    prompt_summary: str | None = None
    system_prompt_reflection: str | None = None
    prompt_reflection: str | None = None
    auto_gen_description_prompt: str | None = None
    auto_gen_document_summary_pre_prompt_summary: str | None = None
    auto_gen_document_summary_prompt_summary: str | None = None
    auto_gen_document_sample_questions_prompt: str | None = None
    default_sample_questions: tuple[str, ...] | None = None
    image_batch_image_prompt: str | None = None
    image_batch_final_prompt: str | None = None
    chat_template: str | None = None


class TemplateCreated(Event, frozen=True):
    template_id: str
    fields: TemplateFields
    owner: str
    version: int = 1


class TemplateUpdated(Event, frozen=True):
    template_id: str
    changed: TemplateFields  # the fields given in the update, as they are now
    version: int
    cleared: tuple[str, ...] = ()  # fields set back to "not set"


class TemplateDeleted(Event, frozen=True):
    template_id: str


class ApiKeyCreated(Event, frozen=True):
    key_id: str
    name: str
    username: str
    secret_hash: str  # sha256 of the secret; the secret itself is shown once and never stored
    hint: str
    collection_id: str | None
    is_admin: bool
    expires_at: datetime | None = None
    inactivity_interval: int | None = None  # days without a call after which the key lapses


class ApiKeyDeactivated(Event, frozen=True):
    key_id: str


class ApiKeyExpiryChanged(Event, frozen=True):
    key_id: str
    expires_at: datetime | None


class ApiKeyInactivityIntervalChanged(Event, frozen=True):
    key_id: str
    inactivity_interval: int | None


class ApiKeyDeleted(Event, frozen=True):
    key_id: str


class ApiKeyUsed(Event, frozen=True):
    """Calls made with a key since its last such event, counted in memory and written every few seconds."""

    key_id: str
    calls: int
    last_used_at: datetime


class UserCreated(Event, frozen=True):
    user_id: str
    username: str
    email: str = ""
    is_admin: bool = False


class UserDeletionRequested(Event, frozen=True):
    """The user asked to be deleted; ``delete_id`` confirms it until ``expires_at``."""

    user_id: str
    delete_id: str
    expires_at: datetime


class UserDeleted(Event, frozen=True):
    user_id: str
    username: str


# --- sharing: who besides the owner may read or change a collection or a prompt template ---------------------


class AccessShared(Event, frozen=True):
    kind: str  # "collection" or "template"
    resource_id: str
    username: str
    permissions: tuple[str, ...]  # "read", "write"


class AccessUnshared(Event, frozen=True):
    kind: str
    resource_id: str
    username: str


class PrivacyChanged(Event, frozen=True):
    kind: str
    resource_id: str
    is_public: bool


AnyEvent = (
    CollectionCreated
    | CollectionUpdated
    | CollectionSettingsReplaced
    | CollectionDeleted
    | CollectionChatSettingsReplaced
    | CollectionTemplateAttached
    | CollectionTemplateDetached
    | UploadReceived
    | DocumentIngested
    | DocumentIngestionFailed
    | DocumentRemoved
    | DocumentSummarized
    | DocumentQuestionsSuggested
    | ChatSessionCreated
    | ChatSessionRenamed
    | ChatSessionDeleted
    | ChatSessionErased
    | ChatSessionTemplateAttached
    | ChatSessionTemplateDetached
    | QuestionAsked
    | AnswerGenerated
    | AnswerFailed
    | AnswerReplayed
    | AnswerVoted
    | AnswerFeedbackGiven
    | JobStarted
    | JobItemFinished
    | JobProgressed
    | JobFinished
    | TemplateCreated
    | TemplateUpdated
    | TemplateDeleted
    | ApiKeyCreated
    | ApiKeyDeactivated
    | ApiKeyExpiryChanged
    | ApiKeyInactivityIntervalChanged
    | ApiKeyDeleted
    | ApiKeyUsed
    | UserCreated
    | UserDeletionRequested
    | UserDeleted
    | AccessShared
    | AccessUnshared
    | PrivacyChanged
)

_encoder = msgspec.json.Encoder()
_decoder: msgspec.json.Decoder[AnyEvent] = msgspec.json.Decoder(AnyEvent)

# The current version of each event type whose shape has changed since its first (absent: SCHEMA_VERSION).
EVENT_VERSIONS: dict[str, int] = {}

Upcast = Callable[[dict[str, Any]], dict[str, Any]]


class Upcasters:
    """Steps that turn an event type's payload of version n into version n + 1, applied in turn on reading."""

    def __init__(self, versions: dict[str, int] | None = None) -> None:
        self.versions = EVENT_VERSIONS if versions is None else versions
        self._steps: dict[tuple[str, int], Upcast] = {}

    def register(self, event_type: str, from_version: int, step: Upcast) -> None:
        if from_version >= self.version_of(event_type):
            raise ValueError(f"{event_type} is at version {self.version_of(event_type)}; nothing upcasts from it")
        self._steps[(event_type, from_version)] = step

    def version_of(self, event_type: str) -> int:
        return self.versions.get(event_type, SCHEMA_VERSION)

    def upcast(self, event_type: str, version: int, payload: dict[str, Any]) -> dict[str, Any]:
        current = self.version_of(event_type)
        while version < current:
            step = self._steps.get((event_type, version))
            if step is None:
                raise ValueError(f"no upcaster for {event_type} version {version}")
            payload, version = step(payload), version + 1
        return payload


UPCASTERS = Upcasters()


def encode_event(event: Event) -> bytes:
    """Serialise an event to JSON bytes (with its ``event`` tag)."""
    return _encoder.encode(event)


def decode_recorded(event_type: str, schema_version: int, data: bytes, upcasters: Upcasters = UPCASTERS) -> AnyEvent:
    """An event as recorded, upcast to its type's current version when it was written in an older one."""
    if schema_version >= upcasters.version_of(event_type):
        return _decoder.decode(data)
    payload = upcasters.upcast(event_type, schema_version, msgspec.json.decode(data))
    event: AnyEvent = msgspec.convert(payload, AnyEvent)
    return event


def event_version(event: Event) -> int:
    return EVENT_VERSIONS.get(type(event).__name__, SCHEMA_VERSION)


def event_type(event: Event) -> str:
    return type(event).__name__
