"""The h2ogpte-client tests again, with the event log in KurrentDB (the protocol-faithful KurrentDB test peer of
tests/kurrentdb_peer.py, reached through the real kurrentdbclient by the server process) and the read side in
PostgreSQL: the production shape of compose.yaml. Nothing of the log is written to the data directory."""

from __future__ import annotations

from collections.abc import Iterator

import h2ogpte.rest_sync as rest
import pytest
from kurrentdbclient import KurrentDBClient

from tests.api.test_h2ogpte_client import *  # noqa: F403 - the same tests, with this module's server
from tests.api.test_h2ogpte_client import test_end_to_end_ingest_ask_and_cite
from tests.kurrentdb_peer import KurrentDBTestPeer
from tests.postgres import PostgresServer
from tests.server import ADMIN_KEY, ServerProcess


@pytest.fixture(scope="module")
def peer() -> Iterator[KurrentDBTestPeer]:
    started = KurrentDBTestPeer().start()
    yield started
    started.stop()


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, postgres_server: PostgresServer, peer: KurrentDBTestPeer
) -> Iterator[ServerProcess]:
    with postgres_server.fresh_database() as url:
        env = {
            "PARLEY_EVENT_STORE": "kurrentdb",
            "PARLEY_KURRENTDB_URL": peer.uri,
            "PARLEY_READ_STORE": "postgres",
            "PARLEY_VECTOR_INDEX": "pgvector",
            "PARLEY_POSTGRES_URL": url,
        }
        process = ServerProcess(tmp_path_factory.mktemp("parley-kurrentdb") / "data", env).start()
        yield process
        process.stop()


@pytest.fixture(scope="module")
def api(server: ServerProcess) -> rest.ApiClient:
    return rest.ApiClient(rest.Configuration(host=server.api_url, access_token=ADMIN_KEY))


def test_the_log_is_in_kurrentdb(api: rest.ApiClient, server: ServerProcess, peer: KurrentDBTestPeer) -> None:
    test_end_to_end_ingest_ask_and_cite(api)
    assert "events.sqlite3" not in {path.name for path in server.data_dir.iterdir()}
    client = KurrentDBClient(uri=peer.uri)
    try:
        types = {event.type for event in client.read_all() if not event.stream_name.startswith("$")}
    finally:
        client.close()
    assert {"CollectionCreated", "DocumentIngested", "QuestionAsked", "AnswerGenerated"} <= types
