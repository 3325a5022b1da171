"""Rebuilding the SQLite read models: emptying them in place for ``parley replay``, and a scratch copy beside the
live file for ``parley replay --verify``."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

from adapters.sqlite.read_models import TABLES, SQLiteReadModelStore


def empty_read_models(store: SQLiteReadModelStore) -> None:
    """Every read model, the FTS5 index and every checkpoint emptied in one transaction: the projections then
    start again from position 0."""
    with store.transaction() as conn:
        for table in (*TABLES, "checkpoints"):
            conn.execute(f"DELETE FROM {table}")


def scratch_read_models(data_dir: Path) -> tuple[SQLiteReadModelStore, Callable[[], None]]:
    """An empty read-model file beside the live one, and what removes it."""
    path = data_dir / f"read_models.verify-{uuid.uuid4().hex[:8]}.sqlite3"
    store = SQLiteReadModelStore(path)

    def remove() -> None:
        store.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)

    return store, remove
