"""The context a command runs in: who asked, and in answer to which request.

An entry point (the API's request hook, the CLI, an ingestion job) opens a ``CommandContext`` for the piece of
work it runs; the command handler stamps every event it appends with it (``EventMetadata``), so the log can say
who did what, and in answer to what, without every call passing it along.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from domain.ports import EventMetadata


@dataclass(frozen=True)
class CommandContext:
    actor: str | None = None
    key_id: str | None = None
    correlation_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    causation_id: str | None = None

    def metadata(self, command_id: str) -> EventMetadata:
        return EventMetadata(
            actor=self.actor,
            key_id=self.key_id,
            command_id=command_id,
            correlation_id=self.correlation_id,
            causation_id=self.causation_id or self.correlation_id,
        )

    def caused_by(self, causation_id: str) -> CommandContext:
        """The context of work this one sets off (a job a request started): same actor and correlation."""
        return CommandContext(
            actor=self.actor, key_id=self.key_id, correlation_id=self.correlation_id, causation_id=causation_id
        )


_current: ContextVar[CommandContext | None] = ContextVar("parley_command_context", default=None)


def current_context() -> CommandContext:
    """The context of the work in progress; outside any, a system context of its own."""
    return _current.get() or CommandContext(actor="system")


@contextmanager
def command_context(context: CommandContext) -> Iterator[CommandContext]:
    token = _current.set(context)
    try:
        yield context
    finally:
        _current.reset(token)


_COMMANDS = uuid.UUID("5b7c1f0e-2d8a-4c55-9a51-0f3d8e6c2a10")


def command_id(*parts: str) -> str:
    """A stable command id from what names the command (a job and an upload, say): running it again decides
    events with the same ids, which the store keeps once."""
    return str(uuid.uuid5(_COMMANDS, "\n".join(parts)))


def event_id(command: str, index: int) -> str:
    """The id of a command's ``index``-th event: derived, so the same command decides the same ids."""
    return str(uuid.uuid5(uuid.UUID(command), str(index)))
