"""An ingest job interrupted by a stop goes on when the server starts again: killed mid-job, every upload still
ends as exactly one document; a job from a log that did not record its options ends failed, saying why. And the
events a request causes name who caused them."""

from __future__ import annotations

import time

import httpx

from adapters.sqlite.event_store import SQLiteEventStore
from domain import job
from domain.service import CommandHandler, stream_name
from tests.server import ADMIN_KEY, ServerProcess

AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}
FILES = 24


def note(n: int) -> bytes:
    return (
        f"Field note {n}. " + f"Observation {n} of the heron colony at the estuary, counted at dawn. " * 40
    ).encode()


def wait_for_job(http: httpx.Client, job_id: str, until: float = 240.0) -> dict[str, object]:
    deadline = time.monotonic() + until
    while time.monotonic() < deadline:
        status: dict[str, object] = http.get(f"/jobs/{job_id}").json()
        if status["overall_status"] != "in progress":
            return status
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} still running after {until} s")


def test_a_job_killed_midway_goes_on_after_the_restart(fresh_server: ServerProcess) -> None:
    fresh_server.start()
    with httpx.Client(base_url=fresh_server.api_url, headers=AUTH, timeout=60) as http:
        collection = http.post("/collections", json={"name": "Herons", "description": ""}).json()["id"]
        uploads = [http.put("/uploads", files={"file": (f"note-{n}.txt", note(n))}).json()["id"] for n in range(FILES)]
        job_id = http.post(f"/uploads/{','.join(uploads)}/ingest/job", params={"collection_id": collection}).json()[
            "id"
        ]
        while http.get(f"/jobs/{job_id}").json()["statuses"] == []:
            time.sleep(0.05)
    fresh_server.kill()
    fresh_server.start()
    with httpx.Client(base_url=fresh_server.api_url, headers=AUTH, timeout=60) as http:
        status = wait_for_job(http, job_id)
        assert status["overall_status"] == "completed" and status["errors"] == [], status
        documents = http.get(f"/collections/{collection}/documents", params={"limit": 100}).json()
        assert sorted(d["name"] for d in documents) == sorted(f"note-{n}.txt" for n in range(FILES))
    assert "resuming ingest job" in fresh_server.log()


def test_a_job_that_cannot_be_resumed_ends_failed_with_the_reason(fresh_server: ServerProcess) -> None:
    fresh_server.data_dir.mkdir(parents=True)
    store = SQLiteEventStore(fresh_server.data_dir / "events.sqlite3")
    # A job as a log from before resumable jobs holds it: started, with no record of its ingest options.
    start = job.StartJob(job_id="old-job", kind="IngestUploadsJob", name="Ingest 1 upload(s) into Old",
                         collection_id="gone", items=("u-1",), owner="admin")  # fmt: skip
    CommandHandler(store).execute(job, stream_name("job", "old-job"), start)
    store.close()
    fresh_server.start()
    with httpx.Client(base_url=fresh_server.api_url, headers=AUTH, timeout=60) as http:
        status = wait_for_job(http, "old-job")
    assert status["overall_status"] == "failed"
    assert status["errors"] == ["upload u-1: the server restarted before this upload was ingested; ingest it again"]


def test_every_event_of_a_request_names_its_caller_and_request(server: ServerProcess) -> None:
    with httpx.Client(base_url=server.api_url, headers=AUTH, timeout=60) as http:
        created = http.post(
            "/collections", json={"name": "Stamped", "description": ""}, headers={"X-Request-ID": "req-stamp-1"}
        ).json()["id"]
        upload = http.put("/uploads", files={"file": ("stamp.txt", note(1))}).json()["id"]
        http.post(f"/uploads/{upload}/ingest", params={"collection_id": created}, headers={"X-Request-ID": "req-2"})
    store = SQLiteEventStore(server.data_dir / "events.sqlite3")
    try:
        (collection_created,) = store.read_stream(f"collection-{created}")
        assert collection_created.metadata.actor == "admin" and collection_created.metadata.key_id
        assert collection_created.metadata.correlation_id == "req-stamp-1"
        ingested = [
            r for r in store.read_all(limit=100_000) if r.type == "DocumentIngested" and upload.encode() in r.data
        ]
        assert [r.metadata.correlation_id for r in ingested] == ["req-2"]  # the job's events too
        assert ingested[0].metadata.actor == "admin"
    finally:
        store.close()
