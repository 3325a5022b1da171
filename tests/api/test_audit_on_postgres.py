"""``parley replay --verify`` and ``parley replay`` with every store in PostgreSQL (the tests' real PostgreSQL 18
with pgvector): after a scripted workload through the h2ogpte client the rebuild beside the live read models is
identical (an erasure included: the erased session's text is in no table, its key is gone, the log holds its
events sealed), a row changed behind the projector's back is named, and a full rebuild heals it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import h2ogpte.rest_sync as rest
import httpx
import psycopg
import pytest

from tests.api.test_audit import PRIVATE, corrupt_and_verify, parley, scripted_workload
from tests.api.test_h2ogpte_client import apis
from tests.postgres import PostgresServer
from tests.server import ADMIN_KEY, ServerProcess


@pytest.fixture(scope="module")
def postgres_database(postgres_server: PostgresServer) -> Iterator[str]:
    with postgres_server.fresh_database() as url:
        yield url


@pytest.fixture(scope="module")
def env(postgres_database: str) -> dict[str, str]:
    return {
        "PARLEY_EVENT_STORE": "postgres",
        "PARLEY_READ_STORE": "postgres",
        "PARLEY_VECTOR_INDEX": "pgvector",
        "PARLEY_POSTGRES_URL": postgres_database,
    }


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, env: dict[str, str]) -> Iterator[ServerProcess]:
    process = ServerProcess(tmp_path_factory.mktemp("parley-audit-pg") / "data", env).start()
    yield process
    if process.process is not None and process.process.poll() is None:
        process.stop()


def test_replay_verify_on_postgres(
    server: ServerProcess,
    env: dict[str, str],
    postgres_database: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    a: dict[str, Any] = apis(rest.ApiClient(rest.Configuration(host=server.api_url, access_token=ADMIN_KEY)))
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    with httpx.Client(base_url=server.api_url, headers=headers, timeout=60) as http:
        sessions = scripted_workload(a, http)
        answer = http.get("/events", params={"event_type": "AnswerGenerated", "limit": 1}).json()["events"][0]
    message_id = answer["payload"]["message_id"]
    with psycopg.connect(postgres_database, autocommit=True) as conn:
        for name, found in (("erased", 0), ("to_erase", 10)):  # the latter's questions are still readable
            (messages,) = conn.execute("SELECT count(*) FROM parley_read.messages WHERE content LIKE %s",
                                       (f"%{PRIVATE[name]}%",)).fetchone() or (None,)  # fmt: skip
            assert messages == found, name
        (in_log,) = conn.execute("SELECT count(*) FROM parley_events.events WHERE position(%s IN data) > 0",
                                 (PRIVATE["to_erase"].encode(),)).fetchone() or (None,)  # fmt: skip
        assert in_log == 0  # sealed in the log, erased or not
        keys = conn.execute("SELECT subject, key IS NULL FROM parley_keys.subject_keys WHERE subject = ANY(%s)",
                            ([sessions["erased"], sessions["to_erase"]],)).fetchall()  # fmt: skip
        assert sorted(keys) == sorted([(sessions["erased"], True), (sessions["to_erase"], False)])

    def corrupt(text: str) -> None:
        with psycopg.connect(postgres_database, autocommit=True) as conn:
            conn.execute("UPDATE parley_read.messages SET content = %s WHERE id = %s", (text, message_id))

    def read_back() -> str:
        with psycopg.connect(postgres_database, autocommit=True) as conn:
            row = conn.execute("SELECT content FROM parley_read.messages WHERE id = %s", (message_id,)).fetchone()
        assert row is not None
        return str(row[0])

    for variable, value in env.items():  # the command line reads the same settings as the server
        monkeypatch.setenv(variable, value)
    corrupt_and_verify(server, corrupt, read_back, capsys)
    erased = parley("erase", "--session", sessions["to_erase"], data_dir=server.data_dir, capsys=capsys)
    assert erased.returncode == 0, erased.stderr
    verified = parley("replay", "--verify", data_dir=server.data_dir, capsys=capsys)
    assert verified.returncode == 0 and "identical" in verified.stdout, verified.stderr
    with psycopg.connect(postgres_database, autocommit=True) as conn:
        left = conn.execute("SELECT count(*) FROM parley_read.messages WHERE session_id = %s", (sessions["to_erase"],))
        assert left.fetchone() == (0,)
    with psycopg.connect(postgres_database, autocommit=True) as conn:  # the scratch schemas are gone
        schemas = conn.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'parley_verify_%'").fetchall()
    assert schemas == []
