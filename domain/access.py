"""Who may do what: the access rules of every entry point, pure.

A caller is a ``Principal``: the user a key acts as, whether that user is an admin, and the collection a
collection-scoped key is bound to. A resource answers with its ``Grants`` (owner, public flag, shares). The
caller's ``level`` on it is one of NONE < READ < WRITE < OWN; an entry point needs one, and ``require`` says
NotFound when the caller may not even see the resource (so ids do not leak) and PermissionDenied when the caller
sees it but may not do this."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import IntEnum
from typing import Protocol

import msgspec

from domain.errors import NotFound, PermissionDenied
from domain.views import CollectionView, TemplateView


class Level(IntEnum):
    NONE = 0
    READ = 1  # see it; create chat sessions on a collection and ask in them
    WRITE = 2  # change its content and settings (documents, chat settings, a template's fields)
    OWN = 3  # delete it, share it, make it public


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    username: str
    key_id: str
    is_admin: bool = False
    scope: str | None = None  # the collection of a collection-scoped key


class ResourceGrants(msgspec.Struct, frozen=True, kw_only=True):
    owner: str
    is_public: bool = False
    shared: Mapping[str, Sequence[str]] = {}  # username -> permissions ("read", "write")


def level(principal: Principal, grants: ResourceGrants) -> Level:
    if principal.is_admin or principal.username == grants.owner:
        return Level.OWN
    permissions = grants.shared.get(principal.username, ())
    if "write" in permissions:
        return Level.WRITE
    if "read" in permissions or grants.is_public:
        return Level.READ
    return Level.NONE


class GrantReads(Protocol):
    """What working out a level on a stored collection or template reads (``ReadModelQueries`` has it all)."""

    def collection(self, collection_id: str) -> CollectionView | None: ...

    def template(self, template_id: str) -> TemplateView | None: ...

    def share(self, kind: str, resource_id: str, username: str) -> tuple[str, ...]: ...


def level_on(reads: GrantReads, principal: Principal, kind: str, resource_id: str) -> Level:
    """The principal's level on the collection or template (``kind``) ``resource_id``: NONE when there is none."""
    row = reads.collection(resource_id) if kind == "collection" else reads.template(resource_id)
    if row is None:
        return Level.NONE
    shared = {} if principal.is_admin else {principal.username: reads.share(kind, resource_id, principal.username)}
    return level(principal, ResourceGrants(owner=row.owner, is_public=row.is_public, shared=shared))


def require(have: Level, need: Level, what: str) -> None:
    """``what`` names the resource as a not-found message would ("collection 1234")."""
    if have == Level.NONE:
        raise NotFound(f"{what} not found")
    if have < need:
        verb = {Level.WRITE: "change", Level.OWN: "delete or share"}.get(need, "read")
        raise PermissionDenied(f"you may read {what} but not {verb} it")


def require_in_scope(principal: Principal, collection_id: str | None) -> None:
    """A collection-scoped key works only with its own collection."""
    if principal.scope is not None and collection_id != principal.scope:
        raise PermissionDenied("this API key is scoped to another collection")


def owns(principal: Principal, owner: str | None) -> bool:
    """A chat session, an upload or a job is its creator's alone (and an admin's)."""
    return principal.is_admin or (owner is not None and owner == principal.username)
