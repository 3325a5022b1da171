"""Chat sessions: open one (on a collection or none), rename it, delete it."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from domain import chat
from domain.errors import NotFound
from domain.ports import ChatReads
from domain.usecases.commands import Commands
from domain.views import ChatSessionView


class ManageChatSessions:
    def __init__(
        self, commands: Commands, reads: ChatReads, new_id: Callable[[], str] = lambda: str(uuid.uuid4())
    ) -> None:
        self.commands = commands
        self.reads = reads
        self.new_id = new_id

    def create(self, collection_id: str | None, owner: str) -> ChatSessionView:
        if collection_id is not None and self.reads.collection(collection_id) is None:
            raise NotFound(f"collection {collection_id} not found")
        session_id = self.new_id()
        create = chat.CreateChatSession(session_id=session_id, collection_id=collection_id, owner=owner)
        self.commands.run(chat, "chat", session_id, create)
        return self.read(session_id)

    def rename(self, session_id: str, name: str) -> ChatSessionView:
        self.commands.run(chat, "chat", session_id, chat.RenameChatSession(session_id=session_id, name=name))
        return self.read(session_id)

    def delete(self, session_id: str) -> None:
        self.commands.run(chat, "chat", session_id, chat.DeleteChatSession(session_id=session_id))

    def read(self, session_id: str) -> ChatSessionView:
        row = self.reads.chat_session(session_id)
        if row is None:
            raise NotFound(f"chat session {session_id} not found")
        return row
