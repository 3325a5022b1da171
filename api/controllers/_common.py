"""Helpers shared by the controllers: the caller, optional JSON bodies, ids in paths, paging, and the error
responses each operation documents."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

import msgspec
from litestar import Request
from litestar.openapi import ResponseSpec
from litestar.params import Parameter

from api.auth import Caller
from api.schemas import ErrorBody
from domain.errors import InvalidCommand

T = TypeVar("T")
API = "/api/v1"
MAX_PAGE = 10_000
# SQLite (and Postgres) bind 64-bit integers; far below that, an offset past any real table is still a page.
MAX_OFFSET = 1_000_000_000

Offset = Annotated[int, Parameter(ge=0, le=MAX_OFFSET, description=f"rows to skip, 0 to {MAX_OFFSET:,}")]
Limit = Annotated[int, Parameter(ge=0, description=f"rows to return; more than {MAX_PAGE:,} are capped")]

ERROR_DESCRIPTIONS = {
    400: "The request is malformed or its values are not acceptable (the message names the field)",
    401: "No valid API key: send `Authorization: Bearer <key>`",
    403: "The caller may see this but not do it (read-only share, admin operation, a collection-scoped key)",
    404: "What the path names does not exist (or was deleted)",
    409: "A concurrent change won, or what is created exists already; read again and retry",
    413: "The request body is over its limit (see the README's limits)",
    415: "The body is not of a media type the operation reads (JSON operations read `application/json`)",
    429: "Too many requests or answers at once for this API key: retry after `Retry-After` seconds",
    500: "A fault of the server's own, logged; never a client's mistake",
    503: "A model backend or ingestion did not answer in time, or answered with an error",
}


def errors(*statuses: int) -> dict[int, ResponseSpec]:
    """The error responses of an operation: 400, 401, 403, 404, 429 and 500 for all (any key may be refused, or
    limited), and ``statuses`` besides, each with the contract's error body ``{code, message, error_type}``."""
    return {
        status: ResponseSpec(data_container=ErrorBody, description=ERROR_DESCRIPTIONS[status], generate_examples=False)
        for status in sorted({400, 401, 403, 404, 429, 500, *statuses})
    }


# The error statuses of the kinds of operation, named once.
READ = errors(404)
LIST = errors()
COMMAND = errors(404, 409, 413, 415)


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
    """A page within range; the parameters' own bounds (Offset, Limit) have answered 400 before this."""
    if offset < 0 or limit < 0:
        raise InvalidCommand("offset and limit must not be negative")
    if offset > MAX_OFFSET:
        raise InvalidCommand(f"offset must be at most {MAX_OFFSET:,}")
    return offset, min(limit, MAX_PAGE)
