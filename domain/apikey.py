"""The ApiKey aggregate: bearer keys, stored as hashes. A key acts as its user; it may be scoped to one
collection, expire at a time, and lapse after an interval without calls."""

from __future__ import annotations

from datetime import datetime, timedelta

import msgspec

from domain.errors import AlreadyExists, InvalidCommand, NotFound
from domain.events import (
    ApiKeyCreated,
    ApiKeyDeactivated,
    ApiKeyDeleted,
    ApiKeyExpiryChanged,
    ApiKeyInactivityIntervalChanged,
    ApiKeyUsed,
    Event,
)

MAX_INACTIVITY_DAYS = 36_500


class CreateApiKey(msgspec.Struct, frozen=True, kw_only=True):
    key_id: str
    name: str
    username: str
    secret_hash: str
    hint: str
    collection_id: str | None = None
    is_admin: bool = False
    expires_at: datetime | None = None
    inactivity_interval: int | None = None


class DeactivateApiKey(msgspec.Struct, frozen=True, kw_only=True):
    key_id: str


class ChangeExpiry(msgspec.Struct, frozen=True, kw_only=True):
    key_id: str
    expires_at: datetime | None


class ChangeInactivityInterval(msgspec.Struct, frozen=True, kw_only=True):
    key_id: str
    inactivity_interval: int | None


class DeleteApiKey(msgspec.Struct, frozen=True, kw_only=True):
    key_id: str


class RecordUse(msgspec.Struct, frozen=True, kw_only=True):
    key_id: str
    calls: int
    last_used_at: datetime


ApiKeyCommand = CreateApiKey | DeactivateApiKey | ChangeExpiry | ChangeInactivityInterval | DeleteApiKey | RecordUse


class ApiKey(msgspec.Struct, frozen=True, kw_only=True):
    key_id: str
    active: bool = True
    deleted: bool = False
    expires_at: datetime | None = None
    inactivity_interval: int | None = None


State = ApiKey | None


def parse_interval(text: str) -> timedelta:
    """``expires_in`` as h2oGPTe writes it: a number and a unit (``30d``, ``12h``, ``90m``, ``2w``, ``1y``; a plain
    number is days)."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800, "y": 31_536_000}
    value = text.strip().lower()
    unit = value[-1] if value and value[-1] in units else "d"
    number = value[:-1] if value and value[-1] in units else value
    try:
        amount = float(number)
    except ValueError:
        raise InvalidCommand(f"expires_in must be a number and a unit (s, m, h, d, w, y), got {text!r}") from None
    if not 0 < amount * units[unit] <= 100 * units["y"]:
        raise InvalidCommand(f"expires_in must be more than 0 and at most 100 years, got {text!r}")
    return timedelta(seconds=amount * units[unit])


def _check_inactivity(days: int | None) -> None:
    if days is not None and not 0 < days <= MAX_INACTIVITY_DAYS:
        raise InvalidCommand(f"inactivity_interval is a number of days from 1 to {MAX_INACTIVITY_DAYS}, got {days}")


def decide(state: State, command: ApiKeyCommand) -> list[Event]:
    if isinstance(command, CreateApiKey):
        if state is not None:
            raise AlreadyExists(f"API key {command.key_id} already exists")
        if len(command.secret_hash) != 64:
            raise InvalidCommand("an API key is stored as a sha256 hex digest")
        if command.is_admin and command.collection_id is not None:
            raise InvalidCommand("an admin key cannot be scoped to one collection")
        _check_inactivity(command.inactivity_interval)
        return [
            ApiKeyCreated(
                key_id=command.key_id,
                name=command.name,
                username=command.username,
                secret_hash=command.secret_hash,
                hint=command.hint,
                collection_id=command.collection_id,
                is_admin=command.is_admin,
                expires_at=command.expires_at,
                inactivity_interval=command.inactivity_interval,
            )
        ]
    if state is None or state.deleted:
        raise NotFound(f"API key {command.key_id} not found")
    if isinstance(command, RecordUse):
        return [ApiKeyUsed(key_id=command.key_id, calls=command.calls, last_used_at=command.last_used_at)]
    if isinstance(command, DeleteApiKey):
        return [ApiKeyDeleted(key_id=command.key_id)]
    if isinstance(command, ChangeExpiry):
        if command.expires_at == state.expires_at:
            return []
        return [ApiKeyExpiryChanged(key_id=command.key_id, expires_at=command.expires_at)]
    if isinstance(command, ChangeInactivityInterval):
        _check_inactivity(command.inactivity_interval)
        if command.inactivity_interval == state.inactivity_interval:
            return []
        return [ApiKeyInactivityIntervalChanged(key_id=command.key_id, inactivity_interval=command.inactivity_interval)]
    if not state.active:
        return []
    return [ApiKeyDeactivated(key_id=command.key_id)]


def evolve(state: State, event: Event) -> State:
    if isinstance(event, ApiKeyCreated):
        return ApiKey(key_id=event.key_id, expires_at=event.expires_at, inactivity_interval=event.inactivity_interval)
    if state is None:
        return state
    if isinstance(event, ApiKeyDeactivated):
        return msgspec.structs.replace(state, active=False)
    if isinstance(event, ApiKeyExpiryChanged):
        return msgspec.structs.replace(state, expires_at=event.expires_at)
    if isinstance(event, ApiKeyInactivityIntervalChanged):
        return msgspec.structs.replace(state, inactivity_interval=event.inactivity_interval)
    if isinstance(event, ApiKeyDeleted):
        return msgspec.structs.replace(state, deleted=True, active=False)
    return state


def lapsed(
    *,
    active: bool,
    expires_at: datetime | None,
    inactivity_interval: int | None,
    created_at: datetime,
    last_used_at: datetime | None,
    now: datetime,
) -> str | None:
    """Why a key no longer lets anyone in (None: it does)."""
    if not active:
        return "deactivated"
    if expires_at is not None and now >= expires_at:
        return "expired"
    if inactivity_interval is not None and now - (last_used_at or created_at) > timedelta(days=inactivity_interval):
        return "lapsed after its inactivity interval"
    return None
