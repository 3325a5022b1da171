"""Authorisation in one place: Litestar guards, run after authentication and before the handler."""

from __future__ import annotations

from typing import Any

import anyio.to_thread
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from api.auth import Caller
from domain.errors import NotFound


async def collection_scope(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """A collection-scoped key works only on its collection: the one a new chat session names
    (``collection_id``), or the chat session's own (``session_id`` in the path)."""
    caller: Caller = connection.user
    if caller.collection_id is None:
        return
    session_id = connection.path_params.get("session_id")
    if session_id is None:
        caller.check_collection(connection.query_params.get("collection_id"))
        return
    row = await anyio.to_thread.run_sync(connection.app.state.parley.read_models.chat_session, session_id)
    if row is None:
        raise NotFound(f"chat session {session_id} not found")
    caller.check_collection(row.collection_id)
