"""Every h2oGPTe RAG mode, self-reflection, chat history and message meta, through the real h2ogpte client."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import h2ogpte.rest_sync as rest
import pytest
from h2ogpte.rest_sync.exceptions import BadRequestException

from tests.api.test_h2ogpte_client import LIGHTHOUSE_PAGES, RECIPE, apis
from tests.documents import text_pdf
from tests.server import ADMIN_KEY, ServerProcess

QUESTION = "When was the Kestrel Point lighthouse decommissioned?"
ORCHARD = (
    b"The Penhallow orchard grows forty varieties of cider apple. The trees are pruned in January and the fruit "
    b"is pressed in October, when the village holds its harvest fair."
)
GANNET = (
    b"The Gannet Rock lighthouse stands on a reef two miles off the harbour mouth. The Gannet Rock lighthouse was "
    b"built in 1858 by the harbour trust. The Gannet Rock lighthouse was decommissioned in 1994, when a lit buoy "
    b"replaced it."
)
MILL = (
    b"The Tidewater paper mill was decommissioned in 1961. When was it decommissioned? In 1961, after the river "
    b"trade ended; decommissioned machinery was sold for scrap."
)


def usage_of(chat: rest.ChatApi, message_id: str) -> dict[str, Any]:
    return dict(json.loads(chat.get_message_meta(message_id, info_type="usage_stats")[0].content))


def meta_of(chat: rest.ChatApi, message_id: str) -> dict[str, str]:
    return {meta.message_type: meta.content for meta in chat.get_message_meta(message_id)}


def ask(chat: rest.ChatApi, session_id: str, message: str, **fields: Any) -> rest.ChatCompletion:
    return chat.get_completion(session_id, rest.ChatCompletionRequest(message=message, **fields))


def cited(body: str, references: list[rest.ChatMessageReference]) -> set[str]:
    """The document names behind the [n] markers of an answer."""
    return {references[int(n) - 1].document_name for n in re.findall(r"\[(\d+)\]", body)}


@pytest.fixture(scope="module")
def coast(api: rest.ApiClient) -> str:
    """A collection of three documents: a lighthouse history (3 pages), a recipe, an orchard note."""
    a = apis(api)
    collection = a["collections"].create_collection(rest.CollectionCreateRequest(name="Coast", description=""))
    uploads = [
        a["ingestion"].upload_file(file=("kestrel.pdf", text_pdf(LIGHTHOUSE_PAGES))),
        a["ingestion"].upload_file(file=("rye.txt", RECIPE)),
        a["ingestion"].upload_file(file=("orchard.txt", ORCHARD)),
    ]
    a["ingestion"].ingest_upload([u.id for u in uploads], collection_id=collection.id, timeout=120)
    return str(collection.id)


@pytest.mark.parametrize(
    ("mode", "calls"), [("llm_only", 1), ("rag", 1), ("hyde1", 2), ("hyde2", 3), ("rag+", 1), ("all_data", 1)]
)
def test_every_mode_answers_with_its_number_of_model_calls(api: rest.ApiClient, coast: str, mode: str,
                                                           calls: int) -> None:  # fmt: skip
    chat = rest.ChatApi(api)
    session = chat.create_chat_session(collection_id=coast)
    answer = ask(chat, session.id, QUESTION, rag_config={"rag_type": mode})
    usage = usage_of(chat, answer.message_id)
    # rag+ and all_data summarise by map-reduce; this small collection fits one call (see the test below).
    assert usage["rag_type"] == mode and usage["llm_calls"] == calls, usage
    for name in ("llm", "input_tokens", "output_tokens", "response_time", "retrieval_time"):
        assert name in usage
    assert usage["input_tokens"] > 0 and usage["response_time"] >= usage["retrieval_time"] >= 0
    references = chat.get_message_references(answer.message_id)
    meta = meta_of(chat, answer.message_id)
    if mode == "llm_only":
        assert references == [] and answer.body.startswith("Not found in the documents.")
        assert meta["llm_only"] == answer.body
        return
    assert any(r.document_name == "kestrel.pdf" and r.pages == "2" for r in references), references
    assert ("hyde1" in meta) == (mode in ("hyde1", "hyde2"))
    if mode in ("hyde1", "hyde2"):
        assert meta["hyde1"].startswith("Pseudo-relevance feedback") and "1987" in meta["hyde1"]
    assert "1987" in answer.body and "kestrel.pdf" in cited(answer.body, references), answer.body


def test_rag_plus_adds_neighbour_chunks_in_document_order(api: rest.ApiClient, coast: str) -> None:
    chat = rest.ChatApi(api)
    session = chat.create_chat_session(collection_id=coast)
    config = {"rag_max_chunks": 1, "num_neighbor_chunks_to_include": 1}
    plain = ask(chat, session.id, QUESTION, rag_config={"rag_type": "rag", **config})
    plus = ask(chat, session.id, QUESTION, rag_config={"rag_type": "rag+", **config})
    kestrel_plain = [r for r in chat.get_message_references(plain.message_id) if r.document_name == "kestrel.pdf"]
    kestrel_plus = [r for r in chat.get_message_references(plus.message_id) if r.document_name == "kestrel.pdf"]
    assert len(kestrel_plain) == 1 and "1987" in (kestrel_plain[0].content or "")
    # The retrieved chunk and one neighbour on each side, in reading order: page 1's last chunk, then page 2's.
    assert len(kestrel_plus) == 3, [(r.pages, (r.content or "")[:40]) for r in kestrel_plus]
    before, retrieved, after = kestrel_plus
    assert retrieved.content == kestrel_plain[0].content and retrieved.score > 0
    assert before.score == after.score == 0  # neighbours
    assert before.pages == "1" and after.pages == "2"
    assert "1987" in plus.body


def test_all_data_summarises_every_document(api: rest.ApiClient, coast: str) -> None:
    chat = rest.ChatApi(api)
    session = chat.create_chat_session(collection_id=coast)
    answer = ask(chat, session.id, "Summarize the documents.", rag_config={"rag_type": "all_data"})
    references = chat.get_message_references(answer.message_id)
    assert {r.document_name for r in references} == {"kestrel.pdf", "rye.txt", "orchard.txt"}
    assert cited(answer.body, references) == {"kestrel.pdf", "rye.txt", "orchard.txt"}, answer.body
    assert all(line.startswith("- ") for line in answer.body.splitlines())
    prompt = meta_of(chat, answer.message_id)["prompt_raw"]
    assert "write a condensed and concise summary" in prompt and "Summarize the documents." in prompt


def test_auto_chooses_a_mode_and_says_which(api: rest.ApiClient, coast: str) -> None:
    chat = rest.ChatApi(api)
    session = chat.create_chat_session(collection_id=coast)
    summary = usage_of(chat, ask(chat, session.id, "Give me an overview of all documents.",
                                 rag_config={"rag_type": "auto"}).message_id)  # fmt: skip
    question = usage_of(chat, ask(chat, session.id, QUESTION, rag_config={"rag_type": "auto"}).message_id)
    assert summary["rag_type"] == "all_data" and summary["rag_type_requested"] == "auto" and summary["auto_reason"]
    assert question["rag_type"] == "rag" and question["rag_type_requested"] == "auto"
    alone = chat.create_chat_session()
    assert usage_of(chat, ask(chat, alone.id, QUESTION, rag_config={"rag_type": "auto"}).message_id)["rag_type"] == (
        "llm_only"
    )


def test_a_follow_up_is_answered_only_with_chat_history(api: rest.ApiClient) -> None:
    a = apis(api)
    collection = a["collections"].create_collection(rest.CollectionCreateRequest(name="Works", description=""))
    uploads = [
        a["ingestion"].upload_file(file=("gannet.txt", GANNET)),
        a["ingestion"].upload_file(file=("mill.txt", MILL)),
    ]
    a["ingestion"].ingest_upload([u.id for u in uploads], collection_id=collection.id, timeout=120)
    chat: rest.ChatApi = a["chat"]
    answers = {}
    for history in ("true", "false"):
        session = chat.create_chat_session(collection_id=collection.id)
        first = ask(chat, session.id, "When was the Gannet Rock lighthouse built?", include_chat_history=history)
        assert "1858" in first.body, first.body
        answers[history] = ask(chat, session.id, "and when was it decommissioned?", include_chat_history=history)
    assert "1994" in answers["true"].body and "1961" not in answers["true"].body, answers["true"].body
    assert "1994" not in answers["false"].body, answers["false"].body
    with_history = meta_of(chat, answers["true"].message_id)["prompt_raw"]
    without = meta_of(chat, answers["false"].message_id)["prompt_raw"]
    assert "When was the Gannet Rock lighthouse built?" in with_history
    assert "When was the Gannet Rock lighthouse built?" not in without


def test_self_reflection_checks_the_answer_against_its_context(api: rest.ApiClient, coast: str) -> None:
    chat = rest.ChatApi(api)
    session = chat.create_chat_session(collection_id=coast)
    answer = ask(chat, session.id, QUESTION, self_reflection_config={"llm_reflection": "extractive"})
    meta = meta_of(chat, answer.message_id)
    assert "Score: 10/10" in meta["self_reflection"] and "supported" in meta["self_reflection"]
    usage = json.loads(meta["usage_stats"])
    assert usage["llm_calls"] == 2 and usage["answer_llm_calls"] == 1
    assert set(meta) == {"usage_stats", "prompt_raw", "self_reflection"}
    for bad in ("Prompt: %s only", "%s %s %s", "no placeholder"):
        with pytest.raises(BadRequestException) as raised:
            ask(chat, session.id, QUESTION, self_reflection_config={"prompt_reflection": bad})
        assert "exactly two %s" in json.loads(raised.value.body)["message"]
    refused = [
        {"llm_reflection": "no-such-model"},
        {"llm_args_reflection": '{"seed": Infinity}'},
        {"llm_args_reflection": '{"top_k": NaN}'},
        {"llm_args_reflection": "[1, 2]"},
        {"system_prompt_reflection": 5},
        {"judge": "me"},
    ]
    for config in refused:
        with pytest.raises(BadRequestException):
            ask(chat, session.id, QUESTION, self_reflection_config=config)
    # Refused requests left nothing behind: one question, one answer.
    assert len(chat.get_chat_session_messages(session.id)) == 2


def test_meta_of_every_info_type_can_be_asked_for(api: rest.ApiClient, coast: str) -> None:
    chat = rest.ChatApi(api)
    session = chat.create_chat_session(collection_id=coast)
    answer = ask(chat, session.id, QUESTION, rag_config={"rag_type": "hyde1"},
                 self_reflection_config={"prompt_reflection": "Q:%s\nA:%s\nScore it."})  # fmt: skip
    for info_type in ("usage_stats", "prompt_raw", "hyde1", "self_reflection"):
        (meta,) = chat.get_message_meta(answer.message_id, info_type=info_type)
        assert meta.message_type == info_type and meta.content
    assert chat.get_message_meta(answer.message_id, info_type="llm_only") == []  # extractive hyde: no llm-only pass
    with pytest.raises(BadRequestException):
        chat.get_message_meta(answer.message_id, info_type="everything")


def test_map_reduce_takes_several_calls_and_all_data_has_a_call_limit(tmp_path: Path) -> None:
    server = ServerProcess(
        tmp_path / "data", {"PARLEY_EXTRACTIVE_CONTEXT_TOKENS": "768", "PARLEY_MAX_LLM_CALLS": "6"}
    ).start()
    try:
        a = apis(rest.ApiClient(rest.Configuration(host=server.api_url, access_token=ADMIN_KEY)))
        small = a["collections"].create_collection(rest.CollectionCreateRequest(name="Small", description=""))
        upload = a["ingestion"].upload_file(file=("kestrel.pdf", text_pdf(LIGHTHOUSE_PAGES)))
        a["ingestion"].ingest_upload([upload.id], collection_id=small.id, timeout=120)
        large = a["collections"].create_collection(rest.CollectionCreateRequest(name="Large", description=""))
        upload = a["ingestion"].upload_file(file=("long.pdf", text_pdf(LIGHTHOUSE_PAGES * 4)))
        a["ingestion"].ingest_upload([upload.id], collection_id=large.id, timeout=120)
        chat: rest.ChatApi = a["chat"]

        session = chat.create_chat_session(collection_id=small.id)
        answer = ask(chat, session.id, QUESTION, rag_config={"rag_type": "all_data"})
        usage = usage_of(chat, answer.message_id)
        # Three pages (four chunks) do not fit one 768-token call: maps, then a reduce.
        assert usage["llm_calls"] >= 3, usage
        assert "1987" in answer.body, answer.body
        pages = {page for r in chat.get_message_references(answer.message_id) for page in r.pages.split(",")}
        assert pages == {"1", "2", "3"}

        session = chat.create_chat_session(collection_id=large.id)
        with pytest.raises(BadRequestException) as raised:
            ask(chat, session.id, QUESTION, rag_config={"rag_type": "all_data"})
        assert "PARLEY_MAX_LLM_CALLS" in json.loads(raised.value.body)["message"]
        assert chat.get_chat_session_messages(session.id) == []
        # auto does not choose a mode it knows to be too big for the limit.
        summary = ask(chat, session.id, "Summarize the documents.", rag_config={"rag_type": "auto"})
        usage = usage_of(chat, summary.message_id)
        assert usage["rag_type"] in ("rag+", "rag") and "calls" in usage["auto_reason"], usage
        assert usage["llm_calls"] <= 6
    finally:
        server.stop()
