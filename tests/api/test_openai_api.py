"""The OpenAI-compatible API (``/v1``) with the real ``openai`` SDK and Haystack's ``OpenAIChatGenerator``
against the live server of the API tests: RAG completions with citations, streamed and not, a follow-up in the
returned session, the same session read through the h2oGPTe API, models, embeddings, search, and the SDK's
own exceptions for Parley's errors."""

from __future__ import annotations

import base64
from typing import Any

import h2ogpte.rest_sync as rest
import httpx
import numpy as np
import openai
import pytest
from haystack.components.generators.chat import OpenAIChatGenerator
from haystack.dataclasses import ChatMessage
from haystack.utils import Secret

from tests.api.keys import issue_key
from tests.api.test_h2ogpte_client import LIGHTHOUSE_PAGES, apis
from tests.documents import text_pdf
from tests.server import ADMIN_KEY, ServerProcess

QUESTION = "When was the Kestrel Point lighthouse decommissioned?"


@pytest.fixture(scope="module")
def client(server: ServerProcess) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.base_url}/v1", api_key=ADMIN_KEY, max_retries=0, timeout=120)


@pytest.fixture(scope="module")
def collection_id(api: rest.ApiClient) -> str:
    h2o = apis(api)
    collection = h2o["collections"].create_collection(rest.CollectionCreateRequest(name="OpenAI", description=""))
    upload = h2o["ingestion"].upload_file(file=("lighthouse.pdf", text_pdf(LIGHTHOUSE_PAGES)))
    h2o["ingestion"].ingest_upload([upload.id], collection_id=collection.id, timeout=120)
    return str(collection.id)


def rag(client: openai.OpenAI, collection_id: str, question: str = QUESTION, **extra: Any) -> Any:
    return client.chat.completions.create(
        model="parley-rag",
        messages=[{"role": "user", "content": question}],
        extra_body={"collection_id": collection_id, **extra},
    )


def test_a_rag_completion_cites_the_page(client: openai.OpenAI, collection_id: str) -> None:
    completion = rag(client, collection_id)
    choice = completion.choices[0]
    assert "1987" in (choice.message.content or "")
    assert choice.finish_reason == "stop" and choice.message.role == "assistant"
    text = choice.message.content or ""
    context = choice.metadata["relevant_docs"]  # type: ignore[attr-defined]
    (cited,) = [c for c in context if c["marker"] in text]  # the chunk the answer's marker names
    assert cited["document_name"] == "lighthouse.pdf" and 2 in cited["pages"], context
    assert "decommissioned in 1987" in cited["quote"]
    annotation = choice.message.annotations[context.index(cited)]  # type: ignore[index]
    assert annotation.type == "url_citation" and annotation.url_citation.title.startswith("lighthouse.pdf, page")
    assert text[annotation.url_citation.start_index : annotation.url_citation.end_index] == cited["marker"]
    assert completion.usage is not None and completion.usage.total_tokens > 0
    assert completion.session_id == choice.metadata["session_id"]  # type: ignore[attr-defined]


def test_a_streamed_completion_ends_with_its_citations(client: openai.OpenAI, collection_id: str) -> None:
    stream = client.chat.completions.create(
        model="parley-rag",
        messages=[{"role": "user", "content": QUESTION}],
        stream=True,
        stream_options={"include_usage": True},
        extra_body={"collection_id": collection_id},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == rag(client, collection_id).choices[0].message.content  # the same answer, streamed
    last = [c for c in chunks if c.choices][-1].choices[0]
    assert last.finish_reason == "stop"
    cited = [c for c in last.metadata["relevant_docs"] if c["marker"] in text]  # type: ignore[attr-defined]
    assert len(cited) == 1 and 2 in cited[0]["pages"] and "1987" in cited[0]["quote"]
    assert chunks[-1].choices == [] and chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0


def test_a_follow_up_in_the_returned_session_uses_its_history(
    client: openai.OpenAI, collection_id: str, api: rest.ApiClient
) -> None:
    first = rag(client, collection_id)
    session_id = first.session_id  # type: ignore[attr-defined]
    follow_up = client.chat.completions.create(
        model="parley-rag",
        messages=[
            {"role": "user", "content": QUESTION},
            {"role": "assistant", "content": first.choices[0].message.content},
            {"role": "user", "content": "Who was its last keeper?"},
        ],
        extra_body={"session_id": session_id},
    )
    assert "Tregarthen" in (follow_up.choices[0].message.content or "")
    chat = rest.ChatApi(api)
    messages = chat.get_chat_session_messages(session_id)
    assert [m.content for m in messages] == [
        QUESTION,
        first.choices[0].message.content,
        "Who was its last keeper?",
        follow_up.choices[0].message.content,
    ]
    assert messages[-1].id == follow_up.message_id  # type: ignore[attr-defined]
    (prompt,) = chat.get_message_meta(messages[-1].id, info_type="prompt_raw")
    assert QUESTION in prompt.content  # the earlier turn is in the model's prompt


def test_parleys_errors_are_the_sdks_exceptions(client: openai.OpenAI, server: ServerProcess) -> None:
    wrong = openai.OpenAI(base_url=f"{server.base_url}/v1", api_key="sk-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as unauthenticated:
        wrong.models.list()
    assert unauthenticated.value.body["type"] == "authentication_error"  # type: ignore[index]
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="gpt-nonexistent", messages=[{"role": "user", "content": "Hi?"}])
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(
            model="parley-rag", messages=[{"role": "user", "content": "Hi?"}], extra_body={"session_id": "nope"}
        )
    with pytest.raises(openai.BadRequestError, match="session_id"):  # history needs its recorded session
        client.chat.completions.create(
            model="extractive",
            messages=[{"role": "user", "content": "Hi?"}, {"role": "assistant", "content": "Hello."},
                      {"role": "user", "content": "And?"}],
        )  # fmt: skip
    with pytest.raises(openai.BadRequestError, match="collection"):
        client.chat.completions.create(model="parley-rag", messages=[{"role": "user", "content": "Hi?"}])
    with pytest.raises(openai.BadRequestError, match="temperature"):
        client.chat.completions.create(
            model="extractive", messages=[{"role": "user", "content": "Hi?"}], temperature=7.0
        )
    with pytest.raises(openai.BadRequestError):  # a field of the wrong type: Litestar's error, in OpenAI's shape
        client.chat.completions.create(model="extractive", messages="not a list")  # type: ignore[arg-type]


def test_models_list_the_rag_model_and_parleys_models(client: openai.OpenAI) -> None:
    names = [model.id for model in client.models.list()]
    assert names[0] == "parley-rag" and "extractive" in names
    assert client.models.retrieve("extractive").id == "extractive"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("gpt-nonexistent")


def test_embeddings_are_the_collections_embedder(client: openai.OpenAI) -> None:
    texts = ["The lighthouse was decommissioned.", "The beacon was switched off.", "Rye bread needs a starter."]
    result = client.embeddings.create(input=texts, model="all-MiniLM-L6-v2")
    vectors = np.array([item.embedding for item in result.data])
    assert vectors.shape == (3, 384) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]  # near in meaning, near in space
    assert result.usage.prompt_tokens > 0
    raw = client.embeddings.with_raw_response.create(input=texts[0], model="all-MiniLM-L6-v2", encoding_format="base64")
    packed = raw.http_response.json()["data"][0]["embedding"]
    assert np.allclose(np.frombuffer(base64.b64decode(packed), dtype="<f4"), vectors[0], atol=1e-6)
    with pytest.raises(openai.NotFoundError):
        client.embeddings.create(input="x", model="text-embedding-3-small")


def test_search_finds_the_chunk_an_answer_would_read(server: ServerProcess, collection_id: str) -> None:
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    with httpx.Client(base_url=f"{server.base_url}/v1", headers=headers, timeout=60) as http:
        body = {"collections": [collection_id], "prompt": QUESTION, "k": 3}
        found = http.post("/search", json=body)
        assert found.status_code == 200, found.text
        hits = found.json()["data"]
        assert len(hits) == 3 and 2 in hits[0]["chunk"]["metadata"]["pages"]
        assert "1987" in hits[0]["chunk"]["content"] and hits[0]["score"] >= hits[1]["score"]
        lexical = http.post("/search", json={**body, "method": "lexical"}).json()["data"]
        assert "1987" in lexical[0]["chunk"]["content"]
        missing = http.post("/search", json={**body, "collections": ["nope"]})
        assert missing.status_code == 404 and missing.json()["error"]["type"] == "not_found_error"
        assert http.post("/search", json={**body, "k": 0}).status_code == 400


def test_a_collection_scoped_key_chats_in_its_collection_only(
    server: ServerProcess, client: openai.OpenAI, collection_id: str
) -> None:
    secret = issue_key(server, "admin", collection_id=collection_id)  # the collection's owner, bound to it
    scout = openai.OpenAI(base_url=f"{server.base_url}/v1", api_key=secret, max_retries=0, timeout=120)
    assert "1987" in (rag(scout, collection_id).choices[0].message.content or "")
    with pytest.raises(openai.PermissionDeniedError):
        scout.chat.completions.create(model="extractive", messages=[{"role": "user", "content": "Hi?"}])
    for refused in (
        lambda: scout.embeddings.create(input="x", model="all-MiniLM-L6-v2"),
        lambda: scout.models.list(),
    ):
        with pytest.raises(openai.PermissionDeniedError):
            refused()


def test_haystacks_openai_generator_uses_parley_as_its_model(server: ServerProcess, collection_id: str) -> None:
    generator = OpenAIChatGenerator(
        api_key=Secret.from_token(ADMIN_KEY),
        model="parley-rag",
        api_base_url=f"{server.base_url}/v1",
        generation_kwargs={"extra_body": {"collection_id": collection_id}},
        max_retries=0,
    )
    (reply,) = generator.run(messages=[ChatMessage.from_user(QUESTION)])["replies"]
    assert "1987" in (reply.text or "")
