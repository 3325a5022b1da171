"""Bearer API keys: the middleware that turns ``Authorization: Bearer sk-...`` into a Caller."""

from __future__ import annotations

from typing import Any

import anyio.to_thread
import msgspec
from litestar.connection import ASGIConnection
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from api.bootstrap import Parley, hash_secret
from domain.errors import PermissionDenied, Unauthenticated


class Caller(msgspec.Struct, frozen=True):
    key_id: str
    username: str
    is_admin: bool
    collection_id: str | None  # a collection-scoped key may only chat with this collection

    def check_collection(self, collection_id: str | None) -> None:
        if self.collection_id is not None and collection_id != self.collection_id:
            raise PermissionDenied("this API key is scoped to another collection")


class BearerKeyAuth(AbstractAuthenticationMiddleware):
    async def authenticate_request(self, connection: ASGIConnection[Any, Any, Any, Any]) -> AuthenticationResult:
        parley: Parley = connection.app.state.parley
        scheme, _, token = connection.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("missing API key: send Authorization: Bearer <key>")
        # The read runs off the event loop: a slow disk must not stall every other request.
        row = await anyio.to_thread.run_sync(parley.read_models.api_key_by_hash, hash_secret(token.strip()))
        if row is None or not row.active:
            raise Unauthenticated("invalid or deactivated API key")
        caller = Caller(
            key_id=row.id,
            username=row.username,
            is_admin=bool(row.is_admin),
            collection_id=row.collection_id,
        )
        return AuthenticationResult(user=caller, auth=row.id)
