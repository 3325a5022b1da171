"""The read-side contract on the embedded engine: SQLite read models, their queries and FTS5."""

from __future__ import annotations

from pathlib import Path

from adapters.sql.queries import SQLReadModelQueries
from adapters.sqlite.lexical import FTS5LexicalIndex
from adapters.sqlite.read_models import SQLiteReadModelStore
from api.bootstrap import ReadSide
from tests.contract.read_model_contract import ReadModelContract


class TestSQLiteReadModels(ReadModelContract):
    def make_read_side(self, directory: Path) -> ReadSide:
        directory.mkdir(parents=True, exist_ok=True)
        store = SQLiteReadModelStore(directory / "read_models.sqlite3")
        return ReadSide(store, SQLReadModelQueries(store), FTS5LexicalIndex(store), store)
