"""Per-key limits: a request rate (a token bucket refilled at ``rate_limit_per_minute``, as deep as a minute's
worth) and a number of answers in progress at once. Past either, 429 with ``Retry-After``. The counts are this
replica's, in memory; admin keys are not limited (the operator's own tools, benchmarks, migrations)."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Any

import msgspec
from litestar.enums import ScopeType
from litestar.types import ASGIApp, HTTPResponseBodyEvent, HTTPResponseStartEvent, Receive, Scope, Send

from api.schemas import ErrorBody

ANSWERING = frozenset({"get_completion", "openai_chat_completions"})


class KeyLimits:
    def __init__(self, per_minute: int, concurrent_answers: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self.concurrent_answers = concurrent_answers
        self.clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}  # key id -> (tokens, when)
        self._answering: dict[str, int] = {}

    def take(self, key_id: str) -> float | None:
        """None when the request may go; else the seconds until it may."""
        if self.per_minute == 0:
            return None
        rate = self.per_minute / 60.0
        now = self.clock()
        with self._lock:
            tokens, then = self._buckets.get(key_id, (float(self.per_minute), now))
            tokens = min(float(self.per_minute), tokens + (now - then) * rate)
            if tokens < 1.0:
                self._buckets[key_id] = (tokens, now)
                return (1.0 - tokens) / rate
            self._buckets[key_id] = (tokens - 1.0, now)
            return None

    def start_answer(self, key_id: str) -> bool:
        if self.concurrent_answers == 0:
            return True
        with self._lock:
            if self._answering.get(key_id, 0) >= self.concurrent_answers:
                return False
            self._answering[key_id] = self._answering.get(key_id, 0) + 1
            return True

    def end_answer(self, key_id: str) -> None:
        if self.concurrent_answers == 0:
            return
        with self._lock:
            left = self._answering.get(key_id, 1) - 1
            if left:
                self._answering[key_id] = left
            else:
                self._answering.pop(key_id, None)


async def _too_many(send: Send, message: str, retry_after: float) -> None:
    body = msgspec.json.encode(ErrorBody(code=429, message=message, error_type="TooManyRequests"))
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"retry-after", str(max(1, math.ceil(retry_after))).encode()),
    ]
    start: HTTPResponseStartEvent = {"type": "http.response.start", "status": 429, "headers": headers}
    end: HTTPResponseBodyEvent = {"type": "http.response.body", "body": body, "more_body": False}
    await send(start)
    await send(end)


class RateLimitMiddleware:
    """After authentication: the caller's key is known, and so is the operation."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        caller: Any = scope.get("user")
        if scope["type"] != ScopeType.HTTP or caller is None or caller.is_admin:
            await self.app(scope, receive, send)
            return
        limits: KeyLimits = scope["app"].state.key_limits
        wait = limits.take(caller.key_id)
        if wait is not None:
            await _too_many(send, f"more than {limits.per_minute} requests a minute with this API key", wait)
            return
        handler = scope.get("route_handler")
        if getattr(handler, "operation_id", None) not in ANSWERING:
            await self.app(scope, receive, send)
            return
        if not limits.start_answer(caller.key_id):
            message = f"this API key already has {limits.concurrent_answers} answers in progress"
            await _too_many(send, message, 1.0)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            limits.end_answer(caller.key_id)
