"""Document summaries and suggested questions at ingestion, with the built-in extractive model."""

from __future__ import annotations

import json

import h2ogpte.rest_sync as rest
import pytest
from h2ogpte.rest_sync.exceptions import BadRequestException

from tests.api.test_h2ogpte_client import LIGHTHOUSE_PAGES, apis, raw
from tests.documents import text_pdf
from tests.server import ServerProcess


def test_extractive_summaries_are_written_at_ingestion(api: rest.ApiClient) -> None:
    a = apis(api)
    collection = a["collections"].create_collection(rest.CollectionCreateRequest(name="Summaries", description=""))
    upload = a["ingestion"].upload_file(file=("kestrel.pdf", text_pdf(LIGHTHOUSE_PAGES)))
    a["ingestion"].ingest_upload([upload.id], collection_id=collection.id, gen_doc_summaries=True, timeout=120)
    (listed,) = a["collections"].list_documents_for_collection(collection.id)
    document = a["documents"].get_document(listed.id)
    assert document.summary and all(line.startswith("- ") for line in document.summary.splitlines())
    # Extractive: every line is a sentence of the document, without citation markers.
    text = " ".join(" ".join(LIGHTHOUSE_PAGES).split())
    assert all(line[2:] in text for line in document.summary.splitlines()), document.summary
    assert json.loads(document.summary_parameters) == {"llm": "extractive"}
    with_summaries = {d.id: d for d in a["documents"].list_documents(with_summaries=True)}
    without = {d.id: d for d in a["documents"].list_documents()}
    assert with_summaries[listed.id].summary == document.summary and without[listed.id].summary is None
    assert a["collections"].list_questions_for_collection(collection.id) == []


def test_question_generation_needs_a_model_that_writes(api: rest.ApiClient) -> None:
    a = apis(api)
    collection = a["collections"].create_collection(rest.CollectionCreateRequest(name="Questions", description=""))
    upload = a["ingestion"].upload_file(file=("kestrel.pdf", text_pdf(LIGHTHOUSE_PAGES)))
    with pytest.raises(BadRequestException) as raised:
        a["ingestion"].ingest_upload([upload.id], collection_id=collection.id, gen_doc_questions=True)
    message = json.loads(raised.value.body)["message"]
    assert "gen_doc_questions needs a model that writes text" in message and "'extractive'" in message
    assert a["collections"].list_documents_for_collection(collection.id) == []  # nothing was ingested
    session = a["chat"].create_chat_session(collection_id=collection.id)
    assert a["chat"].list_questions_for_chat_session(session.id) == []


def test_ingest_options_from_the_query_string_are_typed(api: rest.ApiClient, server: ServerProcess) -> None:
    a = apis(api)
    collection = a["collections"].create_collection(rest.CollectionCreateRequest(name="Typed", description=""))
    upload = a["ingestion"].upload_file(file=("kestrel.pdf", text_pdf(LIGHTHOUSE_PAGES)))
    status, body = raw(server, "POST", f"/uploads/{upload.id}/ingest?collection_id={collection.id}"
                       "&max_tokens_per_chunk=abc")  # fmt: skip
    assert status == 400 and isinstance(body, dict) and "max_tokens_per_chunk" in body["message"]
    # "0" is false: no summary is written (and "0" for questions is no request for them).
    status, _ = raw(server, "POST", f"/uploads/{upload.id}/ingest?collection_id={collection.id}"
                    "&gen_doc_summaries=0&gen_doc_questions=0")  # fmt: skip
    assert status == 204
    (document,) = a["collections"].list_documents_for_collection(collection.id)
    assert a["documents"].get_document(document.id).summary is None
