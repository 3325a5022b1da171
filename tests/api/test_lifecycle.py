"""The server process: restart on the same data, clean SIGTERM, a fresh key, and a job over 1,000+ uploads."""

from __future__ import annotations

import re
import time

import h2ogpte.rest_sync as rest

from tests.server import ADMIN_KEY, ServerProcess


def client(server: ServerProcess, key: str = ADMIN_KEY) -> rest.ApiClient:
    return rest.ApiClient(rest.Configuration(host=server.api_url, access_token=key))


def test_restart_keeps_collections_sessions_and_messages(fresh_server: ServerProcess) -> None:
    api = client(fresh_server.start())
    collections, ingestion, chat = rest.CollectionsApi(api), rest.DocumentIngestionApi(api), rest.ChatApi(api)
    collection = collections.create_collection(rest.CollectionCreateRequest(name="Durable", description="kept"))
    upload = ingestion.upload_file(file=("notes.txt", b"The vault code is kept by the harbour master."))
    ingestion.ingest_upload([upload.id], collection_id=collection.id)
    session = chat.create_chat_session(collection_id=collection.id)
    answer = chat.get_completion(session.id, rest.ChatCompletionRequest(message="Who keeps the vault code?"))
    before = [m.content for m in chat.get_chat_session_messages(session.id)]

    assert fresh_server.stop() < 20, "SIGTERM must stop the server within 20 seconds"
    assert fresh_server.process is not None and fresh_server.process.returncode == 0
    assert "Application shutdown complete" in fresh_server.log()

    api = client(fresh_server.start())
    collections, chat = rest.CollectionsApi(api), rest.ChatApi(api)
    assert collections.get_collection(collection.id).name == "Durable"
    assert collections.get_document_count_for_collection(collection.id).count == 1
    assert chat.get_chat_session(session.id).collection_id == collection.id
    assert [m.content for m in chat.get_chat_session_messages(session.id)] == before
    assert chat.get_message_references(answer.message_id)[0].document_name == "notes.txt"
    # The index survived too: the same question is answered from the same document.
    again = chat.get_completion(session.id, rest.ChatCompletionRequest(message="Who keeps the vault code?"))
    assert "harbour master" in again.body


def test_without_an_admin_variable_a_key_is_generated_and_printed_once(fresh_server: ServerProcess) -> None:
    fresh_server.extra_env = {"PARLEY_ADMIN_API_KEY": ""}
    fresh_server.start()
    printed = re.findall(r"admin API key \(shown once, store it\): (sk-\S+)", fresh_server.log())
    assert len(printed) == 1
    assert rest.CollectionsApi(client(fresh_server, printed[0])).get_collection_count().count == 0
    fresh_server.stop()
    fresh_server.start()
    assert len(re.findall(r"shown once", fresh_server.log())) == 1, "a second start must not mint another key"


def test_a_job_over_a_thousand_uploads(server: ServerProcess) -> None:
    api = client(server)
    collections, ingestion, jobs = rest.CollectionsApi(api), rest.DocumentIngestionApi(api), rest.JobsApi(api)
    collection = collections.create_collection(rest.CollectionCreateRequest(name="Many", description=""))
    ids = [
        ingestion.upload_file(file=(f"note-{i}.txt", f"Note number {i} says hello.".encode())).id for i in range(1005)
    ]
    job = ingestion.create_ingest_upload_job(ids, collection_id=collection.id)
    assert job.files_total == 1005
    deadline = time.monotonic() + 300
    while job.overall_status == "in progress" and time.monotonic() < deadline:
        time.sleep(0.5)
        job = jobs.get_job(job.id)
    assert job.overall_status == "completed", job
    assert len(job.statuses) == 1005 and job.errors == []
    assert collections.get_document_count_for_collection(collection.id).count == 1005


def test_the_decline_threshold_is_configurable(fresh_server: ServerProcess) -> None:
    fresh_server.extra_env = {"PARLEY_DECLINE_THRESHOLD": "9"}  # above any confidence: everything declines
    api = client(fresh_server.start())
    collections, ingestion, chat = rest.CollectionsApi(api), rest.DocumentIngestionApi(api), rest.ChatApi(api)
    collection = collections.create_collection(rest.CollectionCreateRequest(name="Strict", description=""))
    upload = ingestion.upload_file(file=("notes.txt", b"The vault code is kept by the harbour master."))
    ingestion.ingest_upload([upload.id], collection_id=collection.id)
    session = chat.create_chat_session(collection_id=collection.id)
    answer = chat.get_completion(session.id, rest.ChatCompletionRequest(message="Who keeps the vault code?"))
    assert answer.body.startswith("Not found in the documents.")
    assert chat.get_message_references(answer.message_id)[0].document_name == "notes.txt"
