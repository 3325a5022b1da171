"""The read-model projector, in the SQL that SQLite and PostgreSQL share: folds events into the tables every API
read is served from.

``project(conn, record, event)`` applies one event through an engine's ``SQLWriter`` (``?`` placeholders; the
engine translates them), inside the transaction that also stores the checkpoint. Everything here is derived from
events alone, so dropping the tables and applying the log from position 0 rebuilds them exactly. Each engine
keeps its own lexical index over the chunks (``index_chunks``): SQLite in an FTS5 table, Postgres in a generated
``tsvector`` column, so the projector only says when chunks come and go.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

import msgspec

from domain import events as ev
from domain.ports import RecordedEvent
from domain.prompting import template_header

# The read models' tables, for comparing two builds (each engine adds the tables of its lexical index).
TABLES = (
    "collections",
    "uploads",
    "documents",
    "suggested_questions",
    "chunks",
    "chat_sessions",
    "deleted_sessions",
    "messages",
    "message_references",
    "jobs",
    "job_items",
    "api_keys",
    "prompt_templates",
    "prompt_template_versions",
    "users",
    "shares",
)


class Cursor(Protocol):
    def fetchone(self) -> Any: ...


class SQLWriter(Protocol):
    """One transaction of an engine, as the projector writes to it."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor: ...

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> object: ...

    def index_chunks(self, collection_id: str, document_id: str, chunks: Sequence[ev.Chunk]) -> None: ...

    def unindex_document(self, document_id: str) -> None: ...

    def unindex_collection(self, collection_id: str) -> None: ...


def _json(value: Any) -> str:
    return msgspec.json.encode(value).decode()


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _pages(pages: tuple[int, ...]) -> str:
    return ",".join(str(page) for page in pages)


def project(conn: SQLWriter, record: RecordedEvent, event: ev.AnyEvent) -> None:
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
        case ev.CollectionChatSettingsReplaced():
            conn.execute(
                "UPDATE collections SET chat_settings = ?, updated_at = ? WHERE id = ?",
                (_json(event.chat_settings), at, event.collection_id),
            )
        case ev.CollectionTemplateAttached():
            conn.execute(
                "UPDATE collections SET prompt_template_id = ?, updated_at = ? WHERE id = ?",
                (event.template_id, at, event.collection_id),
            )
        case ev.CollectionTemplateDetached():
            conn.execute(
                "UPDATE collections SET prompt_template_id = NULL, updated_at = ? WHERE id = ?",
                (at, event.collection_id),
            )
        case ev.CollectionDeleted():
            conn.execute("DELETE FROM collections WHERE id = ?", (event.collection_id,))
            conn.execute("DELETE FROM documents WHERE collection_id = ?", (event.collection_id,))
            conn.execute("DELETE FROM chunks WHERE collection_id = ?", (event.collection_id,))
            conn.unindex_collection(event.collection_id)
            conn.execute("DELETE FROM suggested_questions WHERE collection_id = ?", (event.collection_id,))
            conn.execute("DELETE FROM shares WHERE kind = 'collection' AND resource_id = ?", (event.collection_id,))
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
            conn.unindex_document(event.document_id)
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
        case ev.ChatSessionTemplateAttached():
            conn.execute(
                "UPDATE chat_sessions SET prompt_template_id = ?, updated_at = ? WHERE id = ?",
                (event.template_id, at, event.session_id),
            )
        case ev.ChatSessionTemplateDetached():
            conn.execute(
                "UPDATE chat_sessions SET prompt_template_id = NULL, updated_at = ? WHERE id = ?",
                (at, event.session_id),
            )
        case ev.ChatSessionDeleted() | ev.ChatSessionErased():  # erasing a deleted session finds nothing left
            found = "SELECT collection_id, owner FROM chat_sessions WHERE id = ?"
            row = conn.execute(found, (event.session_id,)).fetchone()
            if row is not None and row[0]:
                conn.execute("UPDATE collections SET sessions_count = sessions_count - 1 WHERE id = ?", (row[0],))
            if isinstance(event, ev.ChatSessionErased):
                conn.execute("DELETE FROM deleted_sessions WHERE id = ?", (event.session_id,))
            elif row is not None:
                conn.execute("INSERT INTO deleted_sessions (id, owner) VALUES (?, ?)", (event.session_id, row[1]))
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
        case ev.AnswerVoted():
            conn.execute("UPDATE messages SET votes = ? WHERE id = ?", (event.votes, event.message_id))
        case ev.AnswerFeedbackGiven():
            conn.execute(
                "UPDATE messages SET expected_answer = ?, user_comment = ? WHERE id = ?",
                (event.expected_answer, event.user_comment, event.message_id),
            )
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
                " created_at, expires_at, inactivity_interval) VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?)",
                (
                    event.key_id,
                    event.name,
                    event.username,
                    event.secret_hash,
                    event.hint,
                    event.collection_id,
                    int(event.is_admin),
                    at,
                    _time(event.expires_at),
                    event.inactivity_interval,
                ),
            )
            if event.is_admin:  # the first admin keys came before users did: their user is implied
                conn.execute(
                    "INSERT INTO users (id, username, email, is_admin, created_at) VALUES (?, ?, '', 1, ?)"
                    " ON CONFLICT (id) DO NOTHING",
                    (event.username, event.username, at),
                )
        case ev.ApiKeyDeactivated():
            conn.execute("UPDATE api_keys SET active = 0 WHERE id = ?", (event.key_id,))
        case ev.ApiKeyExpiryChanged():
            conn.execute("UPDATE api_keys SET expires_at = ? WHERE id = ?", (_time(event.expires_at), event.key_id))
        case ev.ApiKeyInactivityIntervalChanged():
            conn.execute(
                "UPDATE api_keys SET inactivity_interval = ? WHERE id = ?", (event.inactivity_interval, event.key_id)
            )
        case ev.ApiKeyDeleted():
            conn.execute("DELETE FROM api_keys WHERE id = ?", (event.key_id,))
        case ev.ApiKeyUsed():
            conn.execute(
                "UPDATE api_keys SET total_calls = total_calls + ?, last_used_at = ? WHERE id = ?",
                (event.calls, _time(event.last_used_at), event.key_id),
            )
        case ev.UserCreated():
            conn.execute(
                "INSERT INTO users (id, username, email, is_admin, created_at) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (id) DO NOTHING",
                (event.user_id, event.username, event.email, int(event.is_admin), at),
            )
        case ev.UserDeleted():
            # Their keys, collections, sessions and templates went first, each by its own event.
            conn.execute("DELETE FROM users WHERE id = ?", (event.user_id,))
            conn.execute("DELETE FROM shares WHERE username = ?", (event.username,))
        case ev.AccessShared():
            conn.execute(
                "INSERT INTO shares (kind, resource_id, username, permissions) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (kind, resource_id, username) DO UPDATE SET permissions = excluded.permissions",
                (event.kind, event.resource_id, event.username, ",".join(event.permissions)),
            )
        case ev.AccessUnshared():
            conn.execute(
                "DELETE FROM shares WHERE kind = ? AND resource_id = ? AND username = ?",
                (event.kind, event.resource_id, event.username),
            )
        case ev.PrivacyChanged():
            table = "collections" if event.kind == "collection" else "prompt_templates"
            conn.execute(f"UPDATE {table} SET is_public = ? WHERE id = ?", (int(event.is_public), event.resource_id))
        case ev.TemplateCreated():
            fields = _set_fields(event.fields)
            conn.execute(
                "INSERT INTO prompt_templates (id, name, description, lang, fields, owner, version, created_at,"
                " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    event.template_id,
                    fields.get("name", ""),
                    fields.get("description"),
                    fields.get("lang"),
                    _json(fields),
                    event.owner,
                    event.version,
                    at,
                    at,
                ),
            )
            _template_version(conn, record, event.template_id, event.version, fields, sorted(fields), at)
        case ev.TemplateUpdated():
            _template_updated(conn, record, event, at)
        case ev.TemplateDeleted():
            # The log keeps every version; the read side forgets a deleted template, its versions with it.
            conn.execute("DELETE FROM prompt_templates WHERE id = ?", (event.template_id,))
            conn.execute("DELETE FROM prompt_template_versions WHERE template_id = ?", (event.template_id,))
            conn.execute("DELETE FROM shares WHERE kind = 'template' AND resource_id = ?", (event.template_id,))
            # What it was attached to answers with the next template in the precedence from now on.
            for table in ("collections", "chat_sessions"):
                conn.execute(
                    f"UPDATE {table} SET prompt_template_id = NULL WHERE prompt_template_id = ?", (event.template_id,)
                )


def _document_ingested(conn: SQLWriter, event: ev.DocumentIngested, at: str) -> None:
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
    conn.index_chunks(event.collection_id, event.document_id, event.chunks)
    conn.execute(
        "UPDATE collections SET document_count = document_count + 1, document_size = document_size + ?,"
        " next_chunk_id = next_chunk_id + ?, updated_at = ? WHERE id = ?",
        (event.size, len(event.chunks), at, event.collection_id),
    )


def _answer_generated(conn: SQLWriter, record: RecordedEvent, event: ev.AnswerGenerated, at: str) -> None:
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
            _prompt_raw_meta(event),
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


def _prompt_raw_meta(event: ev.AnswerGenerated) -> str:
    """The ``prompt_raw`` meta: the recorded prompt, headed by the template and version that made it (the event
    keeps the prompt alone, exactly as the model received it)."""
    if event.template_id is None:  # answered before templates shaped answers
        return event.prompt_raw
    return template_header(event.template_id, event.template_version) + event.prompt_raw


_TEMPLATE_FIELDS = tuple(field.name for field in msgspec.structs.fields(ev.TemplateFields))


def _set_fields(fields: ev.TemplateFields) -> dict[str, Any]:
    """The fields a template event sets, by name (those left at None are not part of it)."""
    given: dict[str, Any] = msgspec.to_builtins(fields)
    return given


def _template_updated(conn: SQLWriter, record: RecordedEvent, event: ev.TemplateUpdated, at: str) -> None:
    row = conn.execute("SELECT fields FROM prompt_templates WHERE id = ?", (event.template_id,)).fetchone()
    if row is None:
        return
    changed = _set_fields(event.changed)
    fields = {**msgspec.json.decode(row[0]), **changed}
    for name in event.cleared:
        fields.pop(name, None)
    fields = {name: fields[name] for name in _TEMPLATE_FIELDS if name in fields}
    conn.execute(
        "UPDATE prompt_templates SET name = ?, description = ?, lang = ?, fields = ?, version = ?, updated_at = ?"
        " WHERE id = ?",
        (
            fields.get("name", ""),
            fields.get("description"),
            fields.get("lang"),
            _json(fields),
            event.version,
            at,
            event.template_id,
        ),
    )
    _template_version(conn, record, event.template_id, event.version, fields, sorted({*changed, *event.cleared}), at)


def _template_version(
    conn: SQLWriter,
    record: RecordedEvent,
    template_id: str,
    version: int,
    fields: dict[str, Any],
    changed: list[str],
    at: str,
) -> None:
    conn.execute(
        "INSERT INTO prompt_template_versions (template_id, version, fields, changed, actor, key_id, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (template_id, version, _json(fields), _json(changed), record.metadata.actor, record.metadata.key_id, at),
    )


def _touch_session(conn: SQLWriter, session_id: str, content: str | None, at: str) -> None:
    if content is None:
        conn.execute("UPDATE chat_sessions SET updated_at = ? WHERE id = ?", (at, session_id))
    else:
        conn.execute(
            "UPDATE chat_sessions SET latest_message_content = ?, updated_at = ? WHERE id = ?",
            (content, at, session_id),
        )
