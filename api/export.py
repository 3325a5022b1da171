"""A chat session's export: its events as hash-chained JSON Lines (``domain.usecases.audit``) and the HTML
transcript of the same entries (``adapters.transcript``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from adapters.transcript import JinjaTranscript
from domain.audit import Reader, check_history_access
from domain.errors import NotFound
from domain.ports import EventStore
from domain.service import stream_name
from domain.usecases.audit import export_lines


@dataclass(frozen=True)
class ExportedSession:
    lines: list[dict[str, Any]]
    html: str


class ExportSession:
    def __init__(self, events: EventStore, transcript: JinjaTranscript) -> None:
        self.events = events
        self.transcript = transcript

    def session(self, reader: Reader, session_id: str, now: datetime) -> ExportedSession:
        """Every event of the session (a deleted one's too); NotFound when it never existed."""
        stream = stream_name("chat", session_id)
        check_history_access(reader, stream)
        records = self.events.read_stream(stream)
        if not records:
            raise NotFound(f"chat session {session_id} has no events")
        lines = export_lines(session_id, records, now.isoformat())
        return ExportedSession(lines=lines, html=self.transcript.render(lines))
