"""PostgresSubjectKeyStore: the erasure keys in PostgreSQL, in a schema of their own (``parley_keys``), apart from
the event log's and the read models' schemas, so that an operator can grant, back up and restore them apart.

A forgotten subject's row is deleted and a tombstone (no key) inserted in one transaction; the table is then
vacuumed so the dead row version holding the key is pruned at once rather than at autovacuum's leisure. Postgres
keeps no promise to overwrite freed space on disk, and its WAL archives and backups keep what they were given:
keys that must be unrecoverable must also age out of those. Keys are never logged: no message here names one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from adapters.crypto_shredding import new_key
from adapters.postgres.connection import ThreadConnections, create_objects
from domain.errors import Erased

SCHEMA_NAME = "parley_keys"


class PostgresSubjectKeyStore:
    def __init__(self, url: str, schema: str = SCHEMA_NAME) -> None:
        self.connections = ThreadConnections(url, schema)
        create_objects(
            self.connections.get(),
            "CREATE TABLE IF NOT EXISTS subject_keys (subject TEXT PRIMARY KEY, key BYTEA,"
            " created_at TIMESTAMPTZ NOT NULL DEFAULT now(), forgotten_at TIMESTAMPTZ)",
        )

    def key_for(self, subject: str) -> bytes:
        conn = self.connections.get()
        row = conn.execute("SELECT key FROM subject_keys WHERE subject = %s", (subject,)).fetchone()
        if row is None:
            conn.execute(
                "INSERT INTO subject_keys (subject, key) VALUES (%s, %s) ON CONFLICT (subject) DO NOTHING",
                (subject, new_key()),
            )
            row = conn.execute("SELECT key FROM subject_keys WHERE subject = %s", (subject,)).fetchone()
        assert row is not None
        if row["key"] is None:
            raise Erased(f"chat session {subject} was erased: nothing personal is recorded for it any more")
        return bytes(row["key"])

    def keys_of(self, subjects: Sequence[str]) -> dict[str, bytes]:
        if not subjects:
            return {}
        rows = self.connections.get().execute(
            "SELECT subject, key FROM subject_keys WHERE key IS NOT NULL AND subject = ANY(%s)", (list(subjects),)
        )
        return {row["subject"]: bytes(row["key"]) for row in rows}

    def forget(self, subjects: Sequence[str]) -> list[str]:
        if not subjects:
            return []
        conn = self.connections.get()
        with conn.transaction():
            rows = conn.execute(
                "DELETE FROM subject_keys WHERE subject = ANY(%s) RETURNING subject, key IS NOT NULL AS had_key",
                (list(subjects),),
            ).fetchall()
            with conn.cursor() as cursor:
                cursor.executemany(
                    "INSERT INTO subject_keys (subject, key, forgotten_at) VALUES (%s, NULL, now())",
                    [(subject,) for subject in dict.fromkeys(subjects)],
                )
        conn.execute("VACUUM subject_keys")
        return sorted(row["subject"] for row in rows if row["had_key"])

    def entries(self) -> list[tuple[str, bytes | None, str, str | None]]:
        rows = self.connections.get().execute(
            "SELECT subject, key, created_at, forgotten_at FROM subject_keys ORDER BY subject"
        )
        return [
            (
                row["subject"],
                None if row["key"] is None else bytes(row["key"]),
                row["created_at"].isoformat(),
                None if row["forgotten_at"] is None else row["forgotten_at"].isoformat(),
            )
            for row in rows
        ]

    def copy_in(self, entries: Sequence[tuple[str, bytes | None, str, str | None]]) -> int:
        """Keeps each entry of another store (``parley migrate``); a subject already here is left as it is."""
        conn = self.connections.get()
        with conn.transaction(), conn.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO subject_keys (subject, key, created_at, forgotten_at) VALUES (%s, %s, %s, %s)"
                " ON CONFLICT (subject) DO NOTHING",
                [
                    (subject, key, datetime.fromisoformat(created), forgotten and datetime.fromisoformat(forgotten))
                    for subject, key, created, forgotten in entries
                ],
            )
        return len(entries)

    def close(self) -> None:
        self.connections.close()
