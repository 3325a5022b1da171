"""Rebuilding the PostgreSQL read models: emptying them in place for ``parley replay``, and a scratch schema beside
``parley_read`` for ``parley replay --verify``."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from adapters.postgres.connection import connect
from adapters.postgres.read_models import PostgresReadModelStore
from adapters.sql import projector


def empty_read_models(store: PostgresReadModelStore) -> None:
    """Every read model (the full-text index is their own column) and every checkpoint emptied in one
    transaction: the projections then start again from position 0."""
    with store.connections.transaction() as conn:
        for table in (*projector.TABLES, "checkpoints"):
            conn.execute(f"DELETE FROM {table}")


def scratch_read_models(url: str) -> tuple[PostgresReadModelStore, Callable[[], None]]:
    """Empty read models in a schema of their own in the same database, and what drops it."""
    schema = f"parley_verify_{uuid.uuid4().hex[:8]}"
    store = PostgresReadModelStore(url, schema=schema)

    def drop() -> None:
        store.close()
        conn = connect(url, "public")
        try:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            conn.close()

    return store, drop
