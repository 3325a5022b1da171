"""Erasing chat sessions' personal data by crypto-shredding: record the erasure in each session's stream, let the
read models drop the sessions, then forget their keys and what derived stores kept of their text.

The order makes a crash harmless: the ``ChatSessionErased`` event comes first (its projection removes the
session from every read model); then the cached embeddings of its questions go (their texts are read while the
key is there), then the keys; once the read side has applied the event, the stores are compacted (SQLite's WAL
pages). Erasing again appends nothing new (the command's id is derived from the session) and forgets whatever
is left."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import msgspec

from domain import chat
from domain.audit import Reader
from domain.envelope import command_id
from domain.erasure import ERASED, check_erasure_access, lookup_texts
from domain.errors import NotFound
from domain.ports import ErasureTraces, EventStore, SubjectKeyStore
from domain.service import CommandHandler, stream_name


class Erasure(msgspec.Struct, frozen=True, kw_only=True):
    """One erased session: how many of its events now read as erased, and where the erasure is in the log."""

    session_id: str
    events: int  # the session's events, the erasure's included
    position: int | None  # of its ChatSessionErased event; None when it had been erased before
    key_forgotten: bool  # False when an earlier erasure had forgotten it already


class EraseSessions:
    def __init__(
        self,
        handler: CommandHandler,
        events: EventStore,
        keys: SubjectKeyStore,
        traces: ErasureTraces,
        wait_for: Callable[[int | None], None],
    ) -> None:
        self.handler = handler
        self.events = events
        self.keys = keys
        self.traces = traces
        self.wait_for = wait_for

    def __call__(self, reader: Reader, session_ids: Sequence[str]) -> list[Erasure]:
        """Erase the sessions, for a reader who may (an admin)."""
        check_erasure_access(reader)
        return self.erase(session_ids)

    def erase(self, session_ids: Sequence[str]) -> list[Erasure]:
        """Erase every one of ``session_ids`` (deleted sessions too), for a caller that has decided it may (a
        user's deletion erases all their sessions). NotFound, before anything is erased, when one never existed."""
        ids = list(dict.fromkeys(session_ids))
        streams = {session_id: self.events.read_stream(stream_name("chat", session_id)) for session_id in ids}
        missing = [session_id for session_id, records in streams.items() if not records]
        if missing:
            raise NotFound(f"chat session {missing[0]} not found")
        texts: list[str] = []
        positions: dict[str, int | None] = {}
        for session_id, records in streams.items():
            for record in records:  # read while the key is there: what derived stores keep under these texts' hash
                if record.type in ("QuestionAsked", "AnswerGenerated"):
                    texts += lookup_texts(record.type, msgspec.json.decode(record.data))
            result = self.handler.execute(
                chat,
                stream_name("chat", session_id),
                chat.EraseChatSession(session_id=session_id),
                command_id=command_id("erase-chat-session", session_id),
            )
            positions[session_id] = result.commit_position if result is not None else None
        self.traces.forget_texts([text for text in texts if text != ERASED])  # while the texts can still be read
        forgotten = set(self.keys.forget(ids))  # at once: a read side that is late folds "[erased]" already
        done = [position for position in positions.values() if position is not None]
        self.wait_for(max(done) if done else None)  # the read models have dropped the sessions...
        self.traces.compact()  # ...so the old pages of their rows can go
        return [
            Erasure(
                session_id=session_id,
                events=len(streams[session_id]) + (1 if positions[session_id] is not None else 0),
                position=positions[session_id],
                key_forgotten=session_id in forgotten,
            )
            for session_id in ids
        ]
