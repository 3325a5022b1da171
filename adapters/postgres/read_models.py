"""The read models on PostgreSQL: the same tables and the same projector as SQLite (``adapters/sql/``), in the
schema ``parley_read``, with full-text search in a generated ``tsvector`` column of the chunks.

A page of events and its checkpoint commit in one transaction. Only one projector writes at a time (a
transaction-level advisory lock), so two projector processes on one database apply each page once, in order.
Text columns collate as "C", so listings sort byte by byte as on SQLite, whatever the database's locale.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Sequence
from typing import Any

import psycopg

from adapters.postgres.connection import ThreadConnections, placeholders
from adapters.sql import projector
from domain import events as ev
from domain.ports import RecordedEvent

log = logging.getLogger("parley")
SCHEMA_NAME = "parley_read"
_WRITER_LOCK = 0x5041524C  # the advisory lock of the projector that writes the read models ("PARL")

_DDL = """
CREATE TABLE IF NOT EXISTS checkpoints (name TEXT PRIMARY KEY, position BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS collections (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, description TEXT NOT NULL, embedding_model TEXT NOT NULL,
    settings TEXT NOT NULL, chat_settings TEXT NOT NULL, rag_type TEXT, owner TEXT NOT NULL,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL, document_count BIGINT NOT NULL DEFAULT 0,
    document_size BIGINT NOT NULL DEFAULT 0, sessions_count BIGINT NOT NULL DEFAULT 0,
    next_chunk_id BIGINT NOT NULL DEFAULT 1, prompt_template_id TEXT,
    is_public INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS uploads (
    id TEXT PRIMARY KEY, filename TEXT NOT NULL, size BIGINT NOT NULL, content_hash TEXT NOT NULL,
    owner TEXT NOT NULL, created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS documents (
    id TEXT PRIMARY KEY, collection_id TEXT NOT NULL, upload_id TEXT NOT NULL, job_id TEXT, name TEXT NOT NULL,
    type TEXT NOT NULL, size BIGINT NOT NULL, page_count BIGINT NOT NULL, status TEXT NOT NULL, error TEXT,
    content_hash TEXT, metadata TEXT NOT NULL, owner TEXT NOT NULL, created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL, summary TEXT, summary_llm TEXT
);
CREATE TABLE IF NOT EXISTS suggested_questions (
    document_id TEXT NOT NULL, collection_id TEXT NOT NULL, ordinal BIGINT NOT NULL, question TEXT NOT NULL,
    llm TEXT NOT NULL, PRIMARY KEY (document_id, ordinal)
);
CREATE INDEX IF NOT EXISTS suggested_questions_by_collection ON suggested_questions (collection_id);
CREATE INDEX IF NOT EXISTS documents_by_collection ON documents (collection_id, status, created_at);
CREATE TABLE IF NOT EXISTS chunks (
    collection_id TEXT NOT NULL, chunk_id BIGINT NOT NULL, document_id TEXT NOT NULL, ordinal BIGINT NOT NULL,
    text TEXT NOT NULL, pages TEXT NOT NULL, start BIGINT NOT NULL, "end" BIGINT NOT NULL,
    content_hash TEXT NOT NULL, token_count BIGINT NOT NULL,
    -- The lexical index: kept by Postgres itself in the row the projector writes.
    tsv tsvector GENERATED ALWAYS AS (to_tsvector('english', text)) STORED,
    PRIMARY KEY (collection_id, chunk_id)
);
CREATE UNIQUE INDEX IF NOT EXISTS chunks_by_document ON chunks (document_id, ordinal);
CREATE INDEX IF NOT EXISTS chunks_text_search ON chunks USING gin (tsv);
CREATE TABLE IF NOT EXISTS chat_sessions (
    id TEXT PRIMARY KEY, collection_id TEXT, name TEXT, owner TEXT NOT NULL, created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL, latest_message_content TEXT, prompt_template_id TEXT
);
CREATE INDEX IF NOT EXISTS chat_sessions_by_collection ON chat_sessions (collection_id, updated_at);
-- A deleted session whose key is not shredded yet: its owner's deletion erases it too.
CREATE TABLE IF NOT EXISTS deleted_sessions (id TEXT PRIMARY KEY, owner TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS messages (
    id TEXT PRIMARY KEY, session_id TEXT NOT NULL, seq BIGINT NOT NULL, content TEXT NOT NULL,
    reply_to TEXT, error TEXT, username TEXT, created_at TEXT NOT NULL, llm TEXT, llm_args TEXT,
    rag_type TEXT, total_references BIGINT NOT NULL DEFAULT 0, usage_stats TEXT, prompt_raw TEXT,
    llm_only TEXT, hyde1 TEXT, self_reflection TEXT, votes INTEGER NOT NULL DEFAULT 0, expected_answer TEXT,
    user_comment TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS messages_by_session ON messages (session_id, seq);
CREATE TABLE IF NOT EXISTS message_references (
    message_id TEXT NOT NULL, rank BIGINT NOT NULL, collection_id TEXT NOT NULL, document_id TEXT NOT NULL,
    document_name TEXT NOT NULL, chunk_id BIGINT NOT NULL, score DOUBLE PRECISION NOT NULL, pages TEXT NOT NULL,
    content TEXT NOT NULL, PRIMARY KEY (message_id, rank)
);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, name TEXT NOT NULL, collection_id TEXT, owner TEXT NOT NULL,
    items_total BIGINT NOT NULL, items_completed BIGINT NOT NULL DEFAULT 0,
    items_failed BIGINT NOT NULL DEFAULT 0, item_progress DOUBLE PRECISION NOT NULL DEFAULT 0, status TEXT NOT NULL,
    timeout DOUBLE PRECISION, created_at TEXT NOT NULL, updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS job_items (
    job_id TEXT NOT NULL, seq BIGINT NOT NULL, item_id TEXT NOT NULL, status TEXT NOT NULL,
    document_id TEXT, error TEXT, PRIMARY KEY (job_id, seq)
);
CREATE UNIQUE INDEX IF NOT EXISTS job_items_by_item ON job_items (job_id, item_id);
CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, username TEXT NOT NULL, secret_hash TEXT NOT NULL UNIQUE,
    hint TEXT NOT NULL, collection_id TEXT, is_admin INTEGER NOT NULL, active INTEGER NOT NULL,
    created_at TEXT NOT NULL, expires_at TEXT, inactivity_interval BIGINT, last_used_at TEXT,
    total_calls BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS api_keys_by_user ON api_keys (username);
CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY, username TEXT NOT NULL, email TEXT NOT NULL, is_admin INTEGER NOT NULL,
    created_at TEXT NOT NULL
);
-- Who besides its owner may read (or change) a collection or a prompt template.
CREATE TABLE IF NOT EXISTS shares (
    kind TEXT NOT NULL, resource_id TEXT NOT NULL, username TEXT NOT NULL, permissions TEXT NOT NULL,
    PRIMARY KEY (kind, resource_id, username)
);
CREATE INDEX IF NOT EXISTS shares_by_user ON shares (username, kind);
CREATE TABLE IF NOT EXISTS prompt_templates (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, description TEXT, lang TEXT, fields TEXT NOT NULL,
    owner TEXT NOT NULL, version BIGINT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
    is_public INTEGER NOT NULL DEFAULT 0
);
-- Every version of each template, as it read then: what the versions listing and, later, diffs are served from.
CREATE TABLE IF NOT EXISTS prompt_template_versions (
    template_id TEXT NOT NULL, version BIGINT NOT NULL, fields TEXT NOT NULL, changed TEXT NOT NULL,
    actor TEXT, key_id TEXT, created_at TEXT NOT NULL, PRIMARY KEY (template_id, version)
);
"""
SCHEMA = re.sub(r"\bTEXT\b", 'TEXT COLLATE "C"', _DDL)


class PostgresReadModelStore:
    """ReadModelStore, CheckpointStore and the SQL reader of the shared queries, on one Postgres database."""

    def __init__(self, url: str, schema: str = SCHEMA_NAME) -> None:
        self.schema = schema
        self.connections = ThreadConnections(url, schema)
        self.rebuilt = self._migrate()

    def _migrate(self) -> bool:
        """Creates the tables; when they were built from another schema, drops them first, so that the projections
        rebuild every read model (and checkpoint) from the event log. True when it did."""
        fingerprint = hashlib.sha256(SCHEMA.encode()).hexdigest()
        with self.connections.transaction() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_WRITER_LOCK,))
            conn.execute("CREATE TABLE IF NOT EXISTS schema_fingerprint (fingerprint TEXT NOT NULL)")
            row = conn.execute("SELECT fingerprint FROM schema_fingerprint").fetchone()
            tables = conn.execute(
                "SELECT count(*) AS n FROM pg_tables WHERE schemaname = %s AND tablename <> 'schema_fingerprint'",
                (self.schema,),
            ).fetchone()
            stale = row["fingerprint"] != fingerprint if row else bool(tables and tables["n"])
            if stale:
                log.warning("read-model schema changed: rebuilding the read models from the event log")
                names = conn.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = %s AND tablename <> 'schema_fingerprint'",
                    (self.schema,),
                ).fetchall()
                for name in names:
                    conn.execute(f'DROP TABLE IF EXISTS "{name["tablename"]}" CASCADE')
            conn.execute(SCHEMA)
            conn.execute("DELETE FROM schema_fingerprint")
            conn.execute("INSERT INTO schema_fingerprint (fingerprint) VALUES (%s)", (fingerprint,))
        return stale

    # --- ReadModelStore ----------------------------------------------------------------------------------

    def apply(self, name: str, page: Sequence[tuple[RecordedEvent, ev.AnyEvent]]) -> None:
        with self.connections.transaction() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_WRITER_LOCK,))
            # Another projector process may have applied this page while this one waited for the lock.
            done = self._checkpoint(conn, name)
            todo = [(record, event) for record, event in page if record.position > done]
            if not todo:
                return
            with conn.cursor(row_factory=psycopg.rows.tuple_row) as cursor:
                writer = _Writer(cursor)
                for record, event in todo:
                    projector.project(writer, record, event)
            self._set_checkpoint(conn, name, todo[-1][0].position)

    def checkpoint(self, name: str) -> int:
        return self._checkpoint(self.connections.get(), name)

    def save_checkpoint(self, name: str, position: int) -> None:
        with self.connections.transaction() as conn:
            self._set_checkpoint(conn, name, position)

    def snapshot(self, name: str) -> tuple[int, dict[str, list[tuple[Any, ...]]]]:
        with self.connections.transaction() as conn:
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")  # one view of all the tables
            return self._checkpoint(conn, name), {
                table: sorted((tuple(row.values()) for row in conn.execute(f"SELECT * FROM {table}")), key=repr)
                for table in projector.TABLES
            }

    def close(self) -> None:
        self.connections.close()

    # --- the shared queries' reader ------------------------------------------------------------------------

    def fetch_all(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        return self.connections.get().execute(placeholders(sql), params).fetchall()

    def fetch_one(self, sql: str, params: tuple[Any, ...] = ()) -> dict[str, Any] | None:
        return self.connections.get().execute(placeholders(sql), params).fetchone()

    @staticmethod
    def _checkpoint(conn: psycopg.Connection[dict[str, Any]], name: str) -> int:
        row = conn.execute("SELECT position FROM checkpoints WHERE name = %s", (name,)).fetchone()
        return int(row["position"]) if row else 0

    @staticmethod
    def _set_checkpoint(conn: psycopg.Connection[dict[str, Any]], name: str, position: int) -> None:
        conn.execute(
            "INSERT INTO checkpoints (name, position) VALUES (%s, %s)"
            " ON CONFLICT (name) DO UPDATE SET position = excluded.position",
            (name, position),
        )


class _Writer:
    """The projector's SQLWriter on a psycopg cursor; the chunks' tsvector is Postgres's own business."""

    def __init__(self, cursor: psycopg.Cursor[tuple[Any, ...]]) -> None:
        self.cursor = cursor

    def execute(self, sql: str, params: Sequence[Any] = ()) -> psycopg.Cursor[tuple[Any, ...]]:
        return self.cursor.execute(placeholders(sql), params)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self.cursor.executemany(placeholders(sql), rows)

    def index_chunks(self, collection_id: str, document_id: str, chunks: Sequence[ev.Chunk]) -> None:
        """The generated ``tsv`` column indexes each chunk as it is written."""

    def unindex_document(self, document_id: str) -> None:
        """Deleting a chunk deletes its ``tsv``."""

    def unindex_collection(self, collection_id: str) -> None:
        """Deleting a chunk deletes its ``tsv``."""
