"""Past one process: two API replicas without projectors (``PARLEY_PROJECTORS=false``, as ``parley serve
--no-projectors``) that queue ingest jobs (``PARLEY_INGESTION=workers``), one ``parley project`` process and two
``parley worker`` processes, all on one PostgreSQL. A write through either replica answers only once the projector
has applied it, so what one replica wrote is readable at once through the other; the workers share a job's files,
and a worker killed mid-job costs nothing but time."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import h2ogpte.rest_sync as rest
import psycopg
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

        def spawn(name: str, *command: str) -> subprocess.Popen[bytes]:
            environment = {**os.environ, **env, "PARLEY_ADMIN_API_KEY": ADMIN_KEY, "PARLEY_WORKER_LEASE_S": "3"}
            with (root / f"{name}.log").open("ab") as log:  # the child keeps its own descriptor
                return subprocess.Popen(
                    [sys.executable, "-m", "api.cli", *command], env=environment, stdout=log, stderr=subprocess.STDOUT
                )

        def logs() -> str:
            return "\n".join(f"--- {path.name}\n{path.read_text()[-2000:]}" for path in sorted(root.glob("*.log")))

        projector = spawn("projector", "project", "--data-dir", str(root / "projector"))
        workers = [spawn(name, "worker", "--data-dir", str(root / name), "--name", name) for name in ("w1", "w2")]
        replica_env = {**env, "PARLEY_PROJECTORS": "false", "PARLEY_INGESTION": "workers",
                       "PARLEY_REQUEST_TIMEOUT_S": "8"}  # fmt: skip
        replicas = [ServerProcess(root / f"api-{n}", replica_env) for n in (1, 2)]
        try:
            for replica in replicas:
                replica.start()
            # Both workers must be taking items before a test queues any, or the first could do a whole job alone.
            deadline = time.monotonic() + 120
            for name, process in zip(("w1", "w2"), workers, strict=True):
                while f"Parley ingestion worker {name}" not in (root / f"{name}.log").read_text():
                    assert process.poll() is None and time.monotonic() < deadline, logs()
                    time.sleep(0.1)
            clients = [
                apis(rest.ApiClient(rest.Configuration(host=r.api_url, access_token=ADMIN_KEY))) for r in replicas
            ]
            yield clients, projector, workers, url
        finally:
            for replica in replicas:
                if replica.process is not None and replica.process.poll() is None:
                    replica.stop()
            for process in (projector, *workers):
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
            for process in (projector, *workers):
                process.wait(60)
        assert projector.returncode == 0, logs()


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


@pytest.fixture(scope="module")
def workers(running: tuple[Any, ...]) -> list[subprocess.Popen[bytes]]:
    return running[2]  # type: ignore[no-any-return]


def done_by(url: str, job_id: str) -> dict[str, str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT item_id, worker FROM parley_work.work_items WHERE job_id = %s AND done", (job_id,)
        ).fetchall()
    return {item: worker for item, worker in rows}


def upload_files(api: dict[str, Any], count: int, tag: str) -> list[str]:
    return [
        api["ingestion"]
        .upload_file(file=(f"{tag}-{n}.txt", f"Note {n} of {tag}: the tide was {n} metres.".encode()))
        .id
        for n in range(count)
    ]


def test_the_workers_share_a_job(deployment: list[Any], running: tuple[Any, ...]) -> None:
    first, _ = deployment
    collection = first["collections"].create_collection(rest.CollectionCreateRequest(name="Tides", description=""))
    uploads = upload_files(first, 20, "shared")
    first["ingestion"].ingest_upload(uploads, collection_id=collection.id, timeout=300)
    documents = first["collections"].list_documents_for_collection(collection.id, limit=100)
    assert sorted(d.name for d in documents) == sorted(f"shared-{n}.txt" for n in range(20))
    job = next(j for j in first["jobs"].list_jobs() if j.files_total == 20)
    assert job.overall_status == "completed" and not job.errors
    assert set(done_by(running[3], job.id).values()) == {"w1", "w2"}, "both workers took items of the job"


def test_a_worker_killed_mid_job_costs_nothing_but_time(deployment: list[Any], running: tuple[Any, ...]) -> None:
    first, second = deployment
    w1, w2 = running[2]
    collection = first["collections"].create_collection(rest.CollectionCreateRequest(name="Killed", description=""))
    uploads = upload_files(first, 20, "killed")
    job = first["ingestion"].create_ingest_upload_job(uploads, collection_id=collection.id)
    deadline = time.monotonic() + 120
    while "w1" not in done_by(running[3], job.id).values():  # w1 is at work on this job
        assert time.monotonic() < deadline
        time.sleep(0.05)
    w1.kill()
    while (job := second["jobs"].get_job(job.id)).overall_status == "in progress":
        assert time.monotonic() < deadline and w2.poll() is None, job
        time.sleep(0.2)
    assert job.overall_status == "completed" and not job.errors, job
    documents = second["collections"].list_documents_for_collection(collection.id, limit=100)
    assert sorted(d.name for d in documents) == sorted(f"killed-{n}.txt" for n in range(20))  # each exactly once


def test_a_file_that_workers_die_on_is_given_up(deployment: list[Any], running: tuple[Any, ...]) -> None:
    """Three workers took the item in turn and died on it (claims whose leases ran out at once): the next worker
    that takes it fails the item with the reason instead of dying too, and the job finishes."""
    from adapters.postgres.work_queue import PostgresWorkQueue

    first, _ = deployment
    alive = [worker for worker in running[2] if worker.poll() is None]
    collection = first["collections"].create_collection(rest.CollectionCreateRequest(name="Doomed", description=""))
    uploads = upload_files(first, 2, "doomed")
    queue = PostgresWorkQueue(running[3])
    for worker in alive:  # paused, so that the dying ones below take the items first
        worker.send_signal(signal.SIGSTOP)
    try:
        job = first["ingestion"].create_ingest_upload_job(uploads[:1], collection_id=collection.id)
        claims = [queue.claim(f"doomed-{n}", 0.0) for n in range(3)]  # each lease over as soon as taken
        assert [(c.item_id, c.attempts) for c in claims if c is not None] == [(uploads[0], n) for n in (1, 2, 3)]
    finally:
        for worker in alive:
            worker.send_signal(signal.SIGCONT)
        queue.close()
    deadline = time.monotonic() + 60
    while (job := first["jobs"].get_job(job.id)).overall_status == "in progress":
        assert time.monotonic() < deadline, job
        time.sleep(0.2)
    assert job.overall_status == "failed" and "3 attempts to ingest it did not finish" in " ".join(job.errors), job
    assert first["collections"].list_documents_for_collection(collection.id, limit=10) == []
    # The other file is ingested as ever: the workers are alive and well.
    first["ingestion"].ingest_upload(uploads[1:], collection_id=collection.id, timeout=120)
    assert [d.name for d in first["collections"].list_documents_for_collection(collection.id)] == ["doomed-1.txt"]
