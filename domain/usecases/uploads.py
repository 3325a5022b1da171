"""Receiving an upload: its name checked before a byte is kept, its bytes stored by content, then recorded."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import msgspec

from domain import upload
from domain.ports import BlobStore
from domain.usecases.commands import Commands


class Received(msgspec.Struct, frozen=True):
    upload_id: str
    filename: str  # as it is kept (trimmed)


class ReceiveUploads:
    def __init__(
        self, commands: Commands, blobs: BlobStore, new_id: Callable[[], str] = lambda: str(uuid.uuid4())
    ) -> None:
        self.commands = commands
        self.blobs = blobs
        self.new_id = new_id

    def __call__(self, filename: str, content: bytes, owner: str) -> Received:
        name = upload.plain_filename(filename)  # a refused name stores nothing
        upload_id = self.new_id()
        receive = upload.ReceiveUpload(
            upload_id=upload_id, filename=name, size=len(content), content_hash=self.blobs.put(content), owner=owner
        )
        self.commands.run(upload, "upload", upload_id, receive)
        return Received(upload_id, name)
