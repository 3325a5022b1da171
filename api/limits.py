"""Limits checked at the door, before any work: body size per route, media type, and how deep JSON nests.

A body that breaks one is refused with its status (413, 415, 400) before it is decoded, so a hostile request
costs no more than reading its bytes; the question's length is bounded by its schema (``ChatCompletionRequest``).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
from litestar import Request

from domain.errors import InvalidCommand, PayloadTooLarge, UnsupportedMediaType

MAX_JSON_BYTES = 1024 * 1024  # a question of 100,000 characters fits four times over
MAX_JSON_DEPTH = 32  # the contract's deepest body (rag_config inside a completion) nests 3 levels
MULTIPART_OVERHEAD = 64 * 1024  # part headers and boundaries around an uploaded file
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKET = bytes(set(range(256)) - set(b"[]{}"))


def json_depth(raw: bytes) -> int:
    """How deep ``raw`` nests arrays and objects, counted without decoding it (strings may hold brackets)."""
    brackets = np.frombuffer(_STRING.sub(b"", raw).translate(None, _NOT_BRACKET), dtype=np.uint8)
    if brackets.size == 0:
        return 0
    steps = np.where((brackets == ord("[")) | (brackets == ord("{")), 1, -1)
    return int(np.cumsum(steps).max())


def media_type(request: Request[Any, Any, Any]) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def is_json(media: str) -> bool:
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def body_kind(request: Request[Any, Any, Any]) -> str:
    """``json`` unless the route says otherwise in its ``opt`` (uploads say ``multipart``)."""
    kind: str = request.route_handler.opt.get("body", "json")
    return kind


async def check_body(request: Request[Any, Any, Any]) -> None:
    """The before-request hook of every route."""
    if request.method not in BODY_METHODS:
        return
    media = media_type(request)
    if body_kind(request) == "multipart":
        if media != "multipart/form-data":
            raise UnsupportedMediaType(f"an upload is sent as multipart/form-data with a `file` part, not {media!r}")
        return
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_JSON_BYTES:
        raise PayloadTooLarge(f"the JSON body is larger than {MAX_JSON_BYTES // 1024} KiB")
    raw = await request.body()  # Litestar enforces the route's request_max_body_size while reading
    if not raw.strip():
        return  # an omitted optional body (the h2ogpte client sends an empty one with a JSON content type)
    if not is_json(media):
        raise UnsupportedMediaType(f"the body must be application/json, not {media or 'untyped'!r}")
    if json_depth(raw) > MAX_JSON_DEPTH:
        raise InvalidCommand(f"the JSON body nests deeper than {MAX_JSON_DEPTH} levels")
