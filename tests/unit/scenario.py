"""Given / when / then for deciders: given past events, when a command, then new events or an error."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from domain.events import Event
from domain.service import Decider


class Scenario:
    def __init__(self, decider: Decider, history: Sequence[Event]) -> None:
        self.decider = decider
        self.state: Any = None
        for event in history:
            self.state = decider.evolve(self.state, event)
        self.command: Any = None

    def when(self, command: Any) -> Scenario:
        self.command = command
        return self

    def then(self, *expected: Event) -> None:
        assert self.decider.decide(self.state, self.command) == list(expected)

    def then_error(self, error: type[Exception], match: str) -> None:
        with pytest.raises(error, match=match):
            self.decider.decide(self.state, self.command)


def given(decider: Decider, *history: Event) -> Scenario:
    return Scenario(decider, history)
