"""The Upload aggregate: bytes a client sent, held by content hash until they are ingested."""

from __future__ import annotations

import msgspec

from domain.errors import AlreadyExists, InvalidCommand
from domain.events import Event, UploadReceived

MAX_FILENAME_CHARS = 255  # what common file systems hold in one name


class ReceiveUpload(msgspec.Struct, frozen=True, kw_only=True):
    upload_id: str
    filename: str
    size: int
    content_hash: str
    owner: str


class Upload(msgspec.Struct, frozen=True, kw_only=True):
    upload_id: str
    filename: str
    size: int
    content_hash: str


State = Upload | None


def plain_filename(filename: str) -> str:
    """The name an upload is kept under: one path segment, no control characters; else InvalidCommand. The API
    checks it before it stores a byte, the decider again before it records the upload."""
    name = filename.strip()
    if not name or "/" in name or "\\" in name or name in (".", "..") or any(ord(c) < 32 for c in name):
        raise InvalidCommand(f"an upload needs a plain file name, got {filename!r}")
    if len(name) > MAX_FILENAME_CHARS:
        raise InvalidCommand(f"a file name may have at most {MAX_FILENAME_CHARS} characters")
    return name


def decide(state: State, command: ReceiveUpload) -> list[Event]:
    if state is not None:
        raise AlreadyExists(f"upload {command.upload_id} already exists")
    name = plain_filename(command.filename)
    if command.size < 0:
        raise InvalidCommand("an upload cannot have a negative size")
    return [
        UploadReceived(
            upload_id=command.upload_id,
            filename=name,
            size=command.size,
            content_hash=command.content_hash,
            owner=command.owner,
        )
    ]


def evolve(state: State, event: Event) -> State:
    if isinstance(event, UploadReceived):
        return Upload(
            upload_id=event.upload_id,
            filename=event.filename,
            size=event.size,
            content_hash=event.content_hash,
        )
    return state
