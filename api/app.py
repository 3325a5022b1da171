"""The Litestar application: routes, auth, error mapping, OpenAPI, and the lifespan that starts projections."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
from litestar import Litestar, Request, Response
from litestar.di import Provide
from litestar.exceptions import HTTPException
from litestar.middleware import DefineMiddleware
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme

from api.access import authorize, check_rules
from api.auth import BearerKeyAuth, Caller
from api.bootstrap import Parley
from api.context import CommandContextMiddleware
from api.controllers.chats import ChatController, FeedbackController, MessageController
from api.controllers.collections import CollectionController
from api.controllers.documents import DocumentController
from api.controllers.erasure import ErasureController
from api.controllers.history import HistoryController, PastController, ProvenanceController
from api.controllers.jobs import JobController
from api.controllers.models import ModelController
from api.controllers.openai import OpenAIController
from api.controllers.prompt_templates import PromptTemplateController
from api.controllers.sharing import CollectionSharingController, TemplateSharingController
from api.controllers.uploads import UploadController
from api.controllers.users import ApiKeyController, UserController
from api.key_usage import KeyUsage
from api.limits import MAX_JSON_BYTES, MULTIPART_OVERHEAD, body_kind, check_body
from api.rate_limits import KeyLimits, RateLimitMiddleware
from api.schemas import ErrorBody
from api.web import PUBLIC_PATHS, web_ui
from domain import errors

log = logging.getLogger("parley.api")

STATUS_BY_ERROR: list[tuple[type[errors.ParleyError], int]] = [
    (errors.Unauthenticated, 401),
    (errors.PermissionDenied, 403),
    (errors.NotFound, 404),
    (errors.PayloadTooLarge, 413),
    (errors.UnsupportedMediaType, 415),
    (errors.AlreadyExists, 409),
    (errors.ConcurrencyError, 409),
    (errors.InvalidCommand, 400),
    (errors.DocumentUnreadable, 400),
    (errors.DomainError, 400),
    (errors.BackendUnavailable, 503),
    (errors.NotReady, 503),
]


def status_for(error: errors.ParleyError) -> int:
    for kind, status in STATUS_BY_ERROR:
        if isinstance(error, kind):
            return status
    return 500


def _error(status: int, message: str, error_type: str) -> Response[ErrorBody]:
    return Response(ErrorBody(code=status, message=message, error_type=error_type), status_code=status)


def parley_error(request: Request[Any, Any, Any], error: errors.ParleyError) -> Response[ErrorBody]:
    status = status_for(error)
    if status in (401, 403, 404):  # refused: logged with who asked, never recorded as an event
        who: Caller | None = request.scope.get("user")
        actor = f"{who.username} (key {who.key_id})" if who is not None else "no valid key"
        log.info("refused %s %s for %s: %d %s", request.method, request.url.path, actor, status, error.message)
    return _error(status, error.message, type(error).__name__)


def http_error(request: Request[Any, Any, Any], error: HTTPException) -> Response[ErrorBody]:
    return _error(error.status_code, http_error_message(request, error), type(error).__name__)


def http_error_message(request: Request[Any, Any, Any], error: HTTPException) -> str:
    """What went wrong, for Litestar's own errors (a body too large, a field of the wrong type)."""
    message = error.detail
    if error.status_code == 413:
        if body_kind(request) == "multipart":
            limit = request.app.state.parley.settings.max_upload_mb
            message = f"the request body is larger than the {limit:g} MB upload limit (PARLEY_MAX_UPLOAD_MB)"
        else:
            message = f"the JSON body is larger than {MAX_JSON_BYTES // 1024} KiB"
    extra = error.extra
    if isinstance(extra, list) and extra:
        message = f"{message}: " + "; ".join(_field_problem(item) for item in extra if isinstance(item, dict))
    return message


def _field_problem(item: dict[str, object]) -> str:
    key = item.get("key")
    where = f" (field `{key}`)" if key and key != "data" else ""
    return f"{item.get('message', item)}{where}"


def internal_error(_: Request[Any, Any, Any], error: Exception) -> Response[ErrorBody]:
    log.exception("unexpected error", exc_info=error)
    return _error(500, f"internal error: {type(error).__name__}", "InternalError")


def create_app(parley: Parley) -> Litestar:
    key_usage = KeyUsage(parley.handler)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        app.state.parley = parley
        app.state.key_usage = key_usage
        app.state.key_limits = KeyLimits(parley.settings.rate_limit_per_minute, parley.settings.max_concurrent_answers)
        # Catch up with the log before the server accepts requests, so reads are never behind.
        await anyio.to_thread.run_sync(parley.start)
        key_usage.start()
        try:
            yield
        finally:
            await anyio.to_thread.run_sync(key_usage.stop)
            await anyio.to_thread.run_sync(parley.close)

    app = Litestar(
        route_handlers=[
            CollectionController,
            DocumentController,
            UploadController,
            ChatController,
            MessageController,
            FeedbackController,
            JobController,
            ModelController,
            PromptTemplateController,
            OpenAIController,
            HistoryController,
            PastController,
            ProvenanceController,
            ErasureController,
            ApiKeyController,
            UserController,
            CollectionSharingController,
            TemplateSharingController,
            web_ui,
        ],
        dependencies={"parley": Provide(lambda: parley, sync_to_thread=False)},
        middleware=[
            DefineMiddleware(BearerKeyAuth, exclude=["^/schema", *PUBLIC_PATHS]),
            CommandContextMiddleware,
            RateLimitMiddleware,
        ],
        guards=[authorize],
        exception_handlers={
            errors.ParleyError: parley_error,
            HTTPException: http_error,
            Exception: internal_error,
        },
        lifespan=[lifespan],
        before_request=check_body,
        # The uploads' limit; every JSON route has MAX_JSON_BYTES of its own.
        request_max_body_size=parley.settings.max_upload_bytes + MULTIPART_OVERHEAD,
        openapi_config=OpenAPIConfig(
            title="Parley",
            version="1.0.0",
            description="Event-sourced RAG chat server speaking the h2oGPTe REST API v1.",
            path="/schema",
            render_plugins=[SwaggerRenderPlugin(path="/"), JsonRenderPlugin()],
            components=Components(security_schemes={"bearerAuth": SecurityScheme(type="http", scheme="bearer")}),
            security=[{"bearerAuth": []}],
        ),
    )
    check_rules(app)
    return app
