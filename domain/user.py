"""The User aggregate: a person (or a service) that owns collections, chat sessions and prompt templates.

A user's id is its name on the wire (``username`` in every h2oGPTe model), so the id an admin gives
``create_api_key_for_user`` names the user it creates. Deleting a user is final: the name is not reused, so
the log's events by that name keep meaning one person."""

from __future__ import annotations

import re
from datetime import datetime

import msgspec

from domain.errors import AlreadyExists, InvalidCommand, NotFound
from domain.events import Event, UserCreated, UserDeleted, UserDeletionRequested

USER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,127}")


class CreateUser(msgspec.Struct, frozen=True, kw_only=True):
    user_id: str
    email: str = ""
    is_admin: bool = False


class RequestDeletion(msgspec.Struct, frozen=True, kw_only=True):
    user_id: str
    delete_id: str
    expires_at: datetime


class DeleteUser(msgspec.Struct, frozen=True, kw_only=True):
    """``delete_id`` and ``now``: the user's own confirmation of a request; None for an admin's deletion."""

    user_id: str
    delete_id: str | None = None
    now: datetime | None = None


UserCommand = CreateUser | RequestDeletion | DeleteUser


class User(msgspec.Struct, frozen=True, kw_only=True):
    user_id: str
    deleted: bool = False
    is_admin: bool = False
    deletion: UserDeletionRequested | None = None  # the latest request to be deleted


State = User | None


def check_user_id(user_id: str) -> None:
    if not USER_ID.fullmatch(user_id):
        raise InvalidCommand(
            f"a user id is 1 to 128 letters, digits and . _ @ - (starting with a letter or digit), got {user_id[:40]!r}"
        )


def decide(state: State, command: UserCommand) -> list[Event]:
    if isinstance(command, CreateUser):
        check_user_id(command.user_id)
        if state is not None:
            what = "was deleted; its name is not reused" if state.deleted else "already exists"
            raise AlreadyExists(f"user {command.user_id} {what}")
        return [
            UserCreated(
                user_id=command.user_id, username=command.user_id, email=command.email, is_admin=command.is_admin
            )
        ]
    if state is None or state.deleted:
        raise NotFound(f"user {command.user_id} not found")
    if state.is_admin:
        raise InvalidCommand(f"{command.user_id} is an admin: an admin user is not deleted")
    if isinstance(command, RequestDeletion):
        return [
            UserDeletionRequested(user_id=command.user_id, delete_id=command.delete_id, expires_at=command.expires_at)
        ]
    if command.delete_id is not None:
        request = state.deletion
        if request is None or request.delete_id != command.delete_id:
            raise InvalidCommand("delete_id does not match a deletion request of this user")
        if command.now is None or command.now >= request.expires_at:
            raise InvalidCommand("the deletion request has expired: request a new one")
    return [UserDeleted(user_id=command.user_id, username=command.user_id)]


def evolve(state: State, event: Event) -> State:
    if isinstance(event, UserCreated):
        return User(user_id=event.user_id, is_admin=event.is_admin)
    if state is None:
        return state
    if isinstance(event, UserDeletionRequested):
        return msgspec.structs.replace(state, deletion=event)
    if isinstance(event, UserDeleted):
        return msgspec.structs.replace(state, deleted=True)
    return state
