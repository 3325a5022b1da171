"""Helpers shared by the controllers: the caller, optional JSON bodies, and ids in paths."""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec
from litestar import Request

from api.auth import Caller
from domain.errors import InvalidCommand

T = TypeVar("T")
API = "/api/v1"
MAX_PAGE = 10_000


def caller(request: Request[Any, Any, Any]) -> Caller:
    user: Caller = request.user
    return user


async def optional_body(request: Request[Any, Any, Any], kind: type[T]) -> T | None:
    """Decode an optional JSON body. The h2ogpte client sends ``Content-Type: application/json`` with an empty
    body when the body is omitted, so an empty body means "none", not an error."""
    raw = await request.body()
    if not raw.strip():
        return None
    try:
        return msgspec.json.decode(raw, type=kind)
    except msgspec.DecodeError as error:
        raise InvalidCommand(f"malformed JSON body: {error}") from error
    except msgspec.ValidationError as error:
        raise InvalidCommand(f"invalid body: {error}") from error


def split_ids(joined: str) -> list[str]:
    """Ids that arrive comma-joined (and percent-encoded, decoded by the server) in one path segment."""
    ids = [part.strip() for part in joined.split(",") if part.strip()]
    if not ids:
        raise InvalidCommand("no ids given in the path")
    return ids


def page(offset: int, limit: int) -> tuple[int, int]:
    if offset < 0 or limit < 0:
        raise InvalidCommand("offset and limit must not be negative")
    return offset, min(limit, MAX_PAGE)
