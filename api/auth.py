"""Bearer API keys: the middleware that turns ``Authorization: Bearer sk-...`` into a Caller.

A key lets its user in while it is active, not expired and not idle past its inactivity interval. Every check
reads the key's row, so a revocation holds on every replica as soon as the read models have its event."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import anyio.to_thread
import msgspec
from litestar.connection import ASGIConnection
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from api.bootstrap import Parley, hash_secret
from domain.apikey import lapsed
from domain.errors import Unauthenticated

log = logging.getLogger("parley.auth")


class Caller(msgspec.Struct, frozen=True):
    key_id: str
    username: str
    is_admin: bool
    collection_id: str | None  # a collection-scoped key may only chat with this collection


class BearerKeyAuth(AbstractAuthenticationMiddleware):
    async def authenticate_request(self, connection: ASGIConnection[Any, Any, Any, Any]) -> AuthenticationResult:
        parley: Parley = connection.app.state.parley
        scheme, _, token = connection.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("missing API key: send Authorization: Bearer <key>")
        # The read runs off the event loop: a slow disk must not stall every other request.
        row = await anyio.to_thread.run_sync(parley.read_models.api_key_by_hash, hash_secret(token.strip()))
        if row is None:
            raise Unauthenticated("invalid API key")
        usage = connection.app.state.key_usage
        last_use = usage.last_use(row.id, row.last_used_at)
        why = lapsed(
            active=row.active,
            expires_at=row.expires_at,
            inactivity_interval=row.inactivity_interval,
            created_at=row.created_at,
            last_used_at=last_use,
            now=datetime.now(UTC),
        )
        if why is not None:
            log.info("refused: API key %s (%s) of %s is %s", row.id, row.hint, row.username, why)
            raise Unauthenticated(f"this API key is {why}")
        usage.record(row.id)
        caller = Caller(
            key_id=row.id,
            username=row.username,
            is_admin=bool(row.is_admin),
            collection_id=row.collection_id,
        )
        return AuthenticationResult(user=caller, auth=row.id)
