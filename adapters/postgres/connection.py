"""Connections to PostgreSQL for the read side: one per thread (psycopg connections are not shared across threads
mid-transaction), each in the schema the caller names, so that one database can hold the event log, the read
models and the vectors side by side without their table names meeting."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.rows import dict_row

from domain.errors import ConfigurationError

# The advisory lock every process takes to create schemas, tables and extensions ("PDDL"). Postgres's
# ``CREATE ... IF NOT EXISTS`` is not safe against itself: two processes starting on an empty database (two
# workers, replicas and a projector) can both find the name free and one fails on a unique catalog index.
_DDL_LOCK = 0x5044444C


def connect(url: str, schema: str, **options: Any) -> psycopg.Connection[dict[str, Any]]:
    """A connection whose unqualified names resolve in ``schema`` (then ``public``, where pgvector lives)."""
    try:
        conn = psycopg.connect(url, autocommit=True, row_factory=dict_row, **options)
    except psycopg.OperationalError as error:
        raise ConfigurationError(f"PARLEY_POSTGRES_URL: cannot connect: {str(error).strip()}") from error
    exists = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone()
    if exists is None:
        create_objects(conn, f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    conn.execute(f'SET search_path TO "{schema}", public')
    return conn


def create_objects(conn: psycopg.Connection[Any], *statements: str) -> None:
    """Runs DDL (``CREATE ... IF NOT EXISTS``) in one transaction under the DDL lock, so concurrent starts take
    turns instead of failing."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_DDL_LOCK,))
        for statement in statements:
            conn.execute(statement)


class ThreadConnections:
    """One connection per thread, all closed together."""

    def __init__(self, url: str, schema: str, setup: tuple[str, ...] = ()) -> None:
        self.url = url
        self.schema = schema
        self.setup = setup  # statements each new connection runs (session settings)
        self._local = threading.local()
        self._all: list[psycopg.Connection[dict[str, Any]]] = []
        self._lock = threading.Lock()

    def get(self) -> psycopg.Connection[dict[str, Any]]:
        conn: psycopg.Connection[dict[str, Any]] | None = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            conn = connect(self.url, self.schema)
            for statement in self.setup:
                conn.execute(statement)
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    @contextmanager
    def transaction(self) -> Iterator[psycopg.Connection[dict[str, Any]]]:
        conn = self.get()
        with conn.transaction():
            yield conn

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()


def placeholders(sql: str) -> str:
    """The shared SQL's ``?`` placeholders as psycopg's ``%s`` (the shared SQL holds no ``%`` or ``?`` literal)."""
    return sql.replace("?", "%s")
