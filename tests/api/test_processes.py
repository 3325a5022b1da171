"""Past one process: two API replicas without projectors (``PARLEY_PROJECTORS=false``, as ``parley serve
--no-projectors``) and one ``parley project`` process, all on one PostgreSQL. A write through either replica
answers only once the projector has applied it, so what one replica wrote is readable at once through the other."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import h2ogpte.rest_sync as rest
import pytest

from tests.api.test_h2ogpte_client import apis
from tests.postgres import PostgresServer
from tests.server import ADMIN_KEY, ServerProcess

LIGHTHOUSE = b"The Kestrel Point lighthouse was decommissioned in 1987. Its last keeper was Morwenna Tregarthen."


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory, postgres_server: PostgresServer) -> Iterator[tuple[Any, ...]]:
    with postgres_server.fresh_database() as url:
        env = {
            "PARLEY_EVENT_STORE": "postgres",
            "PARLEY_READ_STORE": "postgres",
            "PARLEY_VECTOR_INDEX": "pgvector",
            "PARLEY_POSTGRES_URL": url,
        }
        root = tmp_path_factory.mktemp("deployment")
        log = (root / "projector.log").open("ab")
        projector = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "project", "--data-dir", str(root / "projector")],
            env={**os.environ, **env, "PARLEY_ADMIN_API_KEY": ADMIN_KEY},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        replica_env = {**env, "PARLEY_PROJECTORS": "false", "PARLEY_REQUEST_TIMEOUT_S": "8"}
        replicas = [ServerProcess(root / f"api-{n}", replica_env) for n in (1, 2)]
        try:
            for replica in replicas:
                replica.start()
            clients = [
                apis(rest.ApiClient(rest.Configuration(host=r.api_url, access_token=ADMIN_KEY))) for r in replicas
            ]
            yield clients, projector
        finally:
            for replica in replicas:
                if replica.process is not None and replica.process.poll() is None:
                    replica.stop()
            projector.send_signal(signal.SIGTERM)
            projector.wait(30)
            log.close()
        assert projector.returncode == 0, (root / "projector.log").read_text()[-3000:]


@pytest.fixture(scope="module")
def deployment(running: tuple[Any, ...]) -> list[Any]:
    return list(running[0])


@pytest.fixture(scope="module")
def projector(running: tuple[Any, ...]) -> subprocess.Popen[bytes]:
    return running[1]  # type: ignore[no-any-return]


def test_what_one_replica_writes_the_other_reads_at_once(deployment: list[Any]) -> None:
    first, second = deployment
    for _ in range(5):  # read-your-writes every time, not by luck
        created = first["collections"].create_collection(rest.CollectionCreateRequest(name="Kestrel", description=""))
        assert second["collections"].get_collection(created.id).name == "Kestrel"
        session = second["chat"].create_chat_session(collection_id=created.id)
        assert first["chat"].get_chat_session(session.id).collection_id == created.id


def test_ingested_through_one_replica_asked_through_the_other(deployment: list[Any]) -> None:
    first, second = deployment
    collection = first["collections"].create_collection(rest.CollectionCreateRequest(name="Light", description=""))
    upload = second["ingestion"].upload_file(file=("light.txt", LIGHTHOUSE))
    first["ingestion"].ingest_upload([upload.id], collection_id=collection.id, timeout=120)
    assert [d.name for d in second["collections"].list_documents_for_collection(collection.id)] == ["light.txt"]
    session = second["chat"].create_chat_session(collection_id=collection.id)
    answer = second["chat"].get_completion(
        session.id, rest.ChatCompletionRequest(message="When was it decommissioned?")
    )
    assert "1987" in answer.body
    assert [m.id for m in first["chat"].get_chat_session_messages(session.id)][-1] == answer.message_id


def test_the_replicas_wait_for_the_projector_process(deployment: list[Any], projector: subprocess.Popen[bytes]) -> None:
    """With the projector paused, a write is stored but not yet readable: the replica answers 503 after its
    request timeout, and once the projector goes on, the write shows through both replicas."""
    first, second = deployment
    projector.send_signal(signal.SIGSTOP)
    try:
        with pytest.raises(rest.ApiException) as raised:
            first["collections"].create_collection(rest.CollectionCreateRequest(name="Paused", description=""))
        assert raised.value.status == 503
    finally:
        projector.send_signal(signal.SIGCONT)
    deadline = time.monotonic() + 30
    while not [c for c in second["collections"].list_collections() if c.name == "Paused"]:
        assert time.monotonic() < deadline, "the projector did not catch up"
        time.sleep(0.1)
