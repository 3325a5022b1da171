"""What every write does before it answers: decide and append, then wait until the read side shows it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from domain.service import CommandHandler, Decider, stream_name


class Commands:
    def __init__(self, handler: CommandHandler, wait_for: Callable[[int | None], None]) -> None:
        self.handler = handler
        self.wait_for = wait_for

    def run(self, decider: Decider, kind: str, aggregate_id: str, *commands: Any) -> None:
        """Run ``commands`` on the aggregate ``kind-aggregate_id``; returns once reads reflect their events."""
        result = self.handler.execute(decider, stream_name(kind, aggregate_id), *commands)
        self.wait_for(result.commit_position if result is not None else None)
