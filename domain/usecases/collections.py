"""Collections, their documents and settings: create, change, delete."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence

from domain import collection, document
from domain.errors import InvalidCommand, NotFound
from domain.events import ChatSettings, CollectionSettings
from domain.ports import ChatReads
from domain.usecases.commands import Commands
from domain.views import CollectionView


class ManageCollections:
    def __init__(
        self,
        commands: Commands,
        reads: ChatReads,
        embedding_models: Sequence[str],
        check_chat_settings: Callable[[ChatSettings, str | None], None],
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self.commands = commands
        self.reads = reads
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
