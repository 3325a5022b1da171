"""The lexical index on SQLite: FTS5 over the chunks (porter stemming, BM25 ranking).

Its table, ``chunks_fts``, is written by the read-model projector in the transaction that writes the chunks
(``adapters/sqlite/read_models.py``), so the index and the read models never disagree and share one checkpoint.
"""

from __future__ import annotations

from collections.abc import Sequence

from adapters.sqlite.read_store import SQLiteReadStore
from domain.views import LexicalHit


class FTS5LexicalIndex:
    def __init__(self, store: SQLiteReadStore) -> None:
        self.store = store

    def search(self, collection_id: str, terms: Sequence[str], limit: int) -> list[LexicalHit]:
        if not terms:
            return []
        # Each term quoted: FTS5 query syntax in a question (AND, NEAR, *, quotes) is matched as words.
        match = " OR ".join('"' + term.replace('"', '""') + '"' for term in terms)
        rows = self.store.fetch_all(
            "SELECT document_id, ordinal, -rank AS score FROM chunks_fts"
            " WHERE chunks_fts MATCH ? AND collection_id = ? ORDER BY rank LIMIT ?",
            (match, collection_id, limit),
        )
        return [LexicalHit(row[0], int(row[1]), float(row[2])) for row in rows]
