"""The command context of each request: its caller and its correlation id, for the events it causes."""

from __future__ import annotations

import re
import uuid
from typing import Any

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

from domain.envelope import CommandContext, command_context

# A client's own request id is kept when it is a plain token; anything else is replaced, never echoed.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


class CommandContextMiddleware:
    """Runs each authenticated request inside a CommandContext: the caller (user and key) as actor, and the
    client's ``X-Request-ID`` (or a fresh id) as correlation id. Sits after the authentication middleware."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        caller: Any = scope.get("user")
        if scope["type"] != ScopeType.HTTP or caller is None:
            await self.app(scope, receive, send)
            return
        sent = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        correlation = sent if _REQUEST_ID.fullmatch(sent) else str(uuid.uuid4())
        context = CommandContext(actor=caller.username, key_id=caller.key_id, correlation_id=correlation)
        with command_context(context):
            await self.app(scope, receive, send)
