"""FileBlobStore: uploaded bytes on the local file system, named by their sha256 (content-addressed)."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from domain.errors import NotFound


class FileBlobStore:
    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, content_hash: str) -> Path:
        return self.root / content_hash[:2] / content_hash

    def put(self, data: bytes) -> str:
        content_hash = hashlib.sha256(data).hexdigest()
        path = self._path(content_hash)
        if path.exists():
            return content_hash  # same bytes already stored
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename, so a reader never sees a half-written file.
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as handle:
            handle.write(data)
            temporary = handle.name
        os.replace(temporary, path)
        return content_hash

    def get(self, content_hash: str) -> bytes:
        try:
            return self._path(content_hash).read_bytes()
        except FileNotFoundError as error:
            raise NotFound(f"no stored file with hash {content_hash}") from error
