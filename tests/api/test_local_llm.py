"""The generative paths with a real model: SmolLM2-135M-Instruct on llama.cpp's OpenAI-compatible server (the
session's ``local_llm`` fixture), behind a real ``parley serve``, through the h2ogpte client.

The test peer (test_llm_backends.py) checks the wire format and every failure; these check what a real model's
replies do to each path: shapes, references, call counts, streamed pieces, recorded events. A 135M model's
wording is not asserted. Prompts and replies are kept short (a 512-token budget, ``max_new_tokens`` small), so
each call takes well under a second on two threads.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h2ogpte.rest_sync as rest
import pytest

from adapters.local_llm import MODEL, LlamaCppServer
from tests.api.test_h2ogpte_client import COAST, RECIPE, apis
from tests.documents import text_pdf
from tests.server import ADMIN_KEY, ServerProcess

QUESTION = "When was the Kestrel Point lighthouse decommissioned?"
SHORT = {"max_new_tokens": 48, "temperature": 0.0, "seed": 1}
ORCHARD = b"The Penhallow orchard grows forty varieties of cider apple. The fruit is pressed in October."
KESTREL_PAGES = [  # one chunk a page, about 130 tokens each
    "Kestrel Point is a rocky headland on the northern coast, known for its puffins and tidal currents. " + COAST * 2,
    "The Kestrel Point lighthouse was decommissioned in 1987, after an automatic beacon replaced it. Its last "
    "keeper, Morwenna Tregarthen, kept a logbook of every ship that passed. " + COAST * 2,
    "Today the keeper's cottage is a small museum. Visitors can climb the tower on summer weekends. " + COAST * 2,
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, local_llm: LlamaCppServer) -> Iterator[ServerProcess]:
    env = {
        "PARLEY_LLM_BASE_URL": local_llm.base_url,
        "PARLEY_LLM_MODELS": MODEL,
        "PARLEY_LLM_CONTEXT_SIZE": "512",  # small: three short documents need map-reduce, replies stay short
        "PARLEY_LLM_TIMEOUT_S": "60",
        "PARLEY_LLM_DEFAULT": MODEL,
    }
    process = ServerProcess(tmp_path_factory.mktemp("parley-local") / "data", env).start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def a(server: ServerProcess) -> dict[str, Any]:
    return apis(rest.ApiClient(rest.Configuration(host=server.api_url, access_token=ADMIN_KEY)))


@pytest.fixture(scope="module")
def collection(a: dict[str, Any]) -> str:
    created = a["collections"].create_collection(rest.CollectionCreateRequest(name="Kestrel", description=""))
    uploads = [
        a["ingestion"].upload_file(file=("kestrel.pdf", text_pdf(KESTREL_PAGES))),
        a["ingestion"].upload_file(file=("rye.txt", RECIPE)),
        a["ingestion"].upload_file(file=("orchard.txt", ORCHARD)),
    ]
    a["ingestion"].ingest_upload([u.id for u in uploads], collection_id=created.id, timeout=120)
    return str(created.id)


def ask(a: dict[str, Any], collection: str, message: str = QUESTION, **fields: Any) -> tuple[str, rest.ChatCompletion]:
    session = a["chat"].create_chat_session(collection_id=collection)
    fields.setdefault("llm_args", SHORT)
    return session.id, a["chat"].get_completion(session.id, rest.ChatCompletionRequest(message=message, **fields))


def usage_of(a: dict[str, Any], message_id: str) -> dict[str, Any]:
    return dict(json.loads(a["chat"].get_message_meta(message_id, info_type="usage_stats")[0].content))


def meta_of(a: dict[str, Any], message_id: str) -> dict[str, str]:
    return {meta.message_type: meta.content for meta in a["chat"].get_message_meta(message_id)}


def test_the_model_is_listed_and_answers_from_the_context(a: dict[str, Any], collection: str) -> None:
    models = {m.id: m.additional_properties for m in a["models"].list_models()}
    assert models[MODEL]["generates_text"] and models[MODEL]["default"] and models[MODEL]["context_size"] == 512
    session, answer = ask(a, collection)
    assert answer.body.strip()
    references = a["chat"].get_message_references(answer.message_id)
    assert any(r.document_name == "kestrel.pdf" and r.pages == "2" for r in references)
    usage = usage_of(a, answer.message_id)
    # The server's own token counts; the reply stopped within max_new_tokens.
    assert usage["llm"] == MODEL and usage["llm_calls"] == 1 and 0 < usage["output_tokens"] <= 48
    prompt = meta_of(a, answer.message_id)["prompt_raw"]
    assert "decommissioned in 1987" in prompt and QUESTION in prompt
    question, reply = a["chat"].get_chat_session_messages(session)  # the AnswerGenerated event, as recorded
    assert question.content == QUESTION and reply.reply_to == question.id and reply.id == answer.message_id
    assert reply.content == answer.body and json.loads(reply.llm_args) == SHORT and reply.error is None


def test_streamed_pieces_add_up_to_the_recorded_answer(a: dict[str, Any], collection: str) -> None:
    chat = a["chat"]
    session = chat.create_chat_session(collection_id=collection)
    response = chat.get_completion_without_preload_content(
        session.id,
        rest.ChatCompletionRequest(message=QUESTION, llm_args=SHORT),
        _headers={"Accept": "application/jsonl"},
    )
    assert response.status == 200 and response.headers["content-type"].startswith("application/jsonl")
    lines = [json.loads(line) for line in response.data.decode().splitlines() if line.strip()]
    deltas, last = lines[:-1], lines[-1]
    assert len(deltas) >= 2 and all(not d["finished"] and "message_id" not in d for d in deltas)  # token by token
    assert "".join(d["body"] for d in deltas) == last["body"] and last["body"].strip() and last["finished"]
    reply = chat.get_chat_session_messages(session.id)[-1]
    assert reply.id == last["message_id"] and reply.content == last["body"]


def test_hyde_first_pass_is_written_by_the_model(a: dict[str, Any], collection: str) -> None:
    _, answer = ask(a, collection, rag_config={"rag_type": "hyde1"})
    meta = meta_of(a, answer.message_id)
    # A hypothetical answer of the model's own, not the extractive model's pseudo-relevance feedback.
    assert meta["hyde1"] == meta["llm_only"] and meta["hyde1"].strip()
    assert not meta["hyde1"].startswith("Pseudo-relevance")
    assert usage_of(a, answer.message_id)["llm_calls"] == 2 and answer.body.strip()
    # The second retrieval searched with the question and the first pass, and still finds the page.
    references = a["chat"].get_message_references(answer.message_id)
    assert any(r.document_name == "kestrel.pdf" and r.pages == "2" for r in references)


@pytest.mark.parametrize("mode", ["rag+", "all_data"])
def test_map_reduce_over_more_than_the_context_holds(a: dict[str, Any], collection: str, mode: str) -> None:
    _, answer = ask(a, collection, "Summarize the documents.", rag_config={"rag_type": mode})
    usage = usage_of(a, answer.message_id)
    # The chunks do not fit one 512-token call: maps, then a reduce over their partial summaries.
    assert usage["rag_type"] == mode and usage["llm_calls"] >= 3, usage
    references = a["chat"].get_message_references(answer.message_id)
    assert {"kestrel.pdf", "rye.txt", "orchard.txt"} <= {r.document_name for r in references}
    assert answer.body.strip()
    prompt = meta_of(a, answer.message_id)["prompt_raw"]  # the reduce call's: it reads partial summaries
    assert "partial summary 1 of" in prompt and "Summarize the documents." in prompt


def test_self_reflection_is_judged_by_the_model(a: dict[str, Any], collection: str) -> None:
    reflection = {"llm_reflection": MODEL, "llm_args_reflection": json.dumps(SHORT)}
    _, answer = ask(a, collection, llm="extractive", llm_args={}, self_reflection_config=reflection)
    assert "1987" in answer.body  # the extractive model answers; the real model judges
    verdict = meta_of(a, answer.message_id)["self_reflection"]
    assert verdict.strip() and not verdict.startswith("Self-reflection failed")
    usage = usage_of(a, answer.message_id)
    assert usage["llm_calls"] == 2 and usage["answer_llm_calls"] == 1


def test_summaries_and_questions_are_written_at_ingestion(a: dict[str, Any]) -> None:
    created = a["collections"].create_collection(rest.CollectionCreateRequest(
        name="Written", description="", chat_settings=rest.ChatSettings(llm=MODEL)))  # fmt: skip
    upload = a["ingestion"].upload_file(file=("kestrel.pdf", text_pdf(KESTREL_PAGES)))
    a["ingestion"].ingest_upload([upload.id], collection_id=created.id, gen_doc_summaries=True,
                                 gen_doc_questions=True, timeout=120)  # fmt: skip
    (listed,) = a["collections"].list_documents_for_collection(created.id)
    document = a["documents"].get_document(listed.id)
    assert document.summary and document.summary.strip() and not re.search(r"\[\d+\]", document.summary)
    assert json.loads(document.summary_parameters)["llm"] == MODEL
    questions = [q.question for q in a["collections"].list_questions_for_collection(created.id)]
    assert 1 <= len(questions) <= 5 and all(q.strip() for q in questions), questions
    session = a["chat"].create_chat_session(collection_id=created.id)
    assert [q.question for q in a["chat"].list_questions_for_chat_session(session.id, limit=5)] == questions


def test_parley_llm_local_runs_its_own_server(tmp_path: Path) -> None:
    """``PARLEY_LLM=local`` (``make run LLM=local``): the composition root starts llama.cpp's server with SmolLM2,
    serves it as the backend ``local`` beside the extractive model (still the default), and stops it on exit."""
    process = ServerProcess(tmp_path / "data", {"PARLEY_LLM": "local", "PARLEY_LLM_LOCAL_THREADS": "1",
                                                 "PARLEY_LLM_LOCAL_CONTEXT_SIZE": "2048"})  # fmt: skip
    process.start()
    try:
        a = apis(rest.ApiClient(rest.Configuration(host=process.api_url, access_token=ADMIN_KEY)))
        models = {m.id: m.additional_properties for m in a["models"].list_models()}
        assert models[MODEL]["backend"] == "local" and models[MODEL]["context_size"] == 2048
        assert models["extractive"]["default"] and not models[MODEL]["default"]
        session = a["chat"].create_chat_session()
        answer = a["chat"].get_completion(session.id, rest.ChatCompletionRequest(
            message="Say hello.", llm=MODEL, llm_args={"max_new_tokens": 8}))  # fmt: skip
        assert answer.body.strip() and usage_of(a, answer.message_id)["llm"] == MODEL
        assert process.process is not None
        llama = [pid for pid in _children(process.process.pid) if b"llama_cpp.server" in _cmdline(pid)]
        assert len(llama) == 1
    finally:
        process.stop()
    assert all(not Path(f"/proc/{pid}").exists() or b"llama_cpp" not in _cmdline(pid) for pid in llama)


def _children(pid: int) -> list[int]:
    return [int(child) for task in Path(f"/proc/{pid}/task").iterdir() for child in
            (task / "children").read_text().split()]  # fmt: skip


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""
