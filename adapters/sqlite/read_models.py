"""The read models on SQLite: their tables, and the projector that folds events into them.

``SQLiteReadModelStore.apply`` runs ``project(conn, record, event)`` for a page of events inside one
transaction that also stores the checkpoint. Everything here is derived from events alone, so dropping the
tables and applying the log from position 0 rebuilds them exactly. The chunks' FTS5 table is the lexical index
(``adapters/sqlite/lexical.py``), kept in the same transaction as the chunks.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec

from adapters.sqlite.read_store import SQLiteReadStore
from domain import events as ev
from domain.ports import RecordedEvent

SCHEMA = """
CREATE TABLE IF NOT EXISTS collections (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, description TEXT NOT NULL, embedding_model TEXT NOT NULL,
    settings TEXT NOT NULL, chat_settings TEXT NOT NULL, rag_type TEXT, owner TEXT NOT NULL,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL, document_count INTEGER NOT NULL DEFAULT 0,
    document_size INTEGER NOT NULL DEFAULT 0, sessions_count INTEGER NOT NULL DEFAULT 0,
    next_chunk_id INTEGER NOT NULL DEFAULT 1
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
    updated_at TEXT NOT NULL, latest_message_content TEXT
);
CREATE INDEX IF NOT EXISTS chat_sessions_by_collection ON chat_sessions (collection_id, updated_at);
CREATE TABLE IF NOT EXISTS messages (
    id TEXT PRIMARY KEY, session_id TEXT NOT NULL, seq INTEGER NOT NULL, content TEXT NOT NULL,
    reply_to TEXT, error TEXT, username TEXT, created_at TEXT NOT NULL, llm TEXT, llm_args TEXT,
    rag_type TEXT, total_references INTEGER NOT NULL DEFAULT 0, usage_stats TEXT, prompt_raw TEXT,
    llm_only TEXT, hyde1 TEXT, self_reflection TEXT
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
    created_at TEXT NOT NULL
);
"""

TABLES = [
    "collections",
    "uploads",
    "documents",
    "suggested_questions",
    "chunks",
    "chunks_fts",
    "chat_sessions",
    "messages",
    "message_references",
    "jobs",
    "job_items",
    "api_keys",
]


class SQLiteReadModelStore(SQLiteReadStore):
    """The ReadModelStore of the embedded default: one SQLite file, WAL, beside the event log."""

    def __init__(self, path: Path | str) -> None:
        super().__init__(path, SCHEMA)

    def apply(self, name: str, page: Sequence[tuple[RecordedEvent, ev.AnyEvent]]) -> None:
        with self.transaction() as conn:
            for record, event in page:
                project(conn, record, event)
            self.set_checkpoint(conn, name, page[-1][0].position)

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        return self.content_rows(TABLES)


def _json(value: Any) -> str:
    return msgspec.json.encode(value).decode()


def _pages(pages: tuple[int, ...]) -> str:
    return ",".join(str(page) for page in pages)


def project(conn: sqlite3.Connection, record: RecordedEvent, event: ev.AnyEvent) -> None:
    """Apply one event to the read models."""
    at = record.recorded_at.isoformat()
    match event:
        case ev.CollectionCreated():
            conn.execute(
                "INSERT INTO collections (id, name, description, embedding_model, settings, chat_settings,"
                " rag_type, owner, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    event.collection_id,
                    event.name,
                    event.description,
                    event.embedding_model,
                    _json(event.settings),
                    _json(event.chat_settings),
                    event.rag_type,
                    event.owner,
                    at,
                    at,
                ),
            )
        case ev.CollectionUpdated():
            conn.execute(
                "UPDATE collections SET name = ?, description = ?, rag_type = ?, updated_at = ? WHERE id = ?",
                (event.name, event.description, event.rag_type, at, event.collection_id),
            )
        case ev.CollectionSettingsReplaced():
            conn.execute(
                "UPDATE collections SET settings = ?, updated_at = ? WHERE id = ?",
                (_json(event.settings), at, event.collection_id),
            )
        case ev.CollectionDeleted():
            conn.execute("DELETE FROM collections WHERE id = ?", (event.collection_id,))
            conn.execute("DELETE FROM documents WHERE collection_id = ?", (event.collection_id,))
            conn.execute("DELETE FROM chunks WHERE collection_id = ?", (event.collection_id,))
            conn.execute("DELETE FROM chunks_fts WHERE collection_id = ?", (event.collection_id,))
            conn.execute("DELETE FROM suggested_questions WHERE collection_id = ?", (event.collection_id,))
        case ev.UploadReceived():
            conn.execute(
                "INSERT INTO uploads (id, filename, size, content_hash, owner, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (event.upload_id, event.filename, event.size, event.content_hash, event.owner, at),
            )
        case ev.DocumentIngested():
            _document_ingested(conn, event, at)
        case ev.DocumentIngestionFailed():
            conn.execute(
                "INSERT INTO documents (id, collection_id, upload_id, job_id, name, type, size, page_count,"
                " status, error, metadata, owner, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, 0, 'failed', ?, '{}', ?, ?, ?)",
                (
                    event.document_id,
                    event.collection_id,
                    event.upload_id,
                    event.job_id,
                    event.name,
                    event.type,
                    event.size,
                    event.reason,
                    event.owner,
                    at,
                    at,
                ),
            )
        case ev.DocumentSummarized():
            conn.execute(
                "UPDATE documents SET summary = ?, summary_llm = ?, updated_at = ? WHERE id = ?",
                (event.summary, event.llm, at, event.document_id),
            )
        case ev.DocumentQuestionsSuggested():
            conn.execute("DELETE FROM suggested_questions WHERE document_id = ?", (event.document_id,))
            conn.executemany(
                "INSERT INTO suggested_questions (document_id, collection_id, ordinal, question, llm)"
                " VALUES (?, ?, ?, ?, ?)",
                [
                    (event.document_id, event.collection_id, ordinal, question, event.llm)
                    for ordinal, question in enumerate(event.questions)
                ],
            )
        case ev.DocumentRemoved():
            row = conn.execute(
                "SELECT size FROM documents WHERE id = ? AND status = 'completed'", (event.document_id,)
            ).fetchone()
            conn.execute("DELETE FROM documents WHERE id = ?", (event.document_id,))
            conn.execute("DELETE FROM chunks WHERE document_id = ?", (event.document_id,))
            conn.execute("DELETE FROM chunks_fts WHERE document_id = ?", (event.document_id,))
            conn.execute("DELETE FROM suggested_questions WHERE document_id = ?", (event.document_id,))
            if row is not None:
                conn.execute(
                    "UPDATE collections SET document_count = document_count - 1,"
                    " document_size = document_size - ?, updated_at = ? WHERE id = ?",
                    (row[0], at, event.collection_id),
                )
        case ev.ChatSessionCreated():
            conn.execute(
                "INSERT INTO chat_sessions (id, collection_id, name, owner, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (event.session_id, event.collection_id, event.name, event.owner, at, at),
            )
            if event.collection_id:
                conn.execute(
                    "UPDATE collections SET sessions_count = sessions_count + 1 WHERE id = ?",
                    (event.collection_id,),
                )
        case ev.ChatSessionRenamed():
            conn.execute(
                "UPDATE chat_sessions SET name = ?, updated_at = ? WHERE id = ?", (event.name, at, event.session_id)
            )
        case ev.ChatSessionDeleted():
            row = conn.execute("SELECT collection_id FROM chat_sessions WHERE id = ?", (event.session_id,)).fetchone()
            if row is not None and row[0]:
                conn.execute("UPDATE collections SET sessions_count = sessions_count - 1 WHERE id = ?", (row[0],))
            conn.execute(
                "DELETE FROM message_references WHERE message_id IN (SELECT id FROM messages WHERE session_id = ?)",
                (event.session_id,),
            )
            conn.execute("DELETE FROM messages WHERE session_id = ?", (event.session_id,))
            conn.execute("DELETE FROM chat_sessions WHERE id = ?", (event.session_id,))
        case ev.QuestionAsked():
            conn.execute(
                "INSERT INTO messages (id, session_id, seq, content, username, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (event.message_id, event.session_id, record.version, event.text, event.username, at),
            )
            _touch_session(conn, event.session_id, event.text, at)
        case ev.AnswerGenerated():
            _answer_generated(conn, record, event, at)
        case ev.AnswerFailed():
            conn.execute(
                "INSERT INTO messages (id, session_id, seq, content, reply_to, error, created_at)"
                " VALUES (?, ?, ?, '', ?, ?, ?)",
                (event.message_id, event.session_id, record.version, event.reply_to, event.reason, at),
            )
            _touch_session(conn, event.session_id, None, at)
        case ev.JobStarted():
            conn.execute(
                "INSERT INTO jobs (id, kind, name, collection_id, owner, items_total, status, timeout, created_at,"
                " updated_at) VALUES (?, ?, ?, ?, ?, ?, 'in progress', ?, ?, ?)",
                (
                    event.job_id,
                    event.kind,
                    event.name,
                    event.collection_id,
                    event.owner,
                    len(event.items),
                    event.timeout,
                    at,
                    at,
                ),
            )
        case ev.JobItemFinished():
            column = "items_completed" if event.status == "completed" else "items_failed"
            conn.execute(
                f"UPDATE jobs SET {column} = {column} + 1, item_progress = 0, updated_at = ? WHERE id = ?",
                (at, event.job_id),
            )
            conn.execute(
                "INSERT INTO job_items (job_id, seq, item_id, status, document_id, error) VALUES (?, ?, ?, ?, ?, ?)",
                (event.job_id, record.version, event.item_id, event.status, event.document_id, event.error),
            )
        case ev.JobProgressed():
            conn.execute(
                "UPDATE jobs SET item_progress = ?, updated_at = ? WHERE id = ?",
                (event.done / event.total, at, event.job_id),
            )
        case ev.JobFinished():
            conn.execute("UPDATE jobs SET status = ?, updated_at = ? WHERE id = ?", (event.status, at, event.job_id))
        case ev.ApiKeyCreated():
            conn.execute(
                "INSERT INTO api_keys (id, name, username, secret_hash, hint, collection_id, is_admin, active,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?)",
                (
                    event.key_id,
                    event.name,
                    event.username,
                    event.secret_hash,
                    event.hint,
                    event.collection_id,
                    int(event.is_admin),
                    at,
                ),
            )
        case ev.ApiKeyDeactivated():
            conn.execute("UPDATE api_keys SET active = 0 WHERE id = ?", (event.key_id,))


def _document_ingested(conn: sqlite3.Connection, event: ev.DocumentIngested, at: str) -> None:
    row = conn.execute("SELECT next_chunk_id FROM collections WHERE id = ?", (event.collection_id,)).fetchone()
    if row is None:
        return  # the collection was deleted while the document was being parsed
    first_chunk_id = int(row[0])
    conn.execute(
        "INSERT INTO documents (id, collection_id, upload_id, job_id, name, type, size, page_count, status,"
        " content_hash, metadata, owner, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'completed', ?, ?, ?, ?, ?)",
        (
            event.document_id,
            event.collection_id,
            event.upload_id,
            event.job_id,
            event.name,
            event.type,
            event.size,
            event.page_count,
            event.content_hash,
            _json(event.metadata),
            event.owner,
            at,
            at,
        ),
    )
    conn.executemany(
        'INSERT INTO chunks (collection_id, chunk_id, document_id, ordinal, text, pages, start, "end",'
        " content_hash, token_count) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                event.collection_id,
                first_chunk_id + chunk.ordinal,
                event.document_id,
                chunk.ordinal,
                chunk.text,
                _pages(chunk.pages),
                chunk.start,
                chunk.end,
                chunk.content_hash,
                chunk.token_count,
            )
            for chunk in event.chunks
        ],
    )
    conn.executemany(
        "INSERT INTO chunks_fts (text, collection_id, document_id, ordinal) VALUES (?, ?, ?, ?)",
        [(chunk.text, event.collection_id, event.document_id, chunk.ordinal) for chunk in event.chunks],
    )
    conn.execute(
        "UPDATE collections SET document_count = document_count + 1, document_size = document_size + ?,"
        " next_chunk_id = next_chunk_id + ?, updated_at = ? WHERE id = ?",
        (event.size, len(event.chunks), at, event.collection_id),
    )


def _answer_generated(conn: sqlite3.Connection, record: RecordedEvent, event: ev.AnswerGenerated, at: str) -> None:
    conn.execute(
        "INSERT INTO messages (id, session_id, seq, content, reply_to, created_at, llm, llm_args, rag_type,"
        " total_references, usage_stats, prompt_raw, llm_only, hyde1, self_reflection)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            event.message_id,
            event.session_id,
            record.version,
            event.text,
            event.reply_to,
            at,
            event.llm,
            _json(event.llm_args),
            event.rag_type,
            len(event.references),
            _json(event.usage),
            event.prompt_raw,
            event.llm_only,
            event.hyde1,
            event.self_reflection,
        ),
    )
    conn.executemany(
        "INSERT INTO message_references (message_id, rank, collection_id, document_id, document_name, chunk_id,"
        " score, pages, content) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                event.message_id,
                rank,
                ref.collection_id,
                ref.document_id,
                ref.document_name,
                ref.chunk_id,
                ref.score,
                _pages(ref.pages),
                ref.content,
            )
            for rank, ref in enumerate(event.references)
        ],
    )
    _touch_session(conn, event.session_id, event.text, at)


def _touch_session(conn: sqlite3.Connection, session_id: str, content: str | None, at: str) -> None:
    if content is None:
        conn.execute("UPDATE chat_sessions SET updated_at = ? WHERE id = ?", (at, session_id))
    else:
        conn.execute(
            "UPDATE chat_sessions SET latest_message_content = ?, updated_at = ? WHERE id = ?",
            (content, at, session_id),
        )
