"""SQLiteReadStore: the embedded home of the read models (stdlib sqlite3, WAL).

Projections write through ``transaction()``; each projection's checkpoint is written in the same transaction
as its read-model changes, so a crash never applies an event twice or loses one. Readers use one connection
per thread and see the last committed state.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

log = logging.getLogger("parley")
_CHECKPOINTS = "CREATE TABLE IF NOT EXISTS checkpoints (name TEXT PRIMARY KEY, position INTEGER NOT NULL)"


class SQLiteReadStore:
    def __init__(self, path: Path | str, schema: str) -> None:
        self.path = str(path)
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._keepalive = self._connect()
        self.rebuilt = self._migrate(self._keepalive, schema)

    @staticmethod
    def _migrate(conn: sqlite3.Connection, schema: str) -> bool:
        """Creates the tables; when the schema differs from the one they were built with, drops them first, so
        that the projections rebuild every read model (and checkpoint) from the event log. True when it did."""
        fingerprint = hashlib.sha256(schema.encode()).hexdigest()
        conn.execute("CREATE TABLE IF NOT EXISTS schema_fingerprint (fingerprint TEXT NOT NULL)")
        row = conn.execute("SELECT fingerprint FROM schema_fingerprint").fetchone()
        (tables,) = conn.execute(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name != 'schema_fingerprint'"
        ).fetchone()
        # Tables without a fingerprint were built by a version that kept none: their schema is unknown.
        stale = bool(row[0] != fingerprint) if row is not None else tables > 0
        if stale:
            log.warning("read-model schema changed: rebuilding the read models from the event log")
            tables = conn.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
                " AND name != 'schema_fingerprint'"
            ).fetchall()
            virtual = [name for name, sql in tables if (sql or "").upper().startswith("CREATE VIRTUAL")]
            for name in virtual:  # their shadow tables go with them
                conn.execute(f'DROP TABLE IF EXISTS "{name}"')
            for name, _ in tables:
                conn.execute(f'DROP TABLE IF EXISTS "{name}"')
        conn.executescript(_CHECKPOINTS + ";\n" + schema)
        conn.execute("DELETE FROM schema_fingerprint")
        conn.execute("INSERT INTO schema_fingerprint (fingerprint) VALUES (?)", (fingerprint,))
        return stale

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=30, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=OFF")
        conn.execute("PRAGMA secure_delete=ON")  # deleted rows (an erased session's messages) are zeroed in the file
        conn.row_factory = sqlite3.Row
        return conn

    def connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        conn = self.connection()
        with self._write_lock:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def checkpoint(self, name: str) -> int:
        row = self.connection().execute("SELECT position FROM checkpoints WHERE name = ?", (name,)).fetchone()
        return int(row[0]) if row else 0

    def save_checkpoint(self, name: str, position: int) -> None:
        with self.transaction() as conn:
            self.set_checkpoint(conn, name, position)

    @staticmethod
    def set_checkpoint(conn: sqlite3.Connection, name: str, position: int) -> None:
        conn.execute(
            "INSERT INTO checkpoints (name, position) VALUES (?, ?)"
            " ON CONFLICT (name) DO UPDATE SET position = excluded.position",
            (name, position),
        )

    def fetch_all(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        return self.connection().execute(sql, params).fetchall()

    def fetch_one(self, sql: str, params: tuple[Any, ...] = ()) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self.connection().execute(sql, params).fetchone()
        return row

    def content_rows(self, name: str, tables: Sequence[str]) -> tuple[int, dict[str, list[tuple[Any, ...]]]]:
        """``name``'s checkpoint and every row of each table, sorted on all its columns, for comparing two builds
        of the read models; read in one transaction (one WAL snapshot), so a projector's commit in between
        cannot make them disagree."""
        conn = self.connection()
        conn.execute("BEGIN")
        try:
            return self.checkpoint(name), {
                table: sorted((tuple(row) for row in conn.execute(f"SELECT * FROM {table}")), key=repr)
                for table in tables
            }
        finally:
            conn.execute("COMMIT")

    def compact(self) -> None:
        """Fold the write-ahead log back into the file and truncate it, so that the old page images of deleted
        rows (which ``secure_delete`` zeroed in the file itself) leave the WAL too (erasure)."""
        with self._write_lock:
            self.connection().execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        self._keepalive.close()
