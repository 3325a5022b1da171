"""Wire models of the h2oGPTe REST API v1 (msgspec Structs), and their construction from read-model views.

Field names and required-ness follow the ``h2ogpte`` 1.7.5 client's pydantic models, which validate strictly:
a required field is never null and integers are never floats.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec

from domain.chat import MAX_QUESTION_CHARS
from domain.events import ChatSettings, CollectionSettings, Reference, TemplateFields
from domain.template import BuiltInTemplate
from domain.views import (
    ApiKeyView,
    ChatSessionView,
    CollectionView,
    DocumentView,
    JobItemView,
    JobView,
    MessageView,
    ReferenceView,
    ShareView,
    TemplateVersionView,
    TemplateView,
    UserView,
)


class Wire(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Base of response models: optional fields left at None are omitted from the JSON."""


class ErrorBody(msgspec.Struct):
    code: int
    message: str
    error_type: str | None = None


class Count(Wire):
    count: int


# --- collections -------------------------------------------------------------------------------------------


class CollectionCreateRequest(msgspec.Struct, kw_only=True):
    name: str
    description: str
    embedding_model: str | None = None
    collection_settings: CollectionSettings | None = None
    chat_settings: ChatSettings | None = None
    expiry_date: datetime | None = None
    workspace: str | None = None
    vex_encryption: str | None = None


class CollectionUpdateRequest(msgspec.Struct, kw_only=True):
    name: str | None = None
    description: str | None = None
    rag_type: str | None = None


class Collection(Wire):
    id: str
    name: str
    description: str
    embedding_model: str
    document_count: int
    document_size: int
    created_at: datetime
    updated_at: datetime
    user_count: int
    is_public: bool
    username: str
    sessions_count: int
    status: str
    rag_type: str | None = None
    metadata_dict: dict[str, Any] | None = None
    prompt_template_id: str | None = None


def collection_from_row(row: CollectionView) -> Collection:
    return Collection(
        id=row.id,
        name=row.name,
        description=row.description,
        embedding_model=row.embedding_model,
        document_count=row.document_count,
        document_size=row.document_size,
        created_at=row.created_at,
        updated_at=row.updated_at,
        user_count=row.user_count,
        is_public=row.is_public,
        username=row.owner,
        sessions_count=row.sessions_count,
        status="ok",
        rag_type=row.rag_type,
        prompt_template_id=row.prompt_template_id,
    )


# --- documents and uploads ----------------------------------------------------------------------------------


class Document(Wire):
    id: str
    name: str
    username: str
    type: str
    size: int
    page_count: int
    status: str
    created_at: datetime
    updated_at: datetime
    metadata_dict: dict[str, Any] | None = None
    error: str | None = None  # not in the h2oGPTe model: why a failed document failed
    summary: str | None = None
    summary_parameters: str | None = None


class SuggestedQuestion(Wire):
    question: str


def document_from_row(row: DocumentView, with_summary: bool = True) -> Document:
    return Document(
        id=row.id,
        name=row.name,
        username=row.owner,
        type=row.type,
        size=row.size,
        page_count=row.page_count,
        status=row.status,
        created_at=row.created_at,
        updated_at=row.updated_at,
        metadata_dict=msgspec.json.decode(row.metadata) if row.metadata else None,
        error=row.error,
        summary=row.summary if with_summary else None,
        summary_parameters=(
            msgspec.json.encode({"llm": row.summary_llm}).decode() if with_summary and row.summary_llm else None
        ),
    )


class UploadedFile(Wire):
    id: str
    filename: str


class IngestUploadBody(msgspec.Struct, kw_only=True):
    metadata: dict[str, Any] | None = None


class JobDetailsStatus(Wire):
    id: str
    status: str


class JobDetails(Wire):
    id: str
    name: str
    overall_status: str
    passed_percentage: float
    failed_percentage: float
    progress: float
    created_at: datetime
    updated_at: datetime
    kind: str
    statuses: list[JobDetailsStatus]
    errors: list[str]
    duration: str
    duration_seconds: float
    timeout: float | None = None
    start_time: float | None = None
    files_total: int | None = None
    files_failed: int | None = None


def job_from_rows(row: JobView, items: list[JobItemView], now: datetime) -> JobDetails:
    created = row.created_at
    updated = row.updated_at
    finished = row.status != "in progress"
    end = updated if finished else now
    seconds = max(0.0, (end - created).total_seconds())
    total = row.items_total
    done = row.items_completed + row.items_failed + row.item_progress
    return JobDetails(
        id=row.id,
        name=row.name,
        overall_status=row.status,
        passed_percentage=row.items_completed / total if total else 0.0,
        failed_percentage=row.items_failed / total if total else 0.0,
        # 1.0 only once the job itself has finished (its documents are searchable then).
        progress=1.0 if finished else min(done / total, 0.99) if total else 0.0,
        created_at=created,
        updated_at=updated,
        kind=row.kind,
        statuses=[JobDetailsStatus(id=item.item_id, status=item.status) for item in items],
        errors=[item.error for item in items if item.error],
        duration=f"{seconds:.1f}s",
        duration_seconds=seconds,
        timeout=row.timeout,
        start_time=created.timestamp(),
        files_total=total,
        files_failed=row.items_failed,
    )


# --- chat ---------------------------------------------------------------------------------------------------


class CreateChatSessionRequest(msgspec.Struct, kw_only=True):
    workspace: str | None = None


class ChatSessionUpdateRequest(msgspec.Struct, kw_only=True):
    name: str


class MessageVoteUpdateRequest(msgspec.Struct, kw_only=True):
    votes: int  # 1 up, -1 down, 0 none


class UpdateQAFeedbackRequest(msgspec.Struct, kw_only=True):
    expected_answer: str | None = None
    user_comment: str | None = None


class ChatSession(Wire):
    id: str
    updated_at: datetime
    name: str | None = None
    collection_id: str | None = None
    collection_name: str | None = None
    latest_message_content: str | None = None
    username: str | None = None
    prompt_template_id: str | None = None


class PromptTemplateChangeRequest(msgspec.Struct, kw_only=True):
    prompt_template_id: str


def chat_session_from_row(row: ChatSessionView) -> ChatSession:
    return ChatSession(
        id=row.id,
        updated_at=row.updated_at,
        name=row.name,
        collection_id=row.collection_id,
        collection_name=row.collection_name,
        latest_message_content=row.latest_message_content,
        username=row.owner,
        prompt_template_id=row.prompt_template_id,
    )


class ChatCompletionRequest(msgspec.Struct, kw_only=True):
    message: Annotated[str, msgspec.Meta(max_length=MAX_QUESTION_CHARS)]  # refused when decoded, before any work
    system_prompt: str | None = None
    pre_prompt_query: str | None = None
    prompt_query: str | None = None
    image_batch_final_prompt: str | None = None
    image_batch_image_prompt: str | None = None
    llm: str | None = None
    llm_args: dict[str, Any] | None = None
    self_reflection_config: dict[str, Any] | None = None
    rag_config: dict[str, Any] | None = None
    include_chat_history: str | None = None
    tags: Any = None
    stream: bool = False
    # Not in the 1.7.5 REST model, but the h2ogpte Python client's query() has them; rag_config may carry them too.
    pre_prompt_summary: str | None = None
    prompt_summary: str | None = None


class ChatCompletion(Wire):
    message_id: str
    body: str


class ChatMessageMeta(Wire):
    message_type: str
    content: str


class ChatMessage(Wire):
    id: str
    content: str
    votes: int
    created_at: datetime
    has_references: bool
    total_references: int
    username: str | None = None
    reply_to: str | None = None
    error: str | None = None
    llm_args: str | None = None
    type_list: list[ChatMessageMeta] | None = None


def chat_message_from_row(row: MessageView) -> ChatMessage:
    return ChatMessage(
        id=row.id,
        content=row.content,
        votes=row.votes,
        created_at=row.created_at,
        has_references=row.total_references > 0,
        total_references=row.total_references,
        username=row.username,
        reply_to=row.reply_to,
        error=row.error,
        llm_args=row.llm_args,
    )


class ChatMessageReference(Wire):
    document_id: str
    document_name: str
    chunk_id: int
    score: float
    pages: str
    were_references_deleted: bool
    collection_id: str | None = None
    content: str | None = None


def reference_of(reference: Reference) -> ChatMessageReference:
    """A reference not recorded yet (a preview's): its document exists."""
    return ChatMessageReference(
        document_id=reference.document_id,
        document_name=reference.document_name,
        chunk_id=reference.chunk_id,
        score=reference.score,
        pages=",".join(str(page) for page in reference.pages),
        were_references_deleted=False,
        collection_id=reference.collection_id,
        content=reference.content,
    )


def reference_from_row(row: ReferenceView, document_exists: bool) -> ChatMessageReference:
    return ChatMessageReference(
        document_id=row.document_id,
        document_name=row.document_name,
        chunk_id=row.chunk_id,
        score=row.score,
        pages=row.pages,
        were_references_deleted=not document_exists,
        collection_id=row.collection_id,
        content=row.content,
    )


class Model(Wire):
    """An LLM. Fields past ``display_name`` land in the client's ``additional_properties``."""

    id: str
    display_name: str
    description: str
    backend: str
    generates_text: bool
    context_size: int
    default: bool


# --- prompt templates --------------------------------------------------------------------------------------


class _PromptTemplateText(msgspec.Struct, kw_only=True, omit_defaults=True):
    """h2oGPTe's template fields past the name (``PromptTemplateBase``); None: not set."""

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
    default_sample_questions: list[str] | None = None
    image_batch_image_prompt: str | None = None
    image_batch_final_prompt: str | None = None
    chat_template: str | None = None  # Parley's: a whole chat template in sandboxed Jinja2


TEMPLATE_WIRE_FIELDS = ("name", *(field.name for field in msgspec.structs.fields(_PromptTemplateText)))


class PromptTemplateCreateRequest(_PromptTemplateText, kw_only=True):
    name: str


class PromptTemplateText(_PromptTemplateText, kw_only=True):
    """A template's fields as one version of it reads."""

    name: str | None = None


Unset = msgspec.UnsetType


class PromptTemplateBase(msgspec.Struct, kw_only=True):
    """The PATCH body: a field left out stays as it is, a field sent as null is unset (the name cannot be)."""

    name: str | Unset | None = msgspec.UNSET
    description: str | Unset | None = msgspec.UNSET
    lang: str | Unset | None = msgspec.UNSET
    system_prompt: str | Unset | None = msgspec.UNSET
    pre_prompt_query: str | Unset | None = msgspec.UNSET
    prompt_query: str | Unset | None = msgspec.UNSET
    hyde_no_rag_llm_prompt_extension: str | Unset | None = msgspec.UNSET
    pre_prompt_summary: str | Unset | None = msgspec.UNSET
    prompt_summary: str | Unset | None = msgspec.UNSET
    system_prompt_reflection: str | Unset | None = msgspec.UNSET
    prompt_reflection: str | Unset | None = msgspec.UNSET
    auto_gen_description_prompt: str | Unset | None = msgspec.UNSET
    auto_gen_document_summary_pre_prompt_summary: str | Unset | None = msgspec.UNSET
    auto_gen_document_summary_prompt_summary: str | Unset | None = msgspec.UNSET
    auto_gen_document_sample_questions_prompt: str | Unset | None = msgspec.UNSET
    default_sample_questions: list[str] | Unset | None = msgspec.UNSET
    image_batch_image_prompt: str | Unset | None = msgspec.UNSET
    image_batch_final_prompt: str | Unset | None = msgspec.UNSET
    chat_template: str | Unset | None = msgspec.UNSET


class PromptTemplate(_PromptTemplateText, kw_only=True):
    """``version`` is Parley's: the template's latest version (absent for the built-in default)."""

    id: str
    is_default: bool
    is_public: bool
    name: str | None = None
    user_count: int | None = None
    group_count: int | None = None
    username: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    visible: bool | None = None
    is_system_default: bool | None = None
    version: int | None = None


class PromptTemplateVersion(Wire):
    """Parley's: one version of a template, who made it (``username``, ``api_key_id``) and when."""

    prompt_template_id: str
    version: int
    created_at: datetime
    changed: list[str]  # the fields this version set or unset (all it was given, for the first)
    template: PromptTemplateText
    username: str | None = None
    api_key_id: str | None = None


def template_fields_of(data: PromptTemplateCreateRequest) -> TemplateFields:
    return msgspec.convert(msgspec.to_builtins(data), TemplateFields)


def template_changes_of(data: PromptTemplateBase) -> tuple[TemplateFields, tuple[str, ...]]:
    """The fields a PATCH sets, and those it unsets."""
    sent = {name: getattr(data, name) for name in TEMPLATE_WIRE_FIELDS}
    changes = {name: value for name, value in sent.items() if value is not None and value is not msgspec.UNSET}
    return msgspec.convert(changes, TemplateFields), tuple(name for name, value in sent.items() if value is None)


def _wire_text(fields: dict[str, Any]) -> dict[str, Any]:
    return {name: fields[name] for name in TEMPLATE_WIRE_FIELDS if name in fields}


def prompt_template_from(item: TemplateView | BuiltInTemplate) -> PromptTemplate:
    if isinstance(item, BuiltInTemplate):
        return PromptTemplate(
            **_wire_text(msgspec.to_builtins(item.fields)),
            id=item.id,
            is_default=True,
            is_public=True,
            visible=False,  # listed only by list_all_prompt_templates, as h2oGPTe lists hidden defaults
            is_system_default=True,
        )
    return PromptTemplate(
        **_wire_text(msgspec.json.decode(item.fields)),
        id=item.id,
        is_default=False,
        is_public=item.is_public,
        user_count=item.user_count,
        group_count=0,
        username=item.owner,
        created_at=item.created_at,
        updated_at=item.updated_at,
        version=item.version,
    )


def prompt_template_version_from(row: TemplateVersionView) -> PromptTemplateVersion:
    return PromptTemplateVersion(
        prompt_template_id=row.template_id,
        version=row.version,
        created_at=row.created_at,
        changed=msgspec.json.decode(row.changed, type=list[str]),
        template=PromptTemplateText(**_wire_text(msgspec.json.decode(row.fields))),
        username=row.actor,
        api_key_id=row.key_id,
    )


class PromptTemplateDiff(Wire):
    """Parley's: what changed between two versions of a template, a unified diff per field that differs."""

    prompt_template_id: str
    from_version: int
    to_version: int
    fields: dict[str, str]


class PromptPreviewRequest(msgspec.Struct, kw_only=True):
    """Parley's: a question to preview a template with, in a chat session (with its history) or a collection."""

    question: Annotated[str, msgspec.Meta(max_length=MAX_QUESTION_CHARS)]
    session_id: str | None = None
    collection_id: str | None = None
    llm: str | None = None
    rag_config: dict[str, Any] | None = None


class PromptMessage(Wire):
    role: str
    content: str


class PromptPreview(Wire):
    """Parley's: the exact messages the model would receive, and the chunks they hold; no model was called.
    ``prompt_raw`` is the text an answer's ``prompt_raw`` meta records for the same prompt."""

    prompt_template_id: str
    rag_type: str
    llm: str
    messages: list[PromptMessage]
    prompt_raw: str
    references: list[ChatMessageReference]
    version: int | None = None


# --- users, API keys, sharing --------------------------------------------------------------------------------


class UserInfo(Wire):
    id: str
    username: str
    email: str


def user_from_row(row: UserView) -> UserInfo:
    return UserInfo(id=row.id, username=row.username, email=row.email)


class UserCreateRequest(msgspec.Struct, kw_only=True):
    user_id: str
    email: str | None = None


class UserPermission(Wire):
    id: str
    name: str
    description: str | None = None
    category: str | None = None


class UserDeletionRequest(Wire):
    delete_id: str


class ConfirmUserDeletionRequest(msgspec.Struct, kw_only=True):
    delete_id: str


class APIKeyInfo(Wire):
    id: str
    username: str
    name: str
    hint: str
    created_at: datetime
    total_calls: int
    is_active: bool
    is_global_key: bool
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
    inactivity_interval: int | None = None
    collection_name: str | None = None
    collection_id: str | None = None


def api_key_from_row(row: ApiKeyView, pending_calls: int, last_used: datetime | None) -> APIKeyInfo:
    """``pending_calls`` and ``last_used``: with this replica's calls not yet in the read models (``KeyUsage``)."""
    return APIKeyInfo(
        id=row.id,
        username=row.username,
        name=row.name,
        hint=row.hint,
        created_at=row.created_at,
        total_calls=row.total_calls + pending_calls,
        is_active=row.active,
        is_global_key=row.collection_id is None,
        expires_at=row.expires_at,
        last_used_at=last_used,
        inactivity_interval=row.inactivity_interval,
        collection_name=row.collection_name,
        collection_id=row.collection_id,
    )


class APIKeyResult(Wire):
    secret_key: str
    api_key: APIKeyInfo


class APIKeyCreateRequest(msgspec.Struct, kw_only=True):
    user_id: str
    name: str | None = None
    collection_id: str | None = None
    expires_in: str | None = None
    inactivity_interval: int | None = None


class APIKeyUpdateExpiryRequest(msgspec.Struct, kw_only=True):
    expires_in: str | None = None


class APIKeyUpdateInactivityIntervalRequest(msgspec.Struct, kw_only=True):
    inactivity_interval: int | None = None


class SharePermission(Wire):
    username: str
    permissions: list[str] | None = None


def share_from_row(row: ShareView) -> SharePermission:
    return SharePermission(username=row.username, permissions=row.permissions.split(","))


class ShareCollectionRequest(msgspec.Struct, kw_only=True):
    permissions: list[str] | None = None


class UpdateCollectionPrivacyRequest(msgspec.Struct, kw_only=True):
    is_public: bool
    permissions: list[str] | None = None


class UpdatePromptTemplatePrivacyRequest(msgspec.Struct, kw_only=True):
    is_public: bool


class ResetAndShareRequest(msgspec.Struct, kw_only=True):
    usernames: list[str]
