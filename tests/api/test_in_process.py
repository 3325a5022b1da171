"""The API in the test's own process: ``bootstrap`` takes its stores ready-made, and Litestar's test client
drives the same app ``parley serve`` runs, without a port or a child process. The stores handed in are the
ones the requests write to, which the test then reads directly (the h2ogpte-client tests use a real server)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar.testing import TestClient

from adapters.sqlite.event_store import SQLiteEventStore
from api.app import create_app
from api.bootstrap import bootstrap, read_side_of, vector_index_of
from api.settings import Settings
from domain.errors import ConfigurationError
from domain.ports import EventStore

KEY = "sk-in-process-0123456789abcdef0123456789abcdef01234567"
HEADERS = {"Authorization": f"Bearer {KEY}"}
LIGHTHOUSE = b"The Kestrel Point lighthouse was decommissioned in 1987. Its last keeper was Morwenna Tregarthen."


@pytest.fixture(scope="module")
def events(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EventStore]:
    store = SQLiteEventStore(tmp_path_factory.mktemp("log") / "elsewhere.sqlite3")
    yield store
    store.close()


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory, events: EventStore) -> Iterator[TestClient]:  # type: ignore[type-arg]
    settings = Settings(data_dir=tmp_path_factory.mktemp("data"), admin_api_key=KEY)
    app = create_app(bootstrap(settings, events=events))
    with TestClient(app=app) as client:
        yield client


def test_requests_write_to_the_injected_event_store(client: TestClient, events: EventStore) -> None:  # type: ignore[type-arg]
    created = client.post("/api/v1/collections", json={"name": "Kestrel", "description": ""}, headers=HEADERS)
    assert created.status_code == 201, created.text
    collection_id = created.json()["id"]
    (recorded,) = events.read_stream(f"collection-{collection_id}")
    assert recorded.type == "CollectionCreated" and recorded.metadata.actor == "admin"
    assert recorded.metadata.correlation_id  # stamped from the request by the command context


def test_ingest_and_ask_in_process(client: TestClient, events: EventStore) -> None:  # type: ignore[type-arg]
    collection_id = client.post(
        "/api/v1/collections", json={"name": "Light", "description": ""}, headers=HEADERS
    ).json()["id"]
    upload = client.put("/api/v1/uploads", files={"file": ("light.txt", LIGHTHOUSE, "text/plain")}, headers=HEADERS)
    assert upload.status_code == 200, upload.text
    ingest = client.post(
        f"/api/v1/uploads/{upload.json()['id']}/ingest", params={"collection_id": collection_id}, headers=HEADERS
    )
    assert ingest.status_code == 204, ingest.text
    session = client.post("/api/v1/chats", params={"collection_id": collection_id}, headers=HEADERS).json()["id"]
    answer = client.post(
        f"/api/v1/chats/{session}/completions",
        json={"message": "When was the lighthouse decommissioned?"},
        headers=HEADERS,
    )
    assert answer.status_code == 200 and "1987" in answer.json()["body"], answer.text
    kinds = [record.type for record in events.read_stream(f"chat-{session}")]
    assert kinds == ["ChatSessionCreated", "QuestionAsked", "AnswerGenerated"]


def test_an_engine_no_adapter_serves_is_a_configuration_error(tmp_path: Path) -> None:
    for variable in ("PARLEY_EVENT_STORE", "PARLEY_READ_STORE", "PARLEY_VECTOR_INDEX"):
        with pytest.raises(ConfigurationError, match=variable):
            Settings.from_env({variable: "oracle", "PARLEY_DATA_DIR": str(tmp_path)})


def test_postgres_needs_a_reachable_url(tmp_path: Path) -> None:
    for variable, build in (("PARLEY_READ_STORE", read_side_of), ("PARLEY_VECTOR_INDEX", vector_index_of)):
        engine = "postgres" if variable == "PARLEY_READ_STORE" else "pgvector"
        missing = Settings.from_env({variable: engine, "PARLEY_DATA_DIR": str(tmp_path)})
        with pytest.raises(ConfigurationError, match="needs PARLEY_POSTGRES_URL"):
            build(missing)
        unreachable = Settings.from_env(
            {variable: engine, "PARLEY_POSTGRES_URL": f"postgresql://nobody@/parley?host={tmp_path}&connect_timeout=2"}
        )
        with pytest.raises(ConfigurationError, match="PARLEY_POSTGRES_URL: cannot connect"):
            build(unreachable)
