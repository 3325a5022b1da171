"""The published h2ogpte REST client (1.7.5), unchanged, against a live Parley server."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from typing import Any

import h2ogpte.rest_sync as rest
import pytest
from h2ogpte.rest_sync.exceptions import BadRequestException, NotFoundException

from tests.documents import text_pdf
from tests.server import ADMIN_KEY, ServerProcess

COAST = (
    "The coast path climbs over granite cliffs, past sheep pastures and old tin-mine chimneys. Walkers often "
    "stop at the stone stile to watch gannets dive into the sea, and fishing boats work the bay at dawn. "
)
LIGHTHOUSE_PAGES = [  # each page longer than one chunk, so citations can name a single page
    "Kestrel Point is a rocky headland on the northern coast. The headland is known for its colonies of "
    "puffins and for the strong tidal currents that run past it in spring. " + COAST * 4,
    "The Kestrel Point lighthouse was decommissioned in 1987, after an automatic beacon replaced it. "
    "Its last keeper, Morwenna Tregarthen, kept a logbook of every ship that passed. " + COAST * 4,
    "Today the keeper's cottage is a small museum. Visitors can climb the tower on summer weekends. " + COAST * 4,
]
RECIPE = b"To bake rye bread, mix rye flour, water, salt and a sourdough starter, then let it rise overnight."


def apis(api: rest.ApiClient) -> dict[str, Any]:
    return {
        "collections": rest.CollectionsApi(api),
        "ingestion": rest.DocumentIngestionApi(api),
        "documents": rest.DocumentsApi(api),
        "chat": rest.ChatApi(api),
        "jobs": rest.JobsApi(api),
        "models": rest.ModelsApi(api),
    }


def raw(server: ServerProcess, method: str, path: str, body: bytes | None = None, key: str | None = ADMIN_KEY,
        content_type: str = "application/json") -> tuple[int, dict[str, Any] | list[Any] | None]:  # fmt: skip
    request = urllib.request.Request(f"{server.api_url}{path}", data=body, method=method)
    if key is not None:
        request.add_header("Authorization", f"Bearer {key}")
    if body is not None:
        request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            payload = response.read()
            return response.status, json.loads(payload) if payload else None
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def test_end_to_end_ingest_ask_and_cite(api: rest.ApiClient) -> None:
    a = apis(api)
    created = a["collections"].create_collection_with_http_info(
        rest.CollectionCreateRequest(name="Lighthouses", description="coastal history")
    )
    assert created.status_code == 201 and isinstance(created.data, rest.Collection)
    collection = created.data
    assert collection.document_count == 0 and collection.embedding_model == "all-MiniLM-L6-v2"

    pdf = a["ingestion"].upload_file_with_http_info(file=("kestrel.pdf", text_pdf(LIGHTHOUSE_PAGES)))
    assert pdf.status_code == 200 and isinstance(pdf.data, rest.UploadedFile)
    assert pdf.data.filename == "kestrel.pdf"
    txt = a["ingestion"].upload_file(file=("rye.txt", RECIPE))

    ingested = a["ingestion"].ingest_upload_with_http_info(
        [pdf.data.id, txt.id], collection_id=collection.id, timeout=120
    )
    assert ingested.status_code == 204 and ingested.data is None

    # Read-your-writes: the ingest returned, so the documents are listed, counted and searchable now.
    documents = a["collections"].list_documents_for_collection(collection.id)
    assert sorted(d.name for d in documents) == ["kestrel.pdf", "rye.txt"]
    assert all(isinstance(d, rest.Document) and d.status == "completed" for d in documents)
    by_name = {d.name: d for d in documents}
    assert by_name["kestrel.pdf"].page_count == 3 and by_name["rye.txt"].page_count == 1
    assert a["collections"].get_document_count_for_collection(collection.id).count == 2
    assert a["collections"].get_collection(collection.id).document_count == 2
    assert a["documents"].get_document(by_name["kestrel.pdf"].id).type == "pdf"

    session = a["chat"].create_chat_session_with_http_info(collection_id=collection.id)
    assert session.status_code == 201 and isinstance(session.data, rest.ChatSession)
    assert session.data.collection_id == collection.id

    completion = a["chat"].get_completion_with_http_info(
        session.data.id,
        rest.ChatCompletionRequest(message="When was the Kestrel Point lighthouse decommissioned?"),
    )
    assert completion.status_code == 200 and isinstance(completion.data, rest.ChatCompletion)
    answer = completion.data
    assert "1987" in answer.body and "[" in answer.body, answer.body
    assert not answer.body.startswith("Not found in the documents.")

    messages = a["chat"].get_chat_session_messages(session.data.id)
    assert [m.content for m in messages] == ["When was the Kestrel Point lighthouse decommissioned?", answer.body]
    question, reply = messages
    assert reply.id == answer.message_id and reply.reply_to == question.id and question.reply_to is None
    assert reply.has_references and reply.total_references >= 1

    references = a["chat"].get_message_references(answer.message_id)
    assert references and all(isinstance(r, rest.ChatMessageReference) for r in references)
    scores = [r.score for r in references]
    assert scores == sorted(scores, reverse=True)
    assert any(r.document_name == "kestrel.pdf" and r.pages == "2" for r in references)
    assert all(isinstance(r.chunk_id, int) for r in references)
    top = references[0]
    assert top.document_name == "kestrel.pdf" and "1987" in (top.content or "")

    meta = a["chat"].get_message_meta(answer.message_id, info_type="usage_stats")
    usage = json.loads(meta[0].content)
    assert meta[0].message_type == "usage_stats"
    assert usage["llm"] == "extractive" and usage["rag_type"] == "rag" and usage["llm_calls"] == 1
    prompt = a["chat"].get_message_meta(answer.message_id, info_type="prompt_raw")[0].content
    assert "decommissioned in 1987" in prompt and "When was the Kestrel Point" in prompt
    # The client's default prompt strings (with their stray backslashes) mean "use the default".
    assert "\\\\n" not in prompt

    renamed = a["chat"].update_chat_session(session.data.id, rest.ChatSessionUpdateRequest(name="Kestrel"))
    assert renamed.name == "Kestrel"
    assert a["chat"].get_chat_session(session.data.id).latest_message_content == answer.body
    assert any(s.id == session.data.id for s in a["collections"].list_chat_sessions_for_collection(collection.id))
    assert a["chat"].get_chat_session_count().count >= 1

    # delete_chat_session maps 204 to a model in the 1.7.5 spec, so read the raw status.
    deleted = a["chat"].delete_chat_session_without_preload_content(session.data.id)
    assert deleted.status == 204
    with pytest.raises(NotFoundException):
        a["chat"].get_chat_session(session.data.id)


def test_llm_only_declines_without_references(api: rest.ApiClient) -> None:
    a = apis(api)
    session = a["chat"].create_chat_session()
    answer = a["chat"].get_completion(session.id, rest.ChatCompletionRequest(message="What is the capital of France?"))
    assert answer.body.startswith("Not found in the documents.")
    assert a["chat"].get_message_references(answer.message_id) == []
    usage = json.loads(a["chat"].get_message_meta(answer.message_id, info_type="usage_stats")[0].content)
    assert usage["rag_type"] == "llm_only"


def test_an_unsupported_question_declines_but_still_cites_context(api: rest.ApiClient) -> None:
    a = apis(api)
    collection = a["collections"].create_collection(rest.CollectionCreateRequest(name="Bread", description=""))
    upload = a["ingestion"].upload_file(file=("rye.txt", RECIPE))
    a["ingestion"].ingest_upload([upload.id], collection_id=collection.id)
    session = a["chat"].create_chat_session(collection_id=collection.id)
    answer = a["chat"].get_completion(
        session.id, rest.ChatCompletionRequest(message="Who won the football world cup in 1966?")
    )
    assert answer.body.startswith("Not found in the documents."), answer.body
    assert a["chat"].get_message_references(answer.message_id)[0].document_name == "rye.txt"


def test_collections_crud_settings_and_paging(api: rest.ApiClient) -> None:
    a = apis(api)
    collections = a["collections"]
    names = [f"paging-{i}" for i in range(3)]
    ids = [collections.create_collection(rest.CollectionCreateRequest(name=n, description="p")).id for n in names]
    page = collections.list_collections(offset=0, limit=2, sort_column="name", ascending=True)
    assert len(page) == 2 and [c.name for c in page] == sorted(c.name for c in page)
    assert collections.get_collection_count().count >= 3

    updated = collections.update_collection(ids[0], rest.CollectionUpdateRequest(name="renamed", rag_type="llm_only"))
    assert (updated.name, updated.rag_type) == ("renamed", "llm_only")

    settings = rest.CollectionSettings(max_tokens_per_chunk=128, chunk_overlap_tokens=16, chunk_by_page=True)
    replaced = collections.update_collection_settings_with_http_info(ids[0], settings)
    assert replaced.status_code == 204
    read = collections.get_collection_settings(ids[0])
    assert (read.max_tokens_per_chunk, read.chunk_overlap_tokens, read.chunk_by_page) == (128, 16, True)

    assert collections.delete_collection_with_http_info(ids[1]).status_code == 204
    with pytest.raises(NotFoundException):
        collections.get_collection(ids[1])


def test_models_are_listed_honestly(api: rest.ApiClient) -> None:
    models = apis(api)["models"].list_models()
    extractive = next(m for m in models if m.id == "extractive")
    assert "generates no text" in extractive.additional_properties["description"]


def test_job_reports_completed_only_when_searchable(api: rest.ApiClient) -> None:
    a = apis(api)
    collection = a["collections"].create_collection(rest.CollectionCreateRequest(name="Jobs", description=""))
    upload = a["ingestion"].upload_file(file=("kestrel.pdf", text_pdf(LIGHTHOUSE_PAGES)))
    job = a["ingestion"].create_ingest_upload_job_with_http_info([upload.id], collection_id=collection.id)
    assert job.status_code == 201 and isinstance(job.data, rest.JobDetails)
    status = job.data
    while status.overall_status == "in progress":
        assert status.progress < 1.0
        status = a["jobs"].get_job(status.id)
    assert status.overall_status == "completed" and status.progress == 1.0 and status.errors == []
    assert [s.status for s in status.statuses] == ["completed"]
    session = a["chat"].create_chat_session(collection_id=collection.id)
    answer = a["chat"].get_completion(session.id, rest.ChatCompletionRequest(message="Who was the last keeper?"))
    assert "Morwenna" in answer.body


def test_two_concurrent_questions_in_one_session(api: rest.ApiClient) -> None:
    a = apis(api)
    collection = a["collections"].create_collection(rest.CollectionCreateRequest(name="Concurrent", description=""))
    upload = a["ingestion"].upload_file(file=("kestrel.pdf", text_pdf(LIGHTHOUSE_PAGES)))
    a["ingestion"].ingest_upload([upload.id], collection_id=collection.id)
    session = a["chat"].create_chat_session(collection_id=collection.id)
    questions = ["Who was the last keeper?", "When was the lighthouse decommissioned?"]
    answers: dict[str, str] = {}

    def ask(question: str) -> None:
        answers[question] = a["chat"].get_completion(session.id, rest.ChatCompletionRequest(message=question)).body

    threads = [threading.Thread(target=ask, args=(q,)) for q in questions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert set(answers) == set(questions)
    messages = a["chat"].get_chat_session_messages(session.id)
    assert len(messages) == 4
    asked = {m.id: m.content for m in messages if m.reply_to is None}
    assert sorted(asked.values()) == sorted(questions)
    seen: set[str] = set()
    for message in messages:  # oldest first: every answer follows its own question
        if message.reply_to is not None:
            assert message.reply_to in seen
            assert message.content == answers[asked[message.reply_to]]
        seen.add(message.id)


def test_a_corrupt_pdf_fails_with_a_reason_and_no_chunks(api: rest.ApiClient, server: ServerProcess) -> None:
    a = apis(api)
    collection = a["collections"].create_collection(rest.CollectionCreateRequest(name="Broken", description=""))
    good = a["ingestion"].upload_file(file=("rye.txt", RECIPE))
    broken = a["ingestion"].upload_file(file=("broken.pdf", text_pdf(LIGHTHOUSE_PAGES)[:300]))
    job = a["ingestion"].create_ingest_upload_job([good.id, broken.id], collection_id=collection.id)
    while job.overall_status == "in progress":
        job = a["jobs"].get_job(job.id)
    assert job.overall_status == "completed"
    assert len(job.errors) == 1 and job.errors[0].startswith("broken.pdf: ") and "corrupt" in job.errors[0]
    assert [d.name for d in a["collections"].list_documents_for_collection(collection.id)] == ["rye.txt"]
    failed = [d for d in a["documents"].list_documents(limit=1000) if d.name == "broken.pdf"]
    assert failed and failed[0].status == "failed" and failed[0].page_count == 0
    status, body = raw(server, "GET", f"/documents/{failed[0].id}")  # the reason, beyond the client's model
    assert status == 200 and isinstance(body, dict) and "corrupt" in body["error"]


def test_error_statuses_and_bodies(server: ServerProcess) -> None:
    status, body = raw(server, "GET", "/collections/no-such-collection")
    assert status == 404 and isinstance(body, dict) and body["code"] == 404 and "not found" in body["message"]
    status, body = raw(server, "POST", "/collections", b'{"name": "x", "description": ')
    assert status == 400 and isinstance(body, dict) and body["code"] == 400
    status, body = raw(server, "POST", "/collections", b'{"name": 5, "description": "x"}')
    assert status == 400 and isinstance(body, dict) and "name" in body["message"]
    status, body = raw(server, "GET", "/collections", key=None)
    assert status == 401 and isinstance(body, dict) and body["code"] == 401
    status, body = raw(server, "GET", "/collections", key="sk-wrong")
    assert status == 401
    status, body = raw(server, "POST", "/chats?collection_id=missing", b"")
    assert status == 404
    status, body = raw(server, "POST", "/uploads/missing-upload/ingest?collection_id=missing", b"")
    assert status == 404


def test_the_client_maps_errors_to_its_exceptions(api: rest.ApiClient) -> None:
    a = apis(api)
    with pytest.raises(NotFoundException) as caught:
        a["collections"].get_collection("does-not-exist")
    assert json.loads(caught.value.body)["code"] == 404
    session = a["chat"].create_chat_session()
    with pytest.raises(BadRequestException):
        a["chat"].get_completion(session.id, rest.ChatCompletionRequest(message="x", rag_config={"rag_type": "magic"}))
    assert a["chat"].get_chat_session_messages(session.id) == []  # a refused question leaves no trace


def test_openapi_is_public(server: ServerProcess) -> None:
    with urllib.request.urlopen(f"{server.base_url}/schema/openapi.json", timeout=10) as response:
        spec = json.loads(response.read())
    assert "/api/v1/chats/{session_id}/completions" in spec["paths"]
    operation = spec["paths"]["/api/v1/collections"]["post"]
    assert operation["operationId"] == "create_collection" and "201" in operation["responses"]
    with urllib.request.urlopen(f"{server.base_url}/schema", timeout=10) as response:
        assert response.status == 200
