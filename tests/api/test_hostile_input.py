"""A hostile client's probes, each answered with its status and the contract's error body, before any work, and
with nothing stored: deep JSON, huge paging values, oversized bodies and questions, wrong media types, unsafe file
names, bad chat settings; and the OpenAPI document describing every status an operation sends."""

from __future__ import annotations

from collections.abc import Iterator

import h2ogpte.rest_sync as rest
import httpx
import pytest

from tests.server import ADMIN_KEY, ServerProcess

AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}
DEEP = "[" * 10_000 + "]" * 10_000
HUGE = 2**63
LIGHTHOUSE = b"The Kestrel Point lighthouse was built in 1871 and its lamp burns paraffin oil."


@pytest.fixture(scope="module")
def http(server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.api_url, headers=AUTH, timeout=60) as client:
        yield client


def expect_error(response: httpx.Response, status: int, says: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"code", "message", "error_type"} and body["code"] == status
    assert says in body["message"], body["message"]


def post_json(http: httpx.Client, path: str, raw: str, **params: object) -> httpx.Response:
    return http.post(path, content=raw, params=params, headers={"Content-Type": "application/json"})


@pytest.fixture(scope="module")
def lighthouse(http: httpx.Client) -> dict[str, str]:
    """A collection with one small document, and a chat session on it."""
    collection = http.post("/collections", json={"name": "Lighthouses", "description": ""}).json()["id"]
    upload = http.put("/uploads", files={"file": ("kestrel.txt", LIGHTHOUSE)}).json()["id"]
    assert http.post(f"/uploads/{upload}/ingest", params={"collection_id": collection}).status_code == 204
    session = http.post("/chats", params={"collection_id": collection}).json()["id"]
    return {"collection": collection, "upload": upload, "session": session}


def blob_files(server: ServerProcess) -> int:
    return sum(1 for path in (server.data_dir / "blobs").rglob("*") if path.is_file())


# --- JSON nested 10,000 deep -----------------------------------------------------------------------------------


def test_deep_json_is_refused_before_it_is_decoded(http: httpx.Client, lighthouse: dict[str, str]) -> None:
    expect_error(post_json(http, "/collections", DEEP), 400, "nests deeper than 32 levels")
    session, upload = lighthouse["session"], lighthouse["upload"]
    for field in ("tags", "rag_config"):
        body = f'{{"message": "When was it built?", "{field}": {DEEP}}}'
        expect_error(post_json(http, f"/chats/{session}/completions", body), 400, "nests deeper")
    body = f'{{"metadata": {{"deep": {DEEP}}}}}'
    path = f"/uploads/{upload}/ingest"
    expect_error(post_json(http, path, body, collection_id=lighthouse["collection"]), 400, "nests deeper")
    # Brackets inside strings are text, not nesting.
    assert post_json(http, "/collections", '{"name": "[[[[", "description": "' + "{" * 100 + '"}').status_code == 201


# --- huge offset and limit -------------------------------------------------------------------------------------


def test_huge_paging_values_are_a_400_or_capped(http: httpx.Client, lighthouse: dict[str, str]) -> None:
    collection, session = lighthouse["collection"], lighthouse["session"]
    listings = [
        "/collections",
        "/documents",
        "/chats",
        f"/collections/{collection}/documents",
        f"/collections/{collection}/chats",
        f"/chats/{session}/messages",
    ]
    for path in listings:
        expect_error(http.get(path, params={"offset": HUGE}), 400, "offset")
        expect_error(http.get(path, params={"offset": -1}), 400, "offset")
        assert http.get(path, params={"offset": 1_000_000_000}).json() == []
        assert http.get(path, params={"limit": HUGE}).status_code == 200
    answer = http.post(f"/chats/{session}/completions", json={"message": "When was the lighthouse built?"}).json()
    references = http.get(f"/messages/{answer['message_id']}/references", params={"limit": HUGE})
    assert references.status_code == 200 and references.json()


# --- limits at the door ----------------------------------------------------------------------------------------


def test_oversized_bodies_and_questions_are_refused_before_any_work(
    http: httpx.Client, lighthouse: dict[str, str]
) -> None:
    session = lighthouse["session"]
    huge = '{"message": "' + "a" * 20_000_000 + '"}'
    expect_error(post_json(http, f"/chats/{session}/completions", huge), 413, "larger than 1024 KiB")
    expect_error(post_json(http, "/collections", huge), 413, "larger than 1024 KiB")
    long_question = {"message": "why " * 25_001}
    expect_error(http.post(f"/chats/{session}/completions", json=long_question), 400, "length <= 100000")
    messages = http.get(f"/chats/{session}/messages").json()
    assert all(not message["content"].startswith("why why") for message in messages)


def test_json_must_come_as_json(http: httpx.Client, lighthouse: dict[str, str]) -> None:
    body = '{"name": "typed", "description": ""}'
    for media in ("text/plain", "application/x-www-form-urlencoded"):
        response = http.post("/collections", content=body, headers={"Content-Type": media})
        expect_error(response, 415, "must be application/json")
    response = http.put("/uploads", content=b"plain bytes", headers={"Content-Type": "text/plain"})
    expect_error(response, 415, "multipart/form-data")
    # The h2ogpte client's empty optional body with a JSON content type is no body at all.
    path = f"/uploads/{lighthouse['upload']}/ingest"
    assert post_json(http, path, "", collection_id=lighthouse["collection"]).status_code == 204


# --- uploads ---------------------------------------------------------------------------------------------------


def test_a_refused_upload_stores_no_bytes(http: httpx.Client, server: ServerProcess) -> None:
    before = blob_files(server)
    for name in ("../x.txt", "a/b.txt", "..", "n" * 256):
        response = http.put("/uploads", files={"file": (name, b"bytes nobody may keep " + name.encode())})
        expect_error(response, 400, "file name")
    assert blob_files(server) == before


def test_a_quote_in_a_file_name_is_kept(http: httpx.Client) -> None:
    # httpx escapes it as %22, curl as \", a hand-made client not at all: each keeps the whole name.
    assert http.put("/uploads", files={"file": ('say "hi".txt', b"hi")}).json()["filename"] == 'say "hi".txt'
    boundary = "parleyboundary"
    raw = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a"b.txt"\r\n'
        f"Content-Type: text/plain\r\n\r\nhello\r\n--{boundary}--\r\n"
    ).encode()
    response = http.put("/uploads", content=raw, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert response.status_code == 200 and response.json()["filename"] == 'a"b.txt'


def test_ingesting_an_upload_twice_into_a_collection_makes_one_document(
    http: httpx.Client, lighthouse: dict[str, str]
) -> None:
    collection, upload = lighthouse["collection"], lighthouse["upload"]
    documents = http.get(f"/collections/{collection}/documents").json()
    assert http.post(f"/uploads/{upload}/ingest", params={"collection_id": collection}).status_code == 204
    job = http.post(f"/uploads/{upload}/ingest/job", params={"collection_id": collection}).json()
    while job["overall_status"] == "in progress":
        job = http.get(f"/jobs/{job['id']}").json()
    assert job["overall_status"] == "completed"
    assert http.get(f"/collections/{collection}/documents").json() == documents
    # Into another collection the same upload is a document of that collection.
    other = http.post("/collections", json={"name": "Elsewhere", "description": ""}).json()["id"]
    assert http.post(f"/uploads/{upload}/ingest", params={"collection_id": other}).status_code == 204
    assert len(http.get(f"/collections/{other}/documents").json()) == 1


# --- chat settings ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("chat_settings", "says"),
    [
        ({"llm_args": {"bogus": 1}}, "unknown keys: bogus"),
        ({"llm": "nope"}, "unknown llm 'nope'"),
        ({"rag_config": {"rag_max_chunks": "ten"}}, "rag_max_chunks must be an integer"),
        ({"rag_config": {"rag_type": "telepathy"}}, "rag_type must be one of"),
        ({"include_chat_history": "maybe"}, "include_chat_history must be"),
        ({"self_reflection_config": {"llm_reflection": "nope"}}, "unknown llm 'nope'"),
        ({"self_reflection_config": {"prompt_reflection": "no placeholders"}}, "%s"),
    ],
)
def test_bad_chat_settings_are_refused_where_they_are_set(
    http: httpx.Client, chat_settings: dict[str, object], says: str
) -> None:
    count = http.get("/collections/count").json()["count"]
    response = http.post("/collections", json={"name": "bad", "description": "", "chat_settings": chat_settings})
    expect_error(response, 400, says)
    assert http.get("/collections/count").json()["count"] == count


def test_auto_means_the_default_model_wherever_a_model_is_named(http: httpx.Client) -> None:
    settings = {"llm": "auto", "self_reflection_config": {"llm_reflection": "auto"}}
    created = http.post("/collections", json={"name": "auto", "description": "", "chat_settings": settings})
    assert created.status_code == 201, created.text
    session = http.post("/chats", params={"collection_id": created.json()["id"]}).json()["id"]
    reflection = {"llm_reflection": "auto"}
    answer = http.post(f"/chats/{session}/completions", json={"message": "Hi?", "self_reflection_config": reflection})
    assert answer.status_code == 200, answer.text


def test_a_min_chunk_score_above_every_score_says_so(http: httpx.Client, lighthouse: dict[str, str]) -> None:
    # Fused scores lie in 0..1, the best chunk's at or near 1: above that, no chunk can pass.
    request = {"message": "When was the lighthouse built?", "rag_config": {"rag_min_chunk_score": 1.01}}
    answer = http.post(f"/chats/{lighthouse['session']}/completions", json=request).json()["body"]
    assert answer.startswith("Not found in the documents.")
    assert "no chunk scored at least rag_min_chunk_score=1.01 (the best scored" in answer


# --- the OpenAPI document --------------------------------------------------------------------------------------


def test_the_openapi_document_describes_every_response(server: ServerProcess) -> None:
    document = httpx.get(f"{server.base_url}/schema/openapi.json").json()
    error_body = document["components"]["schemas"]["ErrorBody"]
    assert set(error_body["properties"]) == {"code", "message", "error_type"}
    operations = {op["operationId"]: op for path in document["paths"].values() for op in path.values()}
    assert len(operations) >= 34
    for name, operation in operations.items():
        responses = operation["responses"]
        path = next(p for p, ops in document["paths"].items() if operation in ops.values())
        body = "OpenAIError" if path.startswith("/v1/") else "ErrorBody"  # the OpenAI API answers in its own shape
        for status in ("400", "401", "500"):
            schema = responses[status]["content"]["application/json"]["schema"]
            assert schema == {"$ref": f"#/components/schemas/{body}"}, (name, status)
        if "{" in path:
            assert "404" in responses, name
    completion = operations["get_completion"]["responses"]
    assert set(completion["200"]["content"]) == {"application/json", "application/jsonl"}
    assert {"403", "404", "413", "415", "503"} <= set(completion)
    assert {"413", "415"} <= set(operations["create_collection"]["responses"])
    openai_completion = operations["openai_chat_completions"]["responses"]["200"]["content"]
    assert set(openai_completion) == {"application/json", "text/event-stream"}


def test_the_h2ogpte_client_still_reads_the_errors(api: rest.ApiClient) -> None:
    from h2ogpte.rest_sync.exceptions import BadRequestException

    with pytest.raises(BadRequestException) as raised:
        rest.CollectionsApi(api).list_collections(offset=1_000_000_001)
    assert "offset" in str(raised.value.body)
