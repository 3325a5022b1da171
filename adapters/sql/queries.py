"""ReadModelQueries in the SQL SQLite and PostgreSQL share: every read of the API and the pipelines, as typed views
(``domain/views.py``). Columns are read by name (``AS n``), so any engine's mapping rows serve."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, TypeVar

import msgspec

from domain.access import Principal
from domain.views import (
    ApiKeyView,
    ChatSessionView,
    ChunkView,
    CollectionView,
    DocumentView,
    JobItemView,
    JobView,
    MessageView,
    ReferenceView,
    ShareView,
    TemplateVersionView,
    TemplateView,
    UploadView,
    UserView,
    View,
)

V = TypeVar("V", bound=View)

COLLECTION_SORT_COLUMNS = {"name", "created_at", "updated_at", "document_count", "document_size", "sessions_count"}
DOCUMENT_SORT_COLUMNS = {"name", "created_at", "updated_at", "size", "page_count", "type"}
TEMPLATE_SORT_COLUMNS = {"name", "created_at", "updated_at", "version"}


class SQLReader(Protocol):
    """An engine's reads: ``?`` placeholders; rows that give their values by column name (``row["id"]``)."""

    def fetch_all(self, sql: str, params: tuple[Any, ...] = ()) -> Sequence[Any]: ...

    def fetch_one(self, sql: str, params: tuple[Any, ...] = ()) -> Any: ...


def _view(view: type[V], row: Mapping[str, Any]) -> V:
    # strict=False: timestamps are kept as ISO text and booleans as 0/1, the same on every engine.
    return msgspec.convert(dict(row), view, strict=False)


def _views(view: type[V], rows: Sequence[Mapping[str, Any]]) -> list[V]:
    return [_view(view, row) for row in rows]


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _template_filter(text: str | None) -> tuple[str, tuple[str, ...]]:
    """A WHERE clause keeping the templates whose name, description or language holds ``text``. LIKE's own
    wildcards in it are escaped, so ``50%`` means those three characters; both engines lower ASCII only."""
    if not text:
        return "", ()
    escaped = text.translate(_ASCII_LOWER).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = f"%{escaped}%"
    columns = ("name", "description", "lang")
    where = " OR ".join(f"lower(coalesce({column}, '')) LIKE ? ESCAPE '\\'" for column in columns)
    return f" WHERE {where}", (pattern,) * len(columns)


def _visible(kind: str, alias: str, viewer: Principal | None) -> tuple[str, tuple[Any, ...]]:
    """A condition keeping the rows of ``kind`` ("collection", "template") that ``viewer`` may see: its own, the
    public ones and those shared with it (None or an admin: every row)."""
    if viewer is None or viewer.is_admin:
        return "1 = 1", ()
    return (
        f"({alias}.owner = ? OR {alias}.is_public = 1 OR EXISTS (SELECT 1 FROM shares sh WHERE sh.kind = ?"
        f" AND sh.resource_id = {alias}.id AND sh.username = ?))",
        (viewer.username, kind, viewer.username),
    )


def _owned(alias: str, viewer: Principal | None) -> tuple[str, tuple[Any, ...]]:
    if viewer is None or viewer.is_admin:
        return "1 = 1", ()
    return f"{alias}.owner = ?", (viewer.username,)


def _one(view: type[V], row: Mapping[str, Any] | None) -> V | None:
    return _view(view, row) if row is not None else None


# A collection or template with how many users it has: its owner and those it is shared with.
_COLLECTIONS = (
    "SELECT c.*, 1 + (SELECT COUNT(*) FROM shares sh WHERE sh.kind = 'collection' AND sh.resource_id = c.id)"
    " AS user_count FROM collections c"
)
_TEMPLATES = (
    "SELECT t.*, 1 + (SELECT COUNT(*) FROM shares sh WHERE sh.kind = 'template' AND sh.resource_id = t.id)"
    " AS user_count FROM prompt_templates t"
)
# The key listings name the collection a scoped key is bound to.
_KEYS = "SELECT k.*, c.name AS collection_name FROM api_keys k LEFT JOIN collections c ON c.id = k.collection_id"


class SQLReadModelQueries:
    def __init__(self, store: SQLReader) -> None:
        self.store = store

    # --- collections -----------------------------------------------------------------------------------

    def collection(self, collection_id: str) -> CollectionView | None:
        return _one(CollectionView, self.store.fetch_one(f"{_COLLECTIONS} WHERE c.id = ?", (collection_id,)))

    def collections(
        self, offset: int, limit: int, sort_column: str, ascending: bool, viewer: Principal | None = None
    ) -> list[CollectionView]:
        column = sort_column if sort_column in COLLECTION_SORT_COLUMNS else "updated_at"
        order = "ASC" if ascending else "DESC"
        visible, params = _visible("collection", "c", viewer)
        return _views(
            CollectionView,
            self.store.fetch_all(
                f"{_COLLECTIONS} WHERE {visible} ORDER BY c.{column} {order}, c.id LIMIT ? OFFSET ?",
                (*params, limit, offset),
            ),
        )

    def collection_count(self, viewer: Principal | None = None) -> int:
        visible, params = _visible("collection", "c", viewer)
        return self._count(f"SELECT COUNT(*) AS n FROM collections c WHERE {visible}", params)

    def share(self, kind: str, resource_id: str, username: str) -> tuple[str, ...]:
        row = self.store.fetch_one(
            "SELECT permissions FROM shares WHERE kind = ? AND resource_id = ? AND username = ?",
            (kind, resource_id, username),
        )
        return tuple(row["permissions"].split(",")) if row else ()

    def shares(self, kind: str, resource_id: str) -> list[ShareView]:
        return _views(
            ShareView,
            self.store.fetch_all(
                "SELECT * FROM shares WHERE kind = ? AND resource_id = ? ORDER BY username", (kind, resource_id)
            ),
        )

    def share_count(self, kind: str, resource_id: str) -> int:
        return self._count("SELECT COUNT(*) AS n FROM shares WHERE kind = ? AND resource_id = ?", (kind, resource_id))

    # --- documents -------------------------------------------------------------------------------------

    def document(self, document_id: str) -> DocumentView | None:
        return _one(DocumentView, self.store.fetch_one("SELECT * FROM documents WHERE id = ?", (document_id,)))

    def documents(
        self,
        offset: int,
        limit: int,
        collection_id: str | None = None,
        sort_column: str = "updated_at",
        ascending: bool = False,
        viewer: Principal | None = None,
    ) -> list[DocumentView]:
        column = sort_column if sort_column in DOCUMENT_SORT_COLUMNS else "updated_at"
        order = "ASC" if ascending else "DESC"
        where, params = self._documents_where(collection_id, viewer)
        return _views(
            DocumentView,
            self.store.fetch_all(
                f"SELECT d.* FROM documents d WHERE {where} ORDER BY d.{column} {order}, d.id LIMIT ? OFFSET ?",
                (*params, limit, offset),
            ),
        )

    def document_count(self, collection_id: str | None = None, viewer: Principal | None = None) -> int:
        where, params = self._documents_where(collection_id, viewer)
        return self._count(f"SELECT COUNT(*) AS n FROM documents d WHERE {where}", params)

    @staticmethod
    def _documents_where(collection_id: str | None, viewer: Principal | None) -> tuple[str, tuple[Any, ...]]:
        """All documents (failed ones too) or a collection's ingested ones; of the collections ``viewer`` sees."""
        visible, params = _visible("collection", "c", viewer)
        where = f"d.collection_id IN (SELECT c.id FROM collections c WHERE {visible})" if params else "1 = 1"
        if collection_id is None:
            return where, params
        return f"d.collection_id = ? AND d.status = 'completed' AND {where}", (collection_id, *params)

    def documents_from_uploads(self, collection_id: str, upload_ids: Sequence[str]) -> dict[str, str]:
        """The collection's ingested documents made from ``upload_ids``: document id by upload id."""
        marks = ",".join("?" * len(upload_ids))
        rows = self.store.fetch_all(
            f"SELECT upload_id, id FROM documents WHERE collection_id = ? AND status = 'completed'"
            f" AND upload_id IN ({marks})",
            (collection_id, *upload_ids),
        )
        return {row["upload_id"]: row["id"] for row in rows}

    def upload(self, upload_id: str) -> UploadView | None:
        return _one(UploadView, self.store.fetch_one("SELECT * FROM uploads WHERE id = ?", (upload_id,)))

    # --- chunks ----------------------------------------------------------------------------------------

    def chunks_by_position(self, keys: Sequence[tuple[str, int]]) -> dict[tuple[str, int], ChunkView]:
        """Chunk rows (with their document's name) for (document_id, ordinal) keys."""
        found: dict[tuple[str, int], ChunkView] = {}
        for first in range(0, len(keys), 400):
            batch = keys[first : first + 400]
            where = " OR ".join("(c.document_id = ? AND c.ordinal = ?)" for _ in batch)
            params = tuple(value for key in batch for value in key)
            rows = self.store.fetch_all(
                "SELECT c.*, d.name AS document_name FROM chunks c JOIN documents d ON d.id = c.document_id"
                f" WHERE {where}",
                params,
            )
            for row in rows:
                found[(row["document_id"], row["ordinal"])] = _view(ChunkView, row)
        return found

    def collection_chunks(self, collection_id: str, limit: int) -> list[ChunkView]:
        """Up to ``limit`` chunks of a collection (with their document's name), in document and reading order."""
        return _views(
            ChunkView,
            self.store.fetch_all(
                "SELECT c.*, d.name AS document_name FROM chunks c JOIN documents d ON d.id = c.document_id"
                " WHERE c.collection_id = ? ORDER BY d.name, d.id, c.ordinal LIMIT ?",
                (collection_id, limit),
            ),
        )

    def suggested_questions(self, collection_id: str, limit: int) -> list[str]:
        """Questions suggested for the collection's documents, taking turns across documents."""
        rows = self.store.fetch_all(
            "SELECT question FROM suggested_questions WHERE collection_id = ? ORDER BY ordinal, document_id LIMIT ?",
            (collection_id, limit),
        )
        return [row["question"] for row in rows]

    def chunk_totals(self, collection_id: str) -> tuple[int, int]:
        """How many chunks a collection has, and their tokens together."""
        row = self.store.fetch_one(
            "SELECT count(*) AS n, coalesce(sum(token_count), 0) AS tokens FROM chunks WHERE collection_id = ?",
            (collection_id,),
        )
        return (int(row["n"]), int(row["tokens"])) if row else (0, 0)

    # --- chat --------------------------------------------------------------------------------------------

    def chat_session(self, session_id: str) -> ChatSessionView | None:
        return _one(
            ChatSessionView,
            self.store.fetch_one(
                "SELECT s.*, c.name AS collection_name FROM chat_sessions s"
                " LEFT JOIN collections c ON c.id = s.collection_id WHERE s.id = ?",
                (session_id,),
            ),
        )

    def chat_sessions(
        self, offset: int, limit: int, collection_id: str | None = None, viewer: Principal | None = None
    ) -> list[ChatSessionView]:
        where, params = self._sessions_where(collection_id, viewer)
        return _views(
            ChatSessionView,
            self.store.fetch_all(
                "SELECT s.*, c.name AS collection_name FROM chat_sessions s"
                f" LEFT JOIN collections c ON c.id = s.collection_id WHERE {where}"
                " ORDER BY s.updated_at DESC, s.id LIMIT ? OFFSET ?",
                (*params, limit, offset),
            ),
        )

    def chat_session_count(self, collection_id: str | None = None, viewer: Principal | None = None) -> int:
        where, params = self._sessions_where(collection_id, viewer)
        return self._count(f"SELECT COUNT(*) AS n FROM chat_sessions s WHERE {where}", params)

    @staticmethod
    def _sessions_where(collection_id: str | None, viewer: Principal | None) -> tuple[str, tuple[Any, ...]]:
        """A chat session is its owner's alone (and an admin's)."""
        owned, params = _owned("s", viewer)
        if collection_id is None:
            return owned, params
        return f"s.collection_id = ? AND {owned}", (collection_id, *params)

    def messages(self, session_id: str, offset: int = 0, limit: int = 10_000) -> list[MessageView]:
        return _views(
            MessageView,
            self.store.fetch_all(
                "SELECT * FROM messages WHERE session_id = ? ORDER BY seq LIMIT ? OFFSET ?",
                (session_id, limit, offset),
            ),
        )

    def message(self, message_id: str) -> MessageView | None:
        return _one(MessageView, self.store.fetch_one("SELECT * FROM messages WHERE id = ?", (message_id,)))

    def references(self, message_id: str, limit: int | None = None) -> list[ReferenceView]:
        sql = "SELECT * FROM message_references WHERE message_id = ? ORDER BY rank"
        if limit is None:
            return _views(ReferenceView, self.store.fetch_all(sql, (message_id,)))
        return _views(ReferenceView, self.store.fetch_all(f"{sql} LIMIT ?", (message_id, limit)))

    # --- prompt templates --------------------------------------------------------------------------------

    def template(self, template_id: str) -> TemplateView | None:
        return _one(TemplateView, self.store.fetch_one(f"{_TEMPLATES} WHERE t.id = ?", (template_id,)))

    def templates(
        self,
        offset: int,
        limit: int,
        sort_column: str,
        ascending: bool,
        text_filter: str | None = None,
        viewer: Principal | None = None,
    ) -> list[TemplateView]:
        column = sort_column if sort_column in TEMPLATE_SORT_COLUMNS else "updated_at"
        order = "ASC" if ascending else "DESC"
        where, params = self._templates_where(text_filter, viewer)
        return _views(
            TemplateView,
            self.store.fetch_all(
                f"{_TEMPLATES} WHERE {where} ORDER BY t.{column} {order}, t.id LIMIT ? OFFSET ?",
                (*params, limit, offset),
            ),
        )

    def template_count(self, text_filter: str | None = None, viewer: Principal | None = None) -> int:
        where, params = self._templates_where(text_filter, viewer)
        return self._count(f"SELECT COUNT(*) AS n FROM prompt_templates t WHERE {where}", params)

    @staticmethod
    def _templates_where(text_filter: str | None, viewer: Principal | None) -> tuple[str, tuple[Any, ...]]:
        matches, matched = _template_filter(text_filter)
        visible, params = _visible("template", "t", viewer)
        return (f"({matches.removeprefix(' WHERE ')}) AND {visible}" if matches else visible), (*matched, *params)

    def template_versions(self, template_id: str) -> list[TemplateVersionView]:
        return _views(
            TemplateVersionView,
            self.store.fetch_all(
                "SELECT * FROM prompt_template_versions WHERE template_id = ? ORDER BY version", (template_id,)
            ),
        )

    def template_version(self, template_id: str, version: int) -> TemplateVersionView | None:
        return _one(
            TemplateVersionView,
            self.store.fetch_one(
                "SELECT * FROM prompt_template_versions WHERE template_id = ? AND version = ?", (template_id, version)
            ),
        )

    # --- jobs and keys -----------------------------------------------------------------------------------

    def job(self, job_id: str) -> JobView | None:
        return _one(JobView, self.store.fetch_one("SELECT * FROM jobs WHERE id = ?", (job_id,)))

    def job_items(self, job_id: str) -> list[JobItemView]:
        return _views(
            JobItemView, self.store.fetch_all("SELECT * FROM job_items WHERE job_id = ? ORDER BY seq", (job_id,))
        )

    def jobs(self, owner: str | None = None) -> list[JobView]:
        if owner is None:
            return _views(JobView, self.store.fetch_all("SELECT * FROM jobs ORDER BY created_at DESC"))
        return _views(
            JobView, self.store.fetch_all("SELECT * FROM jobs WHERE owner = ? ORDER BY created_at DESC", (owner,))
        )

    def api_key_by_hash(self, secret_hash: str) -> ApiKeyView | None:
        return _one(ApiKeyView, self.store.fetch_one("SELECT * FROM api_keys WHERE secret_hash = ?", (secret_hash,)))

    def api_key(self, key_id: str) -> ApiKeyView | None:
        return _one(ApiKeyView, self.store.fetch_one(f"{_KEYS} WHERE k.id = ?", (key_id,)))

    def api_keys(
        self, offset: int, limit: int, username: str | None = None, text_filter: str | None = None
    ) -> list[ApiKeyView]:
        """Newest first; ``text_filter`` keeps the keys whose name or user holds it."""
        conditions, params = ["1 = 1"], []
        if username is not None:
            conditions.append("k.username = ?")
            params.append(username)
        if text_filter:
            conditions.append("(lower(k.name) LIKE ? OR lower(k.username) LIKE ?)")
            params += [f"%{text_filter.lower()}%"] * 2
        return _views(
            ApiKeyView,
            self.store.fetch_all(
                f"{_KEYS} WHERE {' AND '.join(conditions)} ORDER BY k.created_at DESC, k.id LIMIT ? OFFSET ?",
                (*params, limit, offset),
            ),
        )

    def api_key_count(self) -> int:
        return self._count("SELECT COUNT(*) AS n FROM api_keys")

    # --- users -------------------------------------------------------------------------------------------

    def user(self, user_id: str) -> UserView | None:
        return _one(UserView, self.store.fetch_one("SELECT * FROM users WHERE id = ?", (user_id,)))

    def users(self, offset: int, limit: int) -> list[UserView]:
        return _views(
            UserView, self.store.fetch_all("SELECT * FROM users ORDER BY id LIMIT ? OFFSET ?", (limit, offset))
        )

    def owned_ids(self, username: str) -> dict[str, list[str]]:
        """What ``username`` owns, by kind: what deleting the user deletes (``chat``: the sessions they deleted
        too, until they are erased)."""
        tables = {
            "collection": "collections",
            "chat": "(SELECT id, owner FROM chat_sessions UNION ALL SELECT id, owner FROM deleted_sessions) AS s",
            "template": "prompt_templates",
        }
        return {
            kind: [
                row["id"]
                for row in self.store.fetch_all(f"SELECT id FROM {table} WHERE owner = ? ORDER BY id", (username,))
            ]
            for kind, table in tables.items()
        }

    def _count(self, sql: str, params: tuple[Any, ...] = ()) -> int:
        row = self.store.fetch_one(sql, params)
        return int(row["n"]) if row else 0
