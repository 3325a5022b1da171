"""The read models on SQLite: their tables, folded by the shared SQL projector (``adapters/sql/projector.py``).

``SQLiteReadModelStore.apply`` projects a page of events inside one transaction that also stores the
checkpoint. The chunks' FTS5 table is the lexical index (``adapters/sqlite/lexical.py``), written in the same
transaction as the chunks.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from adapters.sql import projector
from adapters.sqlite.read_store import SQLiteReadStore
from domain import events as ev
from domain.ports import RecordedEvent

SCHEMA = """
CREATE TABLE IF NOT EXISTS collections (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, description TEXT NOT NULL, embedding_model TEXT NOT NULL,
    settings TEXT NOT NULL, chat_settings TEXT NOT NULL, rag_type TEXT, owner TEXT NOT NULL,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL, document_count INTEGER NOT NULL DEFAULT 0,
    document_size INTEGER NOT NULL DEFAULT 0, sessions_count INTEGER NOT NULL DEFAULT 0,
    next_chunk_id INTEGER NOT NULL DEFAULT 1, prompt_template_id TEXT,
    is_public INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS uploads (
    id TEXT PRIMARY KEY, filename TEXT NOT NULL, size INTEGER NOT NULL, content_hash TEXT NOT NULL,
    owner TEXT NOT NULL, created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS documents (
    id TEXT PRIMARY KEY, collection_id TEXT NOT NULL, upload_id TEXT NOT NULL, job_id TEXT, name TEXT NOT NULL,
    type TEXT NOT NULL, size INTEGER NOT NULL, page_count INTEGER NOT NULL, status TEXT NOT NULL, error TEXT,
    content_hash TEXT, metadata TEXT NOT NULL, owner TEXT NOT NULL, created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL, summary TEXT, summary_llm TEXT
);
CREATE TABLE IF NOT EXISTS suggested_questions (
    document_id TEXT NOT NULL, collection_id TEXT NOT NULL, ordinal INTEGER NOT NULL, question TEXT NOT NULL,
    llm TEXT NOT NULL, PRIMARY KEY (document_id, ordinal)
);
CREATE INDEX IF NOT EXISTS suggested_questions_by_collection ON suggested_questions (collection_id);
CREATE INDEX IF NOT EXISTS documents_by_collection ON documents (collection_id, status, created_at);
CREATE TABLE IF NOT EXISTS chunks (
    collection_id TEXT NOT NULL, chunk_id INTEGER NOT NULL, document_id TEXT NOT NULL, ordinal INTEGER NOT NULL,
    text TEXT NOT NULL, pages TEXT NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL,
    content_hash TEXT NOT NULL, token_count INTEGER NOT NULL,
    PRIMARY KEY (collection_id, chunk_id)
);
CREATE UNIQUE INDEX IF NOT EXISTS chunks_by_document ON chunks (document_id, ordinal);
-- Lexical (BM25) index over the same chunks, kept by the same projection, in the same transaction.
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
    text, collection_id UNINDEXED, document_id UNINDEXED, ordinal UNINDEXED, tokenize = 'porter unicode61'
);
CREATE TABLE IF NOT EXISTS chat_sessions (
    id TEXT PRIMARY KEY, collection_id TEXT, name TEXT, owner TEXT NOT NULL, created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL, latest_message_content TEXT, prompt_template_id TEXT
);
CREATE INDEX IF NOT EXISTS chat_sessions_by_collection ON chat_sessions (collection_id, updated_at);
-- A deleted session whose key is not shredded yet: its owner's deletion erases it too.
CREATE TABLE IF NOT EXISTS deleted_sessions (id TEXT PRIMARY KEY, owner TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS messages (
    id TEXT PRIMARY KEY, session_id TEXT NOT NULL, seq INTEGER NOT NULL, content TEXT NOT NULL,
    reply_to TEXT, error TEXT, username TEXT, created_at TEXT NOT NULL, llm TEXT, llm_args TEXT,
    rag_type TEXT, total_references INTEGER NOT NULL DEFAULT 0, usage_stats TEXT, prompt_raw TEXT,
    llm_only TEXT, hyde1 TEXT, self_reflection TEXT, votes INTEGER NOT NULL DEFAULT 0, expected_answer TEXT,
    user_comment TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS messages_by_session ON messages (session_id, seq);
CREATE TABLE IF NOT EXISTS message_references (
    message_id TEXT NOT NULL, rank INTEGER NOT NULL, collection_id TEXT NOT NULL, document_id TEXT NOT NULL,
    document_name TEXT NOT NULL, chunk_id INTEGER NOT NULL, score REAL NOT NULL, pages TEXT NOT NULL,
    content TEXT NOT NULL, PRIMARY KEY (message_id, rank)
);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, name TEXT NOT NULL, collection_id TEXT, owner TEXT NOT NULL,
    items_total INTEGER NOT NULL, items_completed INTEGER NOT NULL DEFAULT 0,
    items_failed INTEGER NOT NULL DEFAULT 0, item_progress REAL NOT NULL DEFAULT 0, status TEXT NOT NULL,
    timeout REAL,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS job_items (
    job_id TEXT NOT NULL, seq INTEGER NOT NULL, item_id TEXT NOT NULL, status TEXT NOT NULL,
    document_id TEXT, error TEXT, PRIMARY KEY (job_id, seq)
);
CREATE UNIQUE INDEX IF NOT EXISTS job_items_by_item ON job_items (job_id, item_id);
CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, username TEXT NOT NULL, secret_hash TEXT NOT NULL UNIQUE,
    hint TEXT NOT NULL, collection_id TEXT, is_admin INTEGER NOT NULL, active INTEGER NOT NULL,
    created_at TEXT NOT NULL, expires_at TEXT, inactivity_interval INTEGER, last_used_at TEXT,
    total_calls INTEGER NOT NULL DEFAULT 0
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
    owner TEXT NOT NULL, version INTEGER NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
    is_public INTEGER NOT NULL DEFAULT 0
);
-- Every version of each template, as it read then: what the versions listing and, later, diffs are served from.
CREATE TABLE IF NOT EXISTS prompt_template_versions (
    template_id TEXT NOT NULL, version INTEGER NOT NULL, fields TEXT NOT NULL, changed TEXT NOT NULL,
    actor TEXT, key_id TEXT, created_at TEXT NOT NULL, PRIMARY KEY (template_id, version)
);
"""

TABLES = (*projector.TABLES, "chunks_fts")


class SQLiteReadModelStore(SQLiteReadStore):
    """The ReadModelStore of the embedded default: one SQLite file, WAL, beside the event log."""

    def __init__(self, path: Path | str) -> None:
        super().__init__(path, SCHEMA)

    def apply(self, name: str, page: Sequence[tuple[RecordedEvent, ev.AnyEvent]]) -> None:
        with self.transaction() as conn:
            writer = _Writer(conn)
            for record, event in page:
                projector.project(writer, record, event)
            self.set_checkpoint(conn, name, page[-1][0].position)

    def snapshot(self, name: str) -> tuple[int, dict[str, list[tuple[Any, ...]]]]:
        return self.content_rows(name, TABLES)


class _Writer:
    """The projector's SQLWriter on a sqlite3 connection: SQLite takes ``?`` as it is; chunks go into FTS5."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        return self.conn.execute(sql, params)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> sqlite3.Cursor:
        return self.conn.executemany(sql, rows)

    def index_chunks(self, collection_id: str, document_id: str, chunks: Sequence[ev.Chunk]) -> None:
        self.conn.executemany(
            "INSERT INTO chunks_fts (text, collection_id, document_id, ordinal) VALUES (?, ?, ?, ?)",
            [(chunk.text, collection_id, document_id, chunk.ordinal) for chunk in chunks],
        )

    def unindex_document(self, document_id: str) -> None:
        self.conn.execute("DELETE FROM chunks_fts WHERE document_id = ?", (document_id,))

    def unindex_collection(self, collection_id: str) -> None:
        self.conn.execute("DELETE FROM chunks_fts WHERE collection_id = ?", (collection_id,))
