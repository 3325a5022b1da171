"""Moving up: ``parley migrate --to postgresql://...`` copies an embedded data directory's log and files into
PostgreSQL, and a server on Postgres then shows the same collections, documents and chats to the h2ogpte client."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import h2ogpte.rest_sync as rest

from tests.api.test_h2ogpte_client import apis
from tests.postgres import PostgresServer
from tests.server import ADMIN_KEY, ServerProcess

LIGHTHOUSE = b"The Kestrel Point lighthouse was decommissioned in 1987. Its last keeper was Morwenna Tregarthen."
POSTGRES = {"PARLEY_EVENT_STORE": "postgres", "PARLEY_READ_STORE": "postgres", "PARLEY_VECTOR_INDEX": "pgvector"}


def state(a: dict) -> tuple:  # type: ignore[type-arg]
    collections = [(c.id, c.name, c.document_count) for c in a["collections"].list_collections()]
    documents = [(d.id, d.name, d.page_count) for d in a["documents"].list_documents()]
    sessions = a["chat"].list_chat_sessions()
    messages = [(m.id, m.content, m.reply_to) for s in sessions for m in a["chat"].get_chat_session_messages(s.id)]
    return collections, documents, sorted(s.id for s in sessions), messages


def migrate(data_dir: Path, url: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "api.cli", "migrate", "--data-dir", str(data_dir), "--to", url]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)


def test_an_embedded_data_directory_moves_to_postgres(tmp_path: Path, postgres_server: PostgresServer) -> None:
    data_dir = tmp_path / "data"
    embedded = ServerProcess(data_dir).start()
    try:
        a = apis(rest.ApiClient(rest.Configuration(host=embedded.api_url, access_token=ADMIN_KEY)))
        collection = a["collections"].create_collection(rest.CollectionCreateRequest(name="Kestrel", description=""))
        upload = a["ingestion"].upload_file(file=("light.txt", LIGHTHOUSE))
        a["ingestion"].ingest_upload([upload.id], collection_id=collection.id, timeout=120)
        session = a["chat"].create_chat_session(collection_id=collection.id)
        question = rest.ChatCompletionRequest(message="When was the lighthouse decommissioned?")
        assert "1987" in a["chat"].get_completion(session.id, question).body
        before = state(a)
    finally:
        embedded.stop()
    with postgres_server.fresh_database() as url:
        moved = migrate(data_dir, url)
        assert moved.returncode == 0, moved.stderr
        assert "events copied" in moved.stdout and "migrate" in moved.stderr  # the progress bar
        again = migrate(data_dir, url)
        assert again.returncode == 2 and "already holds events" in again.stderr
        on_postgres = ServerProcess(tmp_path / "fresh", {**POSTGRES, "PARLEY_POSTGRES_URL": url}).start()
        try:
            a = apis(rest.ApiClient(rest.Configuration(host=on_postgres.api_url, access_token=ADMIN_KEY)))
            assert state(a) == before
            # Searchable there too (the vectors were rebuilt from the copied log), and the files came along.
            session = a["chat"].create_chat_session(collection_id=collection.id)
            assert "1987" in a["chat"].get_completion(session.id, question).body
            (reference,) = a["chat"].get_message_references(a["chat"].get_chat_session_messages(session.id)[-1].id)[:1]
            assert reference.document_name == "light.txt"
            # The upload's bytes are in Postgres: ingesting it into another collection reads them.
            other = a["collections"].create_collection(rest.CollectionCreateRequest(name="Again", description=""))
            a["ingestion"].ingest_upload([upload.id], collection_id=other.id, timeout=120)
            assert a["collections"].get_collection(other.id).document_count == 1
        finally:
            on_postgres.stop()


def test_migrate_refuses_what_it_cannot_do(tmp_path: Path) -> None:
    missing = migrate(tmp_path / "nowhere", "postgresql://nobody@/x")
    assert missing.returncode == 2 and "no event log" in missing.stderr
