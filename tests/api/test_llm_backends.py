"""OpenAI-compatible model servers behind Parley: answers, llm_args, JSON Lines streaming and clean failures.

The model server is ``tests.llm_peer.LLMPeer``, a protocol-faithful OpenAI-compatible test peer on 127.0.0.1
(vLLM, Ollama or OpenAI cannot run here); Parley reaches it over real HTTP through Haystack's OpenAIChatGenerator.
"""

from __future__ import annotations

import http.client
import json
import socket
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h2ogpte.rest_sync as rest
import pytest
from h2ogpte.rest_sync.exceptions import BadRequestException, ServiceException

from tests.api.test_h2ogpte_client import LIGHTHOUSE_PAGES, RECIPE, apis
from tests.documents import text_pdf
from tests.llm_peer import LLMPeer
from tests.server import ADMIN_KEY, ServerProcess, free_port

QUESTION = "When was the Kestrel Point lighthouse decommissioned?"
REPLY = "The lighthouse was decommissioned in 1987, when an automatic beacon replaced it [1]."


@pytest.fixture(scope="module")
def peers() -> Iterator[tuple[LLMPeer, LLMPeer]]:
    with (
        LLMPeer(models=["peer-small", "peer-large"], api_key="sk-peer") as guided,
        LLMPeer(models=["plain-model"], supports_guided=False) as plain,
    ):
        yield guided, plain


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, peers: tuple[LLMPeer, LLMPeer]) -> Iterator[ServerProcess]:
    guided, plain = peers
    env = {
        "PARLEY_LLM_BASE_URL": guided.base_url,
        "PARLEY_LLM_API_KEY": "sk-peer",
        "PARLEY_LLM_MODELS": "peer-small,peer-large",
        "PARLEY_LLM_GUIDED": "true",
        "PARLEY_LLM_CONTEXT_SIZES": "peer-small=1024",
        "PARLEY_LLM_TIMEOUT_S": "2",
        "PARLEY_LLM_MAX_RETRIES": "0",
        "PARLEY_LLM_BACKENDS": "plain,down",
        "PARLEY_LLM_PLAIN_BASE_URL": plain.base_url,
        "PARLEY_LLM_PLAIN_MODELS": "plain-model",
        "PARLEY_LLM_DOWN_BASE_URL": f"http://127.0.0.1:{free_port()}/v1",  # nothing listens there
        "PARLEY_LLM_DOWN_MODELS": "down-model",
        "PARLEY_LLM_DOWN_MAX_RETRIES": "0",
        "PARLEY_LLM_DEFAULT": "peer-large",
    }
    process = ServerProcess(tmp_path_factory.mktemp("parley-llm") / "data", env).start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def a(server: ServerProcess) -> dict[str, Any]:
    return apis(rest.ApiClient(rest.Configuration(host=server.api_url, access_token=ADMIN_KEY)))


@pytest.fixture(scope="module")
def collection(a: dict[str, Any]) -> str:
    created = a["collections"].create_collection(rest.CollectionCreateRequest(name="Kestrel", description=""))
    upload = a["ingestion"].upload_file(file=("kestrel.pdf", text_pdf(LIGHTHOUSE_PAGES)))
    a["ingestion"].ingest_upload([upload.id], collection_id=created.id, timeout=120)
    return str(created.id)


@pytest.fixture
def peer(peers: tuple[LLMPeer, LLMPeer]) -> LLMPeer:
    peers[0].reset()
    peers[1].reset()
    return peers[0]


def session(a: dict[str, Any], collection: str) -> str:
    return str(a["chat"].create_chat_session(collection_id=collection).id)


def usage_of(a: dict[str, Any], message_id: str) -> dict[str, Any]:
    return dict(json.loads(a["chat"].get_message_meta(message_id, info_type="usage_stats")[0].content))


def user_text(request: dict[str, Any]) -> str:
    return str(request["messages"][-1]["content"])


def jsonl(raw: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in raw.decode().splitlines() if line.strip()]


def test_models_lists_every_backend_and_the_extractive_model(a: dict[str, Any]) -> None:
    models = {m.id: m.additional_properties for m in a["models"].list_models()}
    assert set(models) == {"extractive", "peer-small", "peer-large", "plain-model", "down-model"}
    assert models["extractive"]["backend"] == "built-in" and not models["extractive"]["generates_text"]
    assert models["peer-small"]["backend"] == "llm" and models["peer-small"]["context_size"] == 1024
    assert models["peer-large"]["context_size"] == 8192 and models["peer-large"]["default"]
    assert models["plain-model"]["backend"] == "plain"


def test_an_answer_comes_from_the_model_with_the_context_in_its_prompt(a: dict[str, Any], collection: str,
                                                                       peer: LLMPeer) -> None:  # fmt: skip
    peer.script([REPLY])
    request = rest.ChatCompletionRequest(message=QUESTION, system_prompt="auto")  # auto: the default system prompt
    answer = a["chat"].get_completion(session(a, collection), request)
    assert answer.body == REPLY
    sent = peer.last_request
    assert sent["model"] == "peer-large" and sent.headers["authorization"] == "Bearer sk-peer"
    assert sent["messages"][0]["role"] == "system" and "You are Parley" in sent["messages"][0]["content"]
    assert "decommissioned in 1987" in user_text(sent) and user_text(sent).endswith(QUESTION)
    references = a["chat"].get_message_references(answer.message_id)
    assert any(r.document_name == "kestrel.pdf" and r.pages == "2" for r in references)
    usage = usage_of(a, answer.message_id)
    assert usage["llm"] == "peer-large" and usage["llm_calls"] == 1
    assert usage["output_tokens"] == len(REPLY.split())  # the backend's own count


def test_llm_args_pass_through_where_the_backend_supports_them(a: dict[str, Any], collection: str,
                                                               peer: LLMPeer) -> None:  # fmt: skip
    chat, sid = a["chat"], session(a, collection)
    args = {"temperature": 0.3, "top_p": 0.9, "seed": 7, "max_new_tokens": 64, "top_k": 5,
            "repetition_penalty": 1.1, "guided_choice": ["yes", "no"]}  # fmt: skip
    answer = chat.get_completion(sid, rest.ChatCompletionRequest(message=QUESTION, llm="peer-small", llm_args=args))
    sent = peer.last_request
    assert (sent["temperature"], sent["top_p"], sent["seed"], sent["max_tokens"]) == (0.3, 0.9, 7, 64)
    assert (sent["top_k"], sent["repetition_penalty"], sent["guided_choice"]) == (5, 1.1, ["yes", "no"])
    assert answer.body == "yes"
    reply = chat.get_chat_session_messages(sid)[-1]
    assert json.loads(reply.llm_args)["seed"] == 7

    plain = chat.get_completion(sid, rest.ChatCompletionRequest(
        message=QUESTION, llm="plain-model", llm_args={"response_format": "json_object"}))  # fmt: skip
    assert json.loads(plain.body)["answer"]
    refused = [
        ("plain-model", {"guided_choice": ["a"]}, "not supported by the 'plain' backend"),
        ("peer-small", {"temprature": 0.1}, "unknown keys: temprature"),
        ("peer-small", {"temperature": 5}, "between"),
        ("extractive", {"guided_json": {"type": "object"}}, "cannot honour guided_json"),
        ("no-such-model", {}, "unknown llm"),
    ]
    for llm, llm_args, reason in refused:
        with pytest.raises(BadRequestException) as raised:
            chat.get_completion(sid, rest.ChatCompletionRequest(message=QUESTION, llm=llm, llm_args=llm_args))
        assert reason in json.loads(raised.value.body)["message"]
    assert len(chat.get_chat_session_messages(sid)) == 4  # the refusals recorded nothing


@pytest.mark.parametrize("fault", ["5xx", "timeout", "unreachable"])
def test_a_failing_backend_gives_503_and_records_why(a: dict[str, Any], collection: str, peer: LLMPeer,
                                                     fault: str) -> None:  # fmt: skip
    chat, sid = a["chat"], session(a, collection)
    if fault == "5xx":
        peer.fail_next(status=500)
    elif fault == "timeout":
        peer.stall_next(4)
    llm = "down-model" if fault == "unreachable" else "peer-large"
    with pytest.raises(ServiceException) as raised:
        chat.get_completion(sid, rest.ChatCompletionRequest(message=QUESTION, llm=llm))
    assert raised.value.status == 503
    message = json.loads(raised.value.body)["message"]
    expected = {"5xx": "failed with HTTP 500", "timeout": "did not answer within 2 s", "unreachable": "unreachable"}
    assert expected[fault] in message
    question, failed = chat.get_chat_session_messages(sid)
    assert question.content == QUESTION and failed.reply_to == question.id
    assert failed.content == "" and expected[fault] in failed.error


def test_streaming_with_the_accept_header_through_the_client(a: dict[str, Any], collection: str,
                                                             peer: LLMPeer) -> None:  # fmt: skip
    peer.script([REPLY])
    chat, sid = a["chat"], session(a, collection)
    response = chat.get_completion_without_preload_content(
        sid, rest.ChatCompletionRequest(message=QUESTION), _headers={"Accept": "application/jsonl"}
    )
    assert response.status == 200 and response.headers["content-type"].startswith("application/jsonl")
    lines = jsonl(response.data)
    deltas, last = lines[:-1], lines[-1]
    assert len(deltas) >= 5 and all(not d["finished"] and "message_id" not in d for d in deltas)
    assert "".join(d["body"] for d in deltas) == last["body"] == REPLY
    assert last["finished"] and chat.get_chat_session_messages(sid)[-1].id == last["message_id"]
    assert peer.last_request["stream"] is True


def test_streaming_with_stream_true_through_the_client_and_the_extractive_model(a: dict[str, Any],
                                                                             collection: str) -> None:  # fmt: skip
    """The legacy ``{"stream": true}`` body, sent with the h2ogpte client's own serializer (1.7.5's model has no
    ``stream`` field), as the reference describes."""
    chat, sid = a["chat"], session(a, collection)
    method, url, headers, body, post = chat.api_client.param_serialize(
        method="POST", resource_path="/chats/{session_id}/completions", path_params={"session_id": sid},
        body={"message": QUESTION, "llm": "extractive", "stream": True},
        header_params={"Content-Type": "application/json"}, auth_settings=["bearerAuth"],
    )  # fmt: skip
    response = chat.api_client.call_api(method, url, headers, body, post).response
    assert response.status == 200 and response.headers["content-type"].startswith("application/jsonl")
    lines = [rest.ChatCompletionDelta.from_json(line) for line in response.data.decode().splitlines() if line]
    deltas, last = lines[:-1], lines[-1]
    assert deltas and all(not d.finished for d in deltas) and last.finished
    assert "".join(d.body for d in deltas) == last.body and "1987" in last.body
    assert last.message_id == chat.get_chat_session_messages(sid)[-1].id


def test_a_stream_cut_by_the_backend_ends_with_an_error_line(server: ServerProcess, a: dict[str, Any],
                                                            collection: str, peer: LLMPeer) -> None:  # fmt: skip
    peer.script([REPLY])
    peer.cut_stream_after(3)
    sid = session(a, collection)
    status, _, lines = _post_stream(server, collection, {"message": QUESTION, "stream": True}, sid)
    assert status == 200
    deltas, last = lines[:-1], lines[-1]
    assert len(deltas) == 3 and "".join(d["body"] for d in deltas) == "The lighthouse was "
    assert last["finished"] and "unreachable" in last["error"] and "message_id" not in last
    question, failed = a["chat"].get_chat_session_messages(sid)
    assert question.content == QUESTION and failed.content == "" and failed.error  # nothing half-written kept


def test_an_error_event_mid_stream_ends_the_answer_as_a_failure(server: ServerProcess, a: dict[str, Any],
                                                                collection: str, peer: LLMPeer) -> None:  # fmt: skip
    peer.script([REPLY])
    peer.error_in_stream_after(2, "CUDA out of memory")
    sid = session(a, collection)
    _, _, lines = _post_stream(server, collection, {"message": QUESTION, "stream": True}, sid)
    deltas, last = lines[:-1], lines[-1]
    assert "".join(d["body"] for d in deltas) == "The lighthouse "
    assert last["finished"] and "CUDA out of memory" in last["error"] and "message_id" not in last
    question, failed = a["chat"].get_chat_session_messages(sid)
    assert question.content == QUESTION and failed.content == "" and "CUDA out of memory" in failed.error


def test_a_client_that_goes_away_mid_stream_stops_the_model(server: ServerProcess, a: dict[str, Any],
                                                            collection: str, peer: LLMPeer) -> None:  # fmt: skip
    peer.script([" ".join(["word"] * 80)])
    peer.stream_delay = 0.1  # 8 s for the whole reply
    sid = session(a, collection)
    try:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        body = json.dumps({"message": QUESTION, "stream": True})
        headers = {"Authorization": f"Bearer {ADMIN_KEY}", "Content-Type": "application/json"}
        connection.request("POST", f"/api/v1/chats/{sid}/completions", body=body, headers=headers)
        response = connection.getresponse()
        line = b""
        while not line.endswith(b"\n"):
            line += response.read(1)  # decodes the chunked body
        assert json.loads(line)["finished"] is False
        connection.sock.shutdown(socket.SHUT_RDWR)  # the client goes away after the first delta
        connection.close()
        deadline = time.monotonic() + 6  # well before the reply would have ended
        while len(messages := a["chat"].get_chat_session_messages(sid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        peer.stream_delay = 0.0
    question, failed = messages
    assert question.content == QUESTION and failed.content == "" and "stopped reading" in failed.error


def test_hyde_writes_a_first_pass_without_context(a: dict[str, Any], collection: str, peer: LLMPeer) -> None:
    peer.script(["Lighthouses are usually decommissioned when automated. Keywords: beacon, keeper", REPLY])
    chat = a["chat"]
    answer = chat.get_completion(session(a, collection), rest.ChatCompletionRequest(
        message=QUESTION, rag_config={"rag_type": "hyde1"}))  # fmt: skip
    first, second = peer.requests
    assert user_text(first).startswith(QUESTION) and "list the 5 most relevant key words" in user_text(first)
    assert "decommissioned in 1987" in user_text(second)
    meta = {m.message_type: m.content for m in chat.get_message_meta(answer.message_id)}
    assert meta["hyde1"] == meta["llm_only"] and meta["hyde1"].startswith("Lighthouses are usually")
    assert usage_of(a, answer.message_id)["llm_calls"] == 2 and answer.body == REPLY


def test_self_reflection_with_another_model(a: dict[str, Any], collection: str, peer: LLMPeer) -> None:
    peer.script(["Score: 9/10. The answer is supported by source [1]."])
    chat = a["chat"]
    reflection = {"llm_reflection": "peer-large", "llm_args_reflection": '{"temperature": 0}'}
    answer = chat.get_completion(session(a, collection), rest.ChatCompletionRequest(
        message=QUESTION, llm="extractive", self_reflection_config=reflection))  # fmt: skip
    sent = peer.last_request
    assert sent["model"] == "peer-large" and sent["temperature"] == 0
    assert f'Response:\n{answer.body}\n"""' in user_text(sent) and "decommissioned in 1987" in user_text(sent)
    meta = {m.message_type: m.content for m in chat.get_message_meta(answer.message_id)}
    assert meta["self_reflection"].startswith("Score: 9/10")

    # A judge with a small context sees the judged prompt's head and tail.
    reflection["llm_reflection"] = "peer-small"
    chat.get_completion(session(a, collection), rest.ChatCompletionRequest(
        message=QUESTION, llm="extractive", self_reflection_config=reflection))  # fmt: skip
    sent = peer.last_request
    assert "tokens omitted ...]" in user_text(sent) and user_text(sent).startswith('"""Prompt:\n<|user|>')


def test_a_failing_judge_leaves_the_answer_standing(a: dict[str, Any], collection: str) -> None:
    chat, sid = a["chat"], session(a, collection)
    answer = chat.get_completion(sid, rest.ChatCompletionRequest(
        message=QUESTION, llm="extractive", self_reflection_config={"llm_reflection": "down-model"}))  # fmt: skip
    assert "1987" in answer.body
    meta = {m.message_type: m.content for m in chat.get_message_meta(answer.message_id)}
    assert meta["self_reflection"].startswith("Self-reflection failed: model 'down-model' on 'down' is unreachable")
    assert chat.get_chat_session_messages(sid)[-1].error is None


def test_prompts_are_fitted_to_the_model_context(a: dict[str, Any], collection: str, peer: LLMPeer) -> None:
    chat = a["chat"]
    answer = chat.get_completion(session(a, collection), rest.ChatCompletionRequest(
        message=QUESTION, llm="peer-small", rag_config={"rag_max_chunks": 50}))  # fmt: skip
    sent = peer.last_request
    prompt_words = sum(len(str(m["content"]).split()) for m in sent["messages"])
    assert prompt_words + sent["max_tokens"] <= 1024
    references = chat.get_message_references(answer.message_id)
    assert 1 <= len(references) < 5  # the 1,024-token context holds only a few of the chunks
    assert all(r.content in user_text(sent) for r in references)


def _post_stream(server: ServerProcess, collection: str, body: dict[str, Any],
                 sid: str | None = None) -> tuple[int, str, list[dict[str, Any]]]:  # fmt: skip
    if sid is None:
        request = urllib.request.Request(f"{server.api_url}/chats?collection_id={collection}", data=b"{}",
                                         method="POST")  # fmt: skip
        request.add_header("Authorization", f"Bearer {ADMIN_KEY}")
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=30) as response:
            sid = json.loads(response.read())["id"]
    request = urllib.request.Request(f"{server.api_url}/chats/{sid}/completions", data=json.dumps(body).encode(),
                                     method="POST")  # fmt: skip
    request.add_header("Authorization", f"Bearer {ADMIN_KEY}")
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.status, response.headers["content-type"], jsonl(response.read())


def test_a_misconfigured_backend_stops_the_server_with_a_clear_message(tmp_path: Path) -> None:
    process = ServerProcess(tmp_path / "data", {"PARLEY_LLM_BASE_URL": "http://127.0.0.1:9/v1"})
    with pytest.raises(RuntimeError) as raised:
        process.start(timeout=60)
    assert "configuration error" in str(raised.value) and "PARLEY_LLM_MODELS" in str(raised.value)


def test_summaries_and_questions_are_written_by_the_collections_model(a: dict[str, Any], peer: LLMPeer) -> None:
    created = a["collections"].create_collection(rest.CollectionCreateRequest(
        name="Written", description="", chat_settings=rest.ChatSettings(llm="peer-small")))  # fmt: skip
    upload = a["ingestion"].upload_file(file=("kestrel.pdf", text_pdf(LIGHTHOUSE_PAGES)))
    peer.responder = lambda body: (
        "1. When was the lighthouse decommissioned?\n2) Who was its last keeper?\nWhat is on the headland?"
        if "questions that the text above answers" in user_text(body)
        else "A lighthouse on Kestrel Point, decommissioned in 1987 [1]."
    )
    try:
        a["ingestion"].ingest_upload([upload.id], collection_id=created.id, gen_doc_summaries=True,
                                     gen_doc_questions=True, timeout=120)  # fmt: skip
    finally:
        peer.responder = None
    (document,) = a["collections"].list_documents_for_collection(created.id)
    summary = a["documents"].get_document(document.id).summary
    assert summary == "A lighthouse on Kestrel Point, decommissioned in 1987."  # citation markers removed
    questions = [q.question for q in a["collections"].list_questions_for_collection(created.id)]
    assert questions == ["When was the lighthouse decommissioned?", "Who was its last keeper?",
                         "What is on the headland?"]  # fmt: skip
    session = a["chat"].create_chat_session(collection_id=created.id)
    assert [q.question for q in a["chat"].list_questions_for_chat_session(session.id, limit=2)] == questions[:2]
    assert all(r["model"] == "peer-small" for r in peer.requests)
    # The summary prompt held the whole document (it fits peer-small's context in one call), in reading order.
    summary_prompt = next(user_text(r) for r in peer.requests if "condensed and concise summary" in user_text(r))
    assert summary_prompt.index("Kestrel Point is a rocky") < summary_prompt.index("decommissioned in 1987")


def test_the_collections_template_asks_for_its_documents_summaries_and_questions(
    a: dict[str, Any], peer: LLMPeer
) -> None:
    """The template's auto_gen_document_* texts are the prompts a collection's documents are written about with."""
    template = rest.PromptTemplatesApi(a["chat"].api_client).create_prompt_template(
        rest.PromptTemplateCreateRequest(
            name="Archivist",
            auto_gen_document_summary_pre_prompt_summary="Archivist, read this record:\n",
            auto_gen_document_summary_prompt_summary="In one line, what does the record say? ",
            auto_gen_document_sample_questions_prompt="List three questions a visitor would ask. ",
        )
    )
    created = a["collections"].create_collection(rest.CollectionCreateRequest(
        name="Archived", description="", chat_settings=rest.ChatSettings(llm="peer-small")))  # fmt: skip
    change = rest.PromptTemplateChangeRequest(prompt_template_id=template.id)
    a["collections"].update_collection_prompt_template(created.id, change)
    upload = a["ingestion"].upload_file(file=("rye.txt", RECIPE))
    peer.responder = lambda body: "Who baked it?" if "a visitor would ask" in user_text(body) else "Rye bread [1]."
    try:
        a["ingestion"].ingest_upload([upload.id], collection_id=created.id, gen_doc_summaries=True,
                                     gen_doc_questions=True, timeout=120)  # fmt: skip
    finally:
        peer.responder = None
    written = [user_text(r) for r in peer.requests[-2:]]
    assert any(t.startswith("Archivist, read this record:") and "what does the record say?" in t for t in written)
    assert any("List three questions a visitor would ask." in t for t in written)
    (document,) = a["collections"].list_documents_for_collection(created.id)
    assert a["documents"].get_document(document.id).summary == "Rye bread."
    assert [q.question for q in a["collections"].list_questions_for_collection(created.id)] == ["Who baked it?"]


def test_a_failing_writer_leaves_the_document_ingested_and_says_so(a: dict[str, Any], peer: LLMPeer) -> None:
    created = a["collections"].create_collection(rest.CollectionCreateRequest(
        name="Unwritten", description="", chat_settings=rest.ChatSettings(llm="peer-large")))  # fmt: skip
    upload = a["ingestion"].upload_file(file=("kestrel.pdf", text_pdf(LIGHTHOUSE_PAGES)))
    peer.fail_next(status=503, times=5)
    job = a["ingestion"].create_ingest_upload_job([upload.id], collection_id=created.id, gen_doc_summaries=True)
    while (details := a["jobs"].get_job(job.id)).overall_status == "in progress":
        time.sleep(0.05)
    assert details.overall_status == "completed" and len(details.errors) == 1
    assert details.errors[0].startswith("kestrel.pdf: summary not written (model 'peer-large' on 'llm' failed")
    (document,) = a["collections"].list_documents_for_collection(created.id)
    assert document.status == "completed" and a["documents"].get_document(document.id).summary is None
