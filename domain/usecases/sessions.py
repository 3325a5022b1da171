"""Chat sessions: open one (on a collection or none), rename it, attach a prompt template to it, delete it; readers'
votes and feedback on its answers."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from domain import chat
from domain.errors import NotFound
from domain.ports import ChatReads
from domain.usecases.collections import TemplateLookup
from domain.usecases.commands import Commands
from domain.views import ChatSessionView


class ManageChatSessions:
    def __init__(
        self,
        commands: Commands,
        reads: ChatReads,
        templates: TemplateLookup,
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self.commands = commands
        self.reads = reads
        self.templates = templates
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

    def attach_template(self, session_id: str, template_id: str) -> ChatSessionView:
        """The session's answers are made with ``template_id`` from now on, over its collection's template."""
        self.read(session_id)
        self.templates.read(template_id)  # NotFound for an unknown or deleted template
        attach = chat.AttachSessionTemplate(session_id=session_id, template_id=template_id)
        self.commands.run(chat, "chat", session_id, attach)
        return self.read(session_id)

    def detach_template(self, session_id: str) -> ChatSessionView:
        self.commands.run(chat, "chat", session_id, chat.DetachSessionTemplate(session_id=session_id))
        return self.read(session_id)

    def delete(self, session_id: str) -> None:
        self.commands.run(chat, "chat", session_id, chat.DeleteChatSession(session_id=session_id))

    def vote(self, message_id: str, votes: int) -> None:
        session_id = self._session_of(message_id)
        self.commands.run(chat, "chat", session_id, chat.VoteOnAnswer(session_id=session_id, message_id=message_id,
                                                                       votes=votes))  # fmt: skip

    def give_feedback(self, message_id: str, expected_answer: str | None, user_comment: str | None) -> None:
        session_id = self._session_of(message_id)
        feedback = chat.GiveAnswerFeedback(session_id=session_id, message_id=message_id,
                                           expected_answer=expected_answer, user_comment=user_comment)  # fmt: skip
        self.commands.run(chat, "chat", session_id, feedback)

    def _session_of(self, message_id: str) -> str:
        message = self.reads.message(message_id)
        if message is None:
            raise NotFound(f"message {message_id} not found")
        return message.session_id

    def read(self, session_id: str) -> ChatSessionView:
        row = self.reads.chat_session(session_id)
        if row is None:
            raise NotFound(f"chat session {session_id} not found")
        return row
