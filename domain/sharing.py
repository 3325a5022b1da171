"""Sharing a collection or a prompt template: with named users (to read, or to read and change) and with
everyone (``is_public``: readable by every user).

The commands run on the resource's own stream (``collection-<id>``, ``template-<id>``), beside the resource's
other commands, so its history shows who shared it when, and the stream's version orders a share against a
deletion. The owner is the resource's creator and never changes."""

from __future__ import annotations

import msgspec

from domain.errors import InvalidCommand, NotFound
from domain.events import (
    AccessShared,
    AccessUnshared,
    CollectionCreated,
    CollectionDeleted,
    Event,
    PrivacyChanged,
    TemplateCreated,
    TemplateDeleted,
)

KINDS = ("collection", "template")
PERMISSIONS = ("read", "write")


class Share(msgspec.Struct, frozen=True, kw_only=True):
    kind: str
    resource_id: str
    username: str
    permissions: tuple[str, ...] = ("read",)


class Unshare(msgspec.Struct, frozen=True, kw_only=True):
    kind: str
    resource_id: str
    username: str


class UnshareForAll(msgspec.Struct, frozen=True, kw_only=True):
    kind: str
    resource_id: str


class ResetAndShare(msgspec.Struct, frozen=True, kw_only=True):
    """Share with exactly these users (to read), and with no one else."""

    kind: str
    resource_id: str
    usernames: tuple[str, ...]


class SetPrivacy(msgspec.Struct, frozen=True, kw_only=True):
    kind: str
    resource_id: str
    is_public: bool


SharingCommand = Share | Unshare | UnshareForAll | ResetAndShare | SetPrivacy


class Grants(msgspec.Struct, frozen=True, kw_only=True):
    kind: str
    resource_id: str
    owner: str
    is_public: bool = False
    shared: dict[str, tuple[str, ...]] = {}
    deleted: bool = False


State = Grants | None


def normalized(permissions: tuple[str, ...]) -> tuple[str, ...]:
    """The permissions a share grants: "write" implies "read"; none given means "read"."""
    unknown = sorted(set(permissions) - set(PERMISSIONS))
    if unknown:
        raise InvalidCommand(f"unknown permissions {', '.join(unknown)}: each is one of {', '.join(PERMISSIONS)}")
    return ("read", "write") if "write" in permissions else ("read",)


def decide(state: State, command: SharingCommand) -> list[Event]:
    if command.kind not in KINDS:
        raise InvalidCommand(f"only a collection or a prompt template is shared, not a {command.kind!r}")
    if state is None or state.deleted:
        name = "prompt template" if command.kind == "template" else command.kind
        raise NotFound(f"{name} {command.resource_id} not found")
    where = {"kind": command.kind, "resource_id": command.resource_id}
    if isinstance(command, SetPrivacy):
        return [] if command.is_public == state.is_public else [PrivacyChanged(**where, is_public=command.is_public)]
    if isinstance(command, Share):
        if command.username == state.owner:
            raise InvalidCommand(f"{command.username} owns this {command.kind}: an owner needs no share")
        permissions = normalized(command.permissions)
        if state.shared.get(command.username) == permissions:
            return []
        return [AccessShared(**where, username=command.username, permissions=permissions)]
    if isinstance(command, Unshare):
        return [AccessUnshared(**where, username=command.username)] if command.username in state.shared else []
    if isinstance(command, UnshareForAll):
        return [AccessUnshared(**where, username=username) for username in sorted(state.shared)]
    wanted = dict.fromkeys(command.usernames)
    if state.owner in wanted:
        raise InvalidCommand(f"{state.owner} owns this {command.kind}: an owner needs no share")
    changes: list[Event] = [
        AccessUnshared(**where, username=username) for username in sorted(state.shared) if username not in wanted
    ]
    changes += [
        AccessShared(**where, username=username, permissions=("read",))
        for username in wanted
        if state.shared.get(username) != ("read",)
    ]
    return changes


def evolve(state: State, event: Event) -> State:
    if isinstance(event, CollectionCreated):
        return Grants(kind="collection", resource_id=event.collection_id, owner=event.owner)
    if isinstance(event, TemplateCreated):
        return Grants(kind="template", resource_id=event.template_id, owner=event.owner)
    if state is None:
        return state
    if isinstance(event, CollectionDeleted | TemplateDeleted):
        return msgspec.structs.replace(state, deleted=True)
    if isinstance(event, PrivacyChanged):
        return msgspec.structs.replace(state, is_public=event.is_public)
    if isinstance(event, AccessShared):
        return msgspec.structs.replace(state, shared={**state.shared, event.username: event.permissions})
    if isinstance(event, AccessUnshared):
        return msgspec.structs.replace(
            state, shared={name: kept for name, kept in state.shared.items() if name != event.username}
        )
    return state
