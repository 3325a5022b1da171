"""The lexical index on PostgreSQL: full-text search over the chunks' generated ``tsvector`` (English stemming),
ranked by ``ts_rank`` normalised by document length."""

from __future__ import annotations

from collections.abc import Sequence

from adapters.postgres.read_models import PostgresReadModelStore
from domain.views import LexicalHit


class PostgresLexicalIndex:
    def __init__(self, store: PostgresReadModelStore) -> None:
        self.store = store

    def search(self, collection_id: str, terms: Sequence[str], limit: int) -> list[LexicalHit]:
        if not terms:
            return []
        # Any of the terms (OR), each parsed as plain words: query syntax in a question is never interpreted.
        query = " || ".join(["plainto_tsquery('english', %s)"] * len(terms))
        rows = self.store.connections.get().execute(
            f"SELECT document_id, ordinal, ts_rank(tsv, q, 1) AS score FROM chunks, (SELECT {query} AS q) AS query"
            " WHERE collection_id = %s AND tsv @@ q ORDER BY score DESC, document_id, ordinal LIMIT %s",
            (*terms, collection_id, limit),
        )
        return [LexicalHit(row["document_id"], int(row["ordinal"]), float(row["score"])) for row in rows]
