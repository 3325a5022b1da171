"""A streamed answer, for every API that streams one (h2oGPTe's JSON Lines, OpenAI's server-sent events).

The ask use case runs in a worker thread; its pieces cross to the event loop through a queue. The first piece (a
delta, the answer, or an error) is awaited before a response starts, so a failure before any text is a plain
status code. When the client goes away mid-answer, the next piece stops the model (``AnswerAbandoned``), so a
backend does not go on generating for nobody; the session records why the question has no answer.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio.to_thread

from domain.errors import AnswerAbandoned
from domain.usecases.ask import Asked

Answering = Callable[[Callable[[str], None]], Asked]  # runs the ask use case with an on_delta callback


class StreamedAnswer:
    """The pieces of one answer: ``deltas()`` yields the text as it comes; ``asked`` is the recorded answer once
    they end, or ``error`` the reason it failed after streaming began."""

    def __init__(self, answering: Answering) -> None:
        self._answering = answering
        self._pieces: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self._abandoned = threading.Event()
        self._worker: asyncio.Future[None] | None = None
        self._first: tuple[str, Any] | None = None
        self.asked: Asked | None = None
        self.error: Exception | None = None

    async def start(self) -> None:
        """Starts answering and waits for the first piece; an error before any text is raised here."""
        loop = asyncio.get_running_loop()

        def put(kind: str, value: Any) -> None:
            loop.call_soon_threadsafe(self._pieces.put_nowait, (kind, value))

        def on_delta(text: str) -> None:
            if self._abandoned.is_set():
                raise AnswerAbandoned("the client stopped reading the streamed answer")
            put("delta", text)

        def work() -> None:
            try:
                put("done", self._answering(on_delta))
            except Exception as error:  # handed to the response: a status code, or the stream's error piece
                put("error", error)

        self._worker = asyncio.ensure_future(anyio.to_thread.run_sync(work))
        self._first = await self._pieces.get()
        if self._first[0] == "error":
            await self._worker
            raise self._first[1]

    async def deltas(self) -> AsyncIterator[str]:
        assert self._first is not None, "start() first"
        kind, value = self._first
        try:
            while kind == "delta":
                yield value
                kind, value = await self._pieces.get()
        finally:
            if kind == "delta":  # the client went away (the response was cancelled) before the end
                self._abandoned.set()
        if kind == "done":
            self.asked = value
        else:
            self.error = value
        assert self._worker is not None
        await self._worker
