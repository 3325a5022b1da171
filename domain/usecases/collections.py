"""Collections, their documents and settings: create, change, delete."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Protocol

import msgspec

from domain import collection, document
from domain.errors import InvalidCommand, NotFound
from domain.events import ChatSettings, CollectionSettings
from domain.ports import ChatReads
from domain.usecases.commands import Commands
from domain.views import CollectionView


class TemplateLookup(Protocol):
    def read(self, template_id: str) -> object:
        """NotFound for a template that does not exist (the built-in default does)."""
        ...


class ManageCollections:
    def __init__(
        self,
        commands: Commands,
        reads: ChatReads,
        embedding_models: Sequence[str],
        check_chat_settings: Callable[[ChatSettings, str | None], None],
        templates: TemplateLookup,
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self.commands = commands
        self.reads = reads
        self.templates = templates
        self.embedding_models = tuple(embedding_models)
        self.check_chat_settings = check_chat_settings
        self.new_id = new_id

    def create(
        self,
        *,
        name: str,
        description: str,
        embedding_model: str | None,
        settings: CollectionSettings | None,
        chat_settings: ChatSettings | None,
        owner: str,
    ) -> CollectionView:
        model = embedding_model or self.embedding_models[0]
        if model not in self.embedding_models:
            choices = ", ".join(self.embedding_models)
            raise InvalidCommand(f"embedding_model {model!r} is not available; choose {choices}")
        chat_settings = chat_settings or ChatSettings()
        rag_type = (chat_settings.rag_config or {}).get("rag_type")
        rag_type = rag_type if isinstance(rag_type, str) else None
        self.check_chat_settings(chat_settings, rag_type)
        collection_id = self.new_id()
        create = collection.CreateCollection(
            collection_id=collection_id,
            name=name,
            description=description,
            embedding_model=model,
            settings=settings or CollectionSettings(),
            chat_settings=chat_settings,
            rag_type=rag_type,
            owner=owner,
        )
        self.commands.run(collection, "collection", collection_id, create)
        return self.read(collection_id)

    def update(
        self, collection_id: str, *, name: str | None, description: str | None, rag_type: str | None
    ) -> CollectionView:
        update = collection.UpdateCollection(
            collection_id=collection_id, name=name, description=description, rag_type=rag_type
        )
        self.commands.run(collection, "collection", collection_id, update)
        return self.read(collection_id)

    def replace_settings(self, collection_id: str, settings: CollectionSettings) -> None:
        replace = collection.ReplaceCollectionSettings(collection_id=collection_id, settings=settings)
        self.commands.run(collection, "collection", collection_id, replace)

    def replace_chat_settings(self, collection_id: str, chat_settings: ChatSettings) -> None:
        """The whole chat settings, checked by the rules of a completion (as at creation)."""
        current = self.read(collection_id)
        rag_type = (chat_settings.rag_config or {}).get("rag_type")
        self.check_chat_settings(chat_settings, rag_type if isinstance(rag_type, str) else current.rag_type)
        replace = collection.ReplaceChatSettings(collection_id=collection_id, chat_settings=chat_settings)
        self.commands.run(collection, "collection", collection_id, replace)

    def chat_settings(self, collection_id: str) -> ChatSettings:
        return msgspec.json.decode(self.read(collection_id).chat_settings, type=ChatSettings)

    def attach_template(self, collection_id: str, template_id: str) -> CollectionView:
        """The collection's answers are made with ``template_id`` from now on (its fields over the chat settings)."""
        self.read(collection_id)
        self.templates.read(template_id)  # NotFound for an unknown or deleted template
        attach = collection.AttachTemplate(collection_id=collection_id, template_id=template_id)
        self.commands.run(collection, "collection", collection_id, attach)
        return self.read(collection_id)

    def detach_template(self, collection_id: str) -> CollectionView:
        self.commands.run(
            collection, "collection", collection_id, collection.DetachTemplate(collection_id=collection_id)
        )
        return self.read(collection_id)

    def reset_prompt_settings(self, collection_id: str) -> None:
        """Back to the default prompts: the template detached and the prompt texts gone from the chat settings."""
        reset = collection.ResetPromptSettings(collection_id=collection_id)
        self.commands.run(collection, "collection", collection_id, reset)

    def delete(self, collection_id: str) -> None:
        self.commands.run(
            collection, "collection", collection_id, collection.DeleteCollection(collection_id=collection_id)
        )

    def remove_document(self, collection_id: str, document_id: str) -> None:
        self.read(collection_id)
        remove = document.RemoveDocument(document_id=document_id, collection_id=collection_id)
        self.commands.run(document, "document", document_id, remove)

    def read(self, collection_id: str) -> CollectionView:
        row = self.reads.collection(collection_id)
        if row is None:
            raise NotFound(f"collection {collection_id} not found")
        return row
