"""The read store rebuilds from the log when its schema changes, and keeps its data when it does not."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from adapters.sqlite.read_store import SQLiteReadStore

OLD = "CREATE TABLE IF NOT EXISTS notes (id TEXT PRIMARY KEY);"
NEW = OLD + "\nCREATE VIRTUAL TABLE IF NOT EXISTS notes_fts USING fts5(text);"


def test_same_schema_keeps_rows_and_checkpoints(tmp_path: Path) -> None:
    store = SQLiteReadStore(tmp_path / "read.sqlite3", OLD)
    with store.transaction() as conn:
        conn.execute("INSERT INTO notes (id) VALUES ('a')")
        store.set_checkpoint(conn, "read_models", 7)
    again = SQLiteReadStore(tmp_path / "read.sqlite3", OLD)
    assert not again.rebuilt and again.checkpoint("read_models") == 7
    assert [row[0] for row in again.fetch_all("SELECT id FROM notes")] == ["a"]


def test_a_changed_schema_drops_everything_so_projections_replay_from_the_start(tmp_path: Path) -> None:
    store = SQLiteReadStore(tmp_path / "read.sqlite3", NEW)
    with store.transaction() as conn:
        conn.execute("INSERT INTO notes (id) VALUES ('a')")
        conn.execute("INSERT INTO notes_fts (text) VALUES ('hello')")
        store.set_checkpoint(conn, "read_models", 7)
    changed = SQLiteReadStore(tmp_path / "read.sqlite3", OLD + "\nCREATE TABLE IF NOT EXISTS more (x INTEGER);")
    assert changed.rebuilt and changed.checkpoint("read_models") == 0
    assert changed.fetch_all("SELECT id FROM notes") == []
    tables = {row[0] for row in changed.fetch_all("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "notes_fts" not in tables and "more" in tables


def test_tables_built_before_fingerprints_were_kept_are_rebuilt(tmp_path: Path) -> None:
    legacy = sqlite3.connect(tmp_path / "read.sqlite3")
    legacy.executescript(OLD + "CREATE TABLE checkpoints (name TEXT PRIMARY KEY, position INTEGER NOT NULL);")
    legacy.execute("INSERT INTO checkpoints VALUES ('read_models', 9)")
    legacy.commit()
    legacy.close()
    store = SQLiteReadStore(tmp_path / "read.sqlite3", NEW)
    assert store.rebuilt and store.checkpoint("read_models") == 0
    assert not SQLiteReadStore(tmp_path / "read.sqlite3", NEW).rebuilt
