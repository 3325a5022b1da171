"""Authorisation of every operation, in one table and one guard.

Each routed operation names its rule in ``RULES``: what its path names (a collection, a chat session, a message,
...), the level the caller needs on it (``domain.access.Level``), and whether a collection-scoped key may call
it. ``authorize`` runs as the app's guard before every handler: it reads the resource the path names, works out
the caller's level with ``domain.access.level``, and answers 404 when the caller may not see it (exactly as for an
id that does not exist, so ids do not leak) and 403 when the caller sees it but may not do this. An operation
missing from the table cannot be routed (``check_rules`` fails the app at start), so a new endpoint cannot slip
in unguarded. Lists and counts filter by the caller in their queries (``viewer``); what a body names (a template
to attach, the collections of a search) is checked by the handler with the helpers below.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from litestar import Litestar
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from api.auth import Caller
from domain.access import Level, Principal, level_on, owns, require, require_in_scope
from domain.errors import NotFound, PermissionDenied
from domain.ports import ReadModelQueries
from domain.template import DEFAULT_TEMPLATE_ID

# What a path parameter names, by the parameter's name.
RESOURCES = {
    "collection_id": "collection",
    "session_id": "session",
    "message_id": "message",
    "answer_id": "message",
    "document_id": "document",
    "prompt_template_id": "template",
    "job_id": "job",
    "upload_ids": "uploads",
}


@dataclass(frozen=True)
class Rule:
    level: Level = Level.READ  # on what the path names (or, for ``create_chat_session``, the query's collection)
    scoped: bool = False  # a collection-scoped key may call it (on its own collection)
    admin: bool = False  # for admins only
    public: bool = False  # no key needed


ANY_USER = Rule()
READ = Rule(level=Level.READ)
WRITE = Rule(level=Level.WRITE)
OWN = Rule(level=Level.OWN)
ADMIN = Rule(admin=True)
SCOPED_READ = Rule(level=Level.READ, scoped=True)

RULES: dict[str, Rule] = {
    # collections
    "create_collection": ANY_USER,
    "list_collections": ANY_USER,
    "get_collection_count": ANY_USER,
    "get_collection": READ,
    "update_collection": WRITE,
    "delete_collection": OWN,
    "get_collection_settings": READ,
    "update_collection_settings": WRITE,
    "get_collection_chat_settings": READ,
    "update_collection_chat_settings": WRITE,
    "reset_collection_prompt_settings": WRITE,
    "update_collection_prompt_template": WRITE,
    "delete_collection_prompt_template": WRITE,
    "list_documents_for_collection": READ,
    "get_document_count_for_collection": READ,
    "delete_document_from_collection": WRITE,
    "list_questions_for_collection": READ,
    "list_chat_sessions_for_collection": READ,
    "get_chat_session_count_for_collection": READ,
    "get_collection_permissions": READ,
    "share_collection": OWN,
    "unshare_collection": OWN,
    "unshare_collection_for_all": OWN,
    "update_collection_privacy": OWN,
    # documents, uploads, jobs
    "list_documents": ANY_USER,
    "get_document_count": ANY_USER,
    "get_document": READ,
    "upload_file": ANY_USER,
    "ingest_upload": WRITE,  # the uploads must be the caller's, the collection writable
    "create_ingest_upload_job": WRITE,
    "get_job": READ,  # a job is its creator's
    "list_jobs": ANY_USER,
    # chat sessions are their owner's; asking also needs the session's collection readable
    "create_chat_session": SCOPED_READ,
    "list_chat_sessions": ANY_USER,
    "get_chat_session_count": ANY_USER,
    "get_chat_session": SCOPED_READ,
    "update_chat_session": READ,
    "delete_chat_session": READ,
    "update_chat_session_prompt_template": READ,
    "delete_chat_session_prompt_template": READ,
    "get_chat_session_messages": SCOPED_READ,
    "get_completion": SCOPED_READ,
    "list_questions_for_chat_session": SCOPED_READ,
    "get_message_meta": SCOPED_READ,
    "get_message_references": SCOPED_READ,
    "set_message_votes": READ,
    "update_question_answer_feedback": READ,
    # models
    "list_models": ANY_USER,
    # prompt templates
    "create_prompt_template": ANY_USER,
    "list_prompt_templates": ANY_USER,
    "list_all_prompt_templates": ANY_USER,
    "get_prompt_template_count": ANY_USER,
    "get_default_prompt_template": ANY_USER,
    "get_prompt_template": READ,
    "update_prompt_template": WRITE,
    "delete_prompt_template": OWN,
    "list_prompt_template_versions": READ,
    "get_prompt_template_version": READ,
    "diff_prompt_template_versions": READ,
    "preview_prompt_template": READ,
    "get_prompt_template_permissions": READ,
    "share_prompt_template": OWN,
    "unshare_prompt_template": OWN,
    "unshare_prompt_template_for_all": OWN,
    "reset_and_share_prompt_template": OWN,
    "update_prompt_template_privacy": OWN,
    # audit: each stream as its resource; the whole log for admins
    "get_chat_session_events": READ,
    "get_collection_events": READ,
    "get_document_events": READ,
    "get_prompt_template_events": READ,
    "list_events": ADMIN,
    "get_chat_session_as_of": READ,
    "get_chat_session_messages_as_of": READ,
    "get_message_references_as_of": READ,
    "get_collection_as_of": READ,
    "list_documents_for_collection_as_of": READ,
    "get_document_as_of": READ,
    "get_prompt_template_as_of": READ,
    "export_chat_session": READ,
    "get_chat_session_transcript": READ,
    "get_message_provenance": READ,
    "replay_message": READ,
    "erase_chat_session": ADMIN,
    # the OpenAI-compatible API: the collection or session a body names is checked by the handler
    "openai_chat_completions": Rule(scoped=True),
    "openai_list_models": ANY_USER,
    "openai_get_model": ANY_USER,
    "openai_embeddings": ANY_USER,
    "openai_search": ANY_USER,
    # users and keys
    "create_user": ADMIN,
    "list_users": ADMIN,
    "get_user": ANY_USER,  # oneself; others for admins
    "get_current_user_permissions": ANY_USER,
    "request_current_user_deletion": ANY_USER,
    "confirm_current_user_deletion": ANY_USER,
    "delete_user": ADMIN,
    "create_api_key_for_user": ADMIN,
    "list_all_api_keys": ADMIN,
    "deactivate_api_key": ADMIN,
    "update_api_key_expiry": ADMIN,
    "update_api_key_inactivity_interval": ADMIN,
    "delete_api_key": ADMIN,
}


def principal(caller: Caller) -> Principal:
    return Principal(
        username=caller.username, key_id=caller.key_id, is_admin=caller.is_admin, scope=caller.collection_id
    )


def collection_level(reads: ReadModelQueries, who: Principal, collection_id: str) -> Level:
    return level_on(reads, who, "collection", collection_id)


def template_level(reads: ReadModelQueries, who: Principal, template_id: str) -> Level:
    if template_id == DEFAULT_TEMPLATE_ID:
        return Level.OWN if who.is_admin else Level.READ  # built in; the use case refuses changes to it
    return level_on(reads, who, "template", template_id)


def require_collection(reads: ReadModelQueries, who: Principal, collection_id: str, need: Level) -> None:
    require_in_scope(who, collection_id)
    require(collection_level(reads, who, collection_id), need, f"collection {collection_id}")


def require_template(reads: ReadModelQueries, who: Principal, template_id: str, need: Level) -> None:
    require(template_level(reads, who, template_id), need, f"prompt template {template_id}")


def require_session(reads: ReadModelQueries, who: Principal, session_id: str) -> None:
    """A chat session is its owner's; while its collection exists, the owner must still be able to read it (a
    collection unshared since the session began answers no more)."""
    row = reads.chat_session(session_id)
    if row is None or not owns(who, row.owner):
        raise NotFound(f"chat session {session_id} not found")
    require_in_scope(who, row.collection_id)
    still_there = row.collection_id is not None and reads.collection(row.collection_id) is not None
    if still_there and not who.is_admin and collection_level(reads, who, str(row.collection_id)) == Level.NONE:
        raise NotFound(f"chat session {session_id} not found")


def readable_collections(reads: ReadModelQueries, who: Principal, collection_ids: Iterable[str]) -> list[str]:
    """``collection_ids`` if the caller may read each of them (else 404 naming the first it may not)."""
    ids = list(collection_ids)
    for collection_id in ids:
        require_collection(reads, who, collection_id, Level.READ)
    return ids


def _check(reads: ReadModelQueries, who: Principal, kind: str, value: str, rule: Rule, query: Any) -> None:
    if kind == "collection":
        require_collection(reads, who, value, rule.level)
    elif kind == "template":  # comma-joined where the client deletes several
        for template_id in (part.strip() for part in value.split(",") if part.strip()):
            require_template(reads, who, template_id, rule.level)
    elif kind == "session":
        require_session(reads, who, value)
    elif kind == "message":
        message = reads.message(value)
        if message is None:
            raise NotFound(f"message {value} not found")
        try:
            require_session(reads, who, message.session_id)
        except NotFound:
            raise NotFound(f"message {value} not found") from None
    elif kind == "document":
        document = reads.document(value)
        if document is None:
            raise NotFound(f"document {value} not found")
        try:
            require_collection(reads, who, document.collection_id, Level.READ)
        except NotFound:
            raise NotFound(f"document {value} not found") from None
    elif kind == "job":
        job = reads.job(value)
        if job is None or not owns(who, job.owner):
            raise NotFound(f"job {value} not found")
    elif kind == "uploads":
        for upload_id in (part.strip() for part in value.split(",") if part.strip()):
            upload = reads.upload(upload_id)
            if upload is None or not owns(who, upload.owner):
                raise NotFound(f"upload {upload_id} not found")
        collection_id = query.get("collection_id")
        if collection_id:
            require_collection(reads, who, collection_id, rule.level)


async def authorize(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    import anyio.to_thread

    operation = handler.operation_id  # type: ignore[attr-defined]
    if operation is None and "OPTIONS" in getattr(handler, "http_methods", ()):
        return  # Litestar's own answer to OPTIONS: the allowed methods, nothing read
    rule = RULES.get(operation or "", ADMIN)  # unreachable for a routed operation: check_rules fails the app
    caller: Caller | None = connection.scope.get("user")
    if rule.public or caller is None:
        return  # a path the key middleware lets through (the schema, the web UI's pages)
    who = principal(caller)
    if who.scope is not None and not rule.scoped:
        raise PermissionDenied("this API key is scoped to one collection: it may only chat with that collection")
    if rule.admin and not who.is_admin:
        raise PermissionDenied("this operation needs an admin API key")
    if who.is_admin and who.scope is None:
        return  # admins reach everything; a missing id is the handler's 404
    reads: ReadModelQueries = connection.app.state.parley.read_models
    params = connection.path_params
    targets = [(RESOURCES[name], str(params[name])) for name in RESOURCES if name in params]
    if operation == "create_chat_session":
        collection_id = connection.query_params.get("collection_id")
        if collection_id:
            targets.append(("collection", collection_id))
        else:
            require_in_scope(who, None)
    query = connection.query_params

    def check_all() -> None:
        for kind, value in targets:
            _check(reads, who, kind, value, rule, query)

    await anyio.to_thread.run_sync(check_all)


def check_rules(app: Litestar) -> None:
    """Every operation the app routes has its rule, and every rule its operation."""
    routed = {
        handler.operation_id or f"{route.path} (no operation_id)"
        for route in app.routes
        for handler in getattr(route, "route_handlers", ())
        if route.path.startswith(("/api/", "/v1/")) and "OPTIONS" not in getattr(handler, "http_methods", ())
    }
    missing = sorted(str(name) for name in routed - set(RULES))
    if missing:
        raise RuntimeError(f"operations without an access rule in api/access.py: {', '.join(missing)}")
