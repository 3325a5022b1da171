"""The Collection aggregate: a named set of documents with ingestion and chat settings."""

from __future__ import annotations

import msgspec

from domain.errors import AlreadyExists, InvalidCommand, NotFound
from domain.events import (
    ChatSettings,
    CollectionChatSettingsReplaced,
    CollectionCreated,
    CollectionDeleted,
    CollectionSettings,
    CollectionSettingsReplaced,
    CollectionTemplateAttached,
    CollectionTemplateDetached,
    CollectionUpdated,
    Event,
)

RAG_TYPES = ("auto", "llm_only", "rag", "hyde1", "hyde2", "rag+", "all_data")
OCR_MODELS = ("auto", "tesseract", "off")
MIN_CHUNK_TOKENS = 16
DEFAULT_CHUNK_TOKENS = 200
DEFAULT_OVERLAP_TOKENS = 20
MAX_CHUNK_TOKENS = 8192


class CreateCollection(msgspec.Struct, frozen=True, kw_only=True):
    collection_id: str
    name: str
    description: str
    embedding_model: str
    settings: CollectionSettings = CollectionSettings()
    chat_settings: ChatSettings = ChatSettings()
    rag_type: str | None = None
    owner: str


class UpdateCollection(msgspec.Struct, frozen=True, kw_only=True):
    collection_id: str
    name: str | None = None
    description: str | None = None
    rag_type: str | None = None


class ReplaceCollectionSettings(msgspec.Struct, frozen=True, kw_only=True):
    collection_id: str
    settings: CollectionSettings


class DeleteCollection(msgspec.Struct, frozen=True, kw_only=True):
    collection_id: str


class ReplaceChatSettings(msgspec.Struct, frozen=True, kw_only=True):
    """Checked by the answering rules before it is decided (as at creation)."""

    collection_id: str
    chat_settings: ChatSettings


class AttachTemplate(msgspec.Struct, frozen=True, kw_only=True):
    """The use case has checked that the template exists."""

    collection_id: str
    template_id: str


class DetachTemplate(msgspec.Struct, frozen=True, kw_only=True):
    collection_id: str


class ResetPromptSettings(msgspec.Struct, frozen=True, kw_only=True):
    """Back to the default prompts: no template, and no prompt texts in the chat settings."""

    collection_id: str


CollectionCommand = (
    CreateCollection
    | UpdateCollection
    | ReplaceCollectionSettings
    | DeleteCollection
    | ReplaceChatSettings
    | AttachTemplate
    | DetachTemplate
    | ResetPromptSettings
)

# The prompt texts a collection's chat settings may hold (in rag_config, or in self_reflection_config for the
# reflection's): what reset_collection_prompt_settings removes.
PROMPT_SETTINGS = {
    "rag_config": (
        "system_prompt",
        "pre_prompt_query",
        "prompt_query",
        "pre_prompt_summary",
        "prompt_summary",
        "hyde_no_rag_llm_prompt_extension",
    ),
    "self_reflection_config": ("system_prompt_reflection", "prompt_reflection"),
}


class Collection(msgspec.Struct, frozen=True, kw_only=True):
    collection_id: str
    name: str
    description: str
    rag_type: str | None
    settings: CollectionSettings
    chat_settings: ChatSettings = ChatSettings()
    template_id: str | None = None
    deleted: bool = False


State = Collection | None


def decide(state: State, command: CollectionCommand) -> list[Event]:
    if isinstance(command, CreateCollection):
        if state is not None:
            raise AlreadyExists(f"collection {command.collection_id} already exists")
        _check_name(command.name)
        _check_rag_type(command.rag_type)
        check_settings(command.settings)
        return [
            CollectionCreated(
                collection_id=command.collection_id,
                name=command.name.strip(),
                description=command.description,
                embedding_model=command.embedding_model,
                settings=command.settings,
                chat_settings=command.chat_settings,
                rag_type=command.rag_type,
                owner=command.owner,
            )
        ]
    current = _existing(state, command.collection_id)
    if isinstance(command, UpdateCollection):
        name = current.name if command.name is None else command.name
        _check_name(name)
        _check_rag_type(command.rag_type)
        description = current.description if command.description is None else command.description
        rag_type = current.rag_type if command.rag_type is None else command.rag_type
        if (name, description, rag_type) == (current.name, current.description, current.rag_type):
            return []
        return [
            CollectionUpdated(
                collection_id=current.collection_id,
                name=name.strip(),
                description=description,
                rag_type=rag_type,
            )
        ]
    if isinstance(command, ReplaceCollectionSettings):
        check_settings(command.settings)
        if command.settings == current.settings:
            return []
        return [CollectionSettingsReplaced(collection_id=current.collection_id, settings=command.settings)]
    if isinstance(command, ReplaceChatSettings):
        if command.chat_settings == current.chat_settings:
            return []
        return [
            CollectionChatSettingsReplaced(collection_id=current.collection_id, chat_settings=command.chat_settings)
        ]
    if isinstance(command, AttachTemplate):
        if command.template_id == current.template_id:
            return []
        return [CollectionTemplateAttached(collection_id=current.collection_id, template_id=command.template_id)]
    if isinstance(command, DetachTemplate):
        return [CollectionTemplateDetached(collection_id=current.collection_id)] if current.template_id else []
    if isinstance(command, ResetPromptSettings):
        reset: list[Event] = []
        if current.template_id is not None:
            reset.append(CollectionTemplateDetached(collection_id=current.collection_id))
        without_prompts = without_prompt_settings(current.chat_settings)
        if without_prompts != current.chat_settings:
            reset.append(
                CollectionChatSettingsReplaced(collection_id=current.collection_id, chat_settings=without_prompts)
            )
        return reset
    return [CollectionDeleted(collection_id=current.collection_id)]


def without_prompt_settings(chat_settings: ChatSettings) -> ChatSettings:
    """``chat_settings`` without the prompt texts (``PROMPT_SETTINGS``); an object left empty goes too."""
    changes: dict[str, dict[str, object] | None] = {}
    for part, keys in PROMPT_SETTINGS.items():
        config: dict[str, object] | None = getattr(chat_settings, part)
        if config is not None and any(key in config for key in keys):
            kept = {key: value for key, value in config.items() if key not in keys}
            changes[part] = kept or None
    return msgspec.structs.replace(chat_settings, **changes) if changes else chat_settings


def evolve(state: State, event: Event) -> State:
    if isinstance(event, CollectionCreated):
        return Collection(
            collection_id=event.collection_id,
            name=event.name,
            description=event.description,
            rag_type=event.rag_type,
            settings=event.settings,
            chat_settings=event.chat_settings,
        )
    if state is None:
        return state
    if isinstance(event, CollectionUpdated):
        return msgspec.structs.replace(state, name=event.name, description=event.description, rag_type=event.rag_type)
    if isinstance(event, CollectionSettingsReplaced):
        return msgspec.structs.replace(state, settings=event.settings)
    if isinstance(event, CollectionChatSettingsReplaced):
        return msgspec.structs.replace(state, chat_settings=event.chat_settings)
    if isinstance(event, CollectionTemplateAttached):
        return msgspec.structs.replace(state, template_id=event.template_id)
    if isinstance(event, CollectionTemplateDetached):
        return msgspec.structs.replace(state, template_id=None)
    if isinstance(event, CollectionDeleted):
        return msgspec.structs.replace(state, deleted=True)
    return state


def check_settings(settings: CollectionSettings) -> None:
    """Reject settings that cannot produce sensible chunks."""
    size, overlap = settings.max_tokens_per_chunk, settings.chunk_overlap_tokens
    if size is not None and not MIN_CHUNK_TOKENS <= size <= MAX_CHUNK_TOKENS:
        raise InvalidCommand(
            f"max_tokens_per_chunk must be between {MIN_CHUNK_TOKENS} and {MAX_CHUNK_TOKENS}, got {size}"
        )
    if overlap is not None and overlap < 0:
        raise InvalidCommand(f"chunk_overlap_tokens must not be negative, got {overlap}")
    if overlap is not None and overlap >= (size or DEFAULT_CHUNK_TOKENS):
        raise InvalidCommand("chunk_overlap_tokens must be smaller than max_tokens_per_chunk")
    if settings.ocr_model not in OCR_MODELS:
        raise InvalidCommand(f"ocr_model must be one of {', '.join(OCR_MODELS)}, got {settings.ocr_model!r}")


def _existing(state: State, collection_id: str) -> Collection:
    if state is None or state.deleted:
        raise NotFound(f"collection {collection_id} not found")
    return state


def _check_name(name: str) -> None:
    if not name.strip():
        raise InvalidCommand("a collection needs a non-empty name")


def _check_rag_type(rag_type: str | None) -> None:
    if rag_type is not None and rag_type not in RAG_TYPES:
        raise InvalidCommand(f"rag_type must be one of {', '.join(RAG_TYPES)}, got {rag_type!r}")
