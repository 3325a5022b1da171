"""The ApiKey aggregate: bearer keys, stored as hashes. A key may be scoped to one collection."""

from __future__ import annotations

import msgspec

from domain.errors import AlreadyExists, InvalidCommand, NotFound
from domain.events import ApiKeyCreated, ApiKeyDeactivated, Event


class CreateApiKey(msgspec.Struct, frozen=True, kw_only=True):
    key_id: str
    name: str
    username: str
    secret_hash: str
    hint: str
    collection_id: str | None = None
    is_admin: bool = False


class DeactivateApiKey(msgspec.Struct, frozen=True, kw_only=True):
    key_id: str


ApiKeyCommand = CreateApiKey | DeactivateApiKey


class ApiKey(msgspec.Struct, frozen=True, kw_only=True):
    key_id: str
    active: bool = True


State = ApiKey | None


def decide(state: State, command: ApiKeyCommand) -> list[Event]:
    if isinstance(command, CreateApiKey):
        if state is not None:
            raise AlreadyExists(f"API key {command.key_id} already exists")
        if len(command.secret_hash) != 64:
            raise InvalidCommand("an API key is stored as a sha256 hex digest")
        if command.is_admin and command.collection_id is not None:
            raise InvalidCommand("an admin key cannot be scoped to one collection")
        return [
            ApiKeyCreated(
                key_id=command.key_id,
                name=command.name,
                username=command.username,
                secret_hash=command.secret_hash,
                hint=command.hint,
                collection_id=command.collection_id,
                is_admin=command.is_admin,
            )
        ]
    if state is None:
        raise NotFound(f"API key {command.key_id} not found")
    if not state.active:
        return []
    return [ApiKeyDeactivated(key_id=command.key_id)]


def evolve(state: State, event: Event) -> State:
    if isinstance(event, ApiKeyCreated):
        return ApiKey(key_id=event.key_id)
    if isinstance(event, ApiKeyDeactivated) and state is not None:
        return msgspec.structs.replace(state, active=False)
    return state
