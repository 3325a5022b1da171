"""Audit through a real ``parley serve`` (embedded SQLite stores), driven by the real h2ogpte client for the
h2oGPTe operations and plain HTTP for Parley's audit extensions: history, ``as_of``, provenance that outlives a
deleted document, replays (the extractive model byte for byte; with the OpenAI-compatible test peer
``tests.llm_peer.LLMPeer``, a protocol-faithful stand-in for vLLM/Ollama, the recorded prompt and arguments
exactly), exports with their hash chain, erasure by crypto-shredding (the log's raw rows hold no plaintext, every read
forgets the session, replay and verification go on), and ``parley replay`` / ``--verify`` after a scripted
workload."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h2ogpte.rest_sync as rest
import httpx
import pytest

from api import cli
from tests.api.test_h2ogpte_client import LIGHTHOUSE_PAGES, RECIPE, apis
from tests.documents import text_pdf
from tests.llm_peer import LLMPeer
from tests.server import ADMIN_KEY, ServerProcess

PEER_MODEL = "peer-audit"


@pytest.fixture(scope="module")
def peer() -> Iterator[LLMPeer]:
    with LLMPeer(models=[PEER_MODEL]) as running:
        yield running


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, peer: LLMPeer) -> Iterator[ServerProcess]:
    env = {"PARLEY_LLM_BASE_URL": peer.base_url, "PARLEY_LLM_MODELS": PEER_MODEL, "PARLEY_LLM_MAX_RETRIES": "0"}
    process = ServerProcess(tmp_path_factory.mktemp("parley-audit") / "data", env).start()
    yield process
    if process.process is not None and process.process.poll() is None:
        process.stop()


@pytest.fixture(scope="module")
def a(server: ServerProcess) -> dict[str, Any]:
    return apis(rest.ApiClient(rest.Configuration(host=server.api_url, access_token=ADMIN_KEY)))


@pytest.fixture(scope="module")
def http(server: ServerProcess) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    with httpx.Client(base_url=server.api_url, headers=headers, timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def library(a: dict[str, Any]) -> dict[str, str]:
    """A collection with the lighthouse PDF and a recipe, and a session with one answered question."""
    collection = a["collections"].create_collection(rest.CollectionCreateRequest(name="Kestrel", description=""))
    pdf = a["ingestion"].upload_file(file=("kestrel.pdf", text_pdf(LIGHTHOUSE_PAGES)))
    recipe = a["ingestion"].upload_file(file=("rye.txt", RECIPE))
    a["ingestion"].ingest_upload([pdf.id, recipe.id], collection_id=collection.id, timeout=120)
    documents = a["collections"].list_documents_for_collection(collection.id)
    session = a["chat"].create_chat_session(collection_id=collection.id)
    asked = a["chat"].get_completion(
        session.id, rest.ChatCompletionRequest(message="When was the lighthouse decommissioned?")
    )
    by_name = {d.name: d.id for d in documents}
    return {"collection": collection.id, "pdf": by_name["kestrel.pdf"], "recipe": by_name["rye.txt"],
            "session": session.id, "answer": asked.message_id}  # fmt: skip


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"code", "message", "error_type"} and body["code"] == status
    return body


def test_the_history_of_a_session_a_collection_a_document_and_a_template(
    http: httpx.Client, library: dict[str, str]
) -> None:
    page = ok(http.get(f"/chats/{library['session']}/events"))
    assert [e["type"] for e in page["events"]] == ["ChatSessionCreated", "QuestionAsked", "AnswerGenerated"]
    assert [e["version"] for e in page["events"]] == [0, 1, 2] and page["next"] is None
    positions = [e["position"] for e in page["events"]]
    assert positions == sorted(positions) and all(e["actor"] == "admin" and e["key_id"] for e in page["events"])
    assert page["events"][1]["payload"]["text"] == "When was the lighthouse decommissioned?"
    assert page["events"][2]["payload"]["message_id"] == library["answer"]
    second = ok(http.get(f"/chats/{library['session']}/events", params={"offset": 1, "limit": 1}))
    assert [e["version"] for e in second["events"]] == [1] and second["next"] == 2
    assert ok(http.get(f"/collections/{library['collection']}/events"))["events"][0]["type"] == "CollectionCreated"
    document = ok(http.get(f"/documents/{library['pdf']}/events"))["events"]
    assert document[0]["type"] == "DocumentIngested" and document[0]["payload"]["chunks"][0]["text"]
    created = ok(http.post("/prompt_templates", json={"name": "Audit", "system_prompt": "One"}), 201)
    ok(http.patch(f"/prompt_templates/{created['id']}", json={"system_prompt": "Two"}))
    versions = ok(http.get(f"/prompt_templates/{created['id']}/events"))["events"]
    assert [(e["type"], e["payload"]["version"]) for e in versions] == [("TemplateCreated", 1), ("TemplateUpdated", 2)]
    assert "no events" in error_of(http.get("/chats/no-such-session/events"), 404)["message"]
    error_of(http.get(f"/chats/{library['session']}/events", params={"offset": -1}), 400)


def test_the_whole_log_filtered(http: httpx.Client, library: dict[str, str]) -> None:
    questions = ok(http.get("/events", params={"event_type": "QuestionAsked", "stream_prefix": "chat-"}))
    assert questions["events"] and all(e["type"] == "QuestionAsked" for e in questions["events"])
    first_two = ok(http.get("/events", params={"limit": 2}))
    assert [e["position"] for e in first_two["events"]] == [1, 2] and first_two["next"] == 2
    after = ok(http.get("/events", params={"after_position": first_two["next"], "limit": 1}))
    assert after["events"][0]["position"] == 3
    mine = ok(http.get("/events", params={"actor": "admin", "stream_prefix": f"chat-{library['session']}"}))
    assert len(mine["events"]) >= 3 and mine["next"] is None
    assert ok(http.get("/events", params={"since": "2999-01-01T00:00:00Z"})) == {"events": [], "next": None}
    assert "since" in error_of(http.get("/events", params={"since": "last tuesday"}), 400)["message"]


def test_as_of_a_session_its_references_and_a_collection(
    a: dict[str, Any], http: httpx.Client, library: dict[str, str]
) -> None:
    session = library["session"]
    events = ok(http.get(f"/chats/{session}/events"))["events"]
    answered_at = events[2]["position"]
    a["chat"].get_completion(session, rest.ChatCompletionRequest(message="Who was the last keeper?"))
    a["chat"].update_chat_session(session, rest.ChatSessionUpdateRequest(name="Renamed afterwards"))
    then = ok(http.get(f"/past/chats/{session}/messages", params={"as_of": answered_at}))
    assert [m["id"] for m in then][1] == library["answer"] and len(then) == 2
    assert len(a["chat"].get_chat_session_messages(session)) == 4
    past = ok(http.get(f"/past/chats/{session}", params={"as_of": answered_at}))
    assert past.get("name") != "Renamed afterwards" and past["collection_name"] == "Kestrel"
    references = ok(http.get(f"/past/chats/{session}/messages/{library['answer']}/references",
                             params={"as_of": answered_at}))  # fmt: skip
    live = a["chat"].get_message_references(library["answer"])
    assert [(r["document_id"], r["chunk_id"], r["content"]) for r in references] == [
        (r.document_id, r.chunk_id, r.content) for r in live
    ]
    collection_events = ok(http.get(f"/collections/{library['collection']}/events"))["events"]
    before_documents = ok(http.get(f"/past/collections/{library['collection']}/documents",
                                   params={"as_of": collection_events[0]["position"]}))  # fmt: skip
    assert before_documents == []
    now = ok(http.get(f"/past/collections/{library['collection']}/documents", params={"as_of": answered_at}))
    assert sorted(d["name"] for d in now) == ["kestrel.pdf", "rye.txt"]
    assert ok(http.get(f"/past/documents/{library['pdf']}", params={"as_of": answered_at}))["name"] == "kestrel.pdf"
    assert "as_of" in error_of(http.get(f"/past/chats/{session}", params={"as_of": "soon"}), 400)["message"]
    error_of(http.get(f"/past/chats/{session}", params={"as_of": "1"}), 404)  # before the session existed
    error_of(http.get("/past/chats/no-such-session", params={"as_of": answered_at}), 404)
    error_of(http.get(f"/past/chats/{session}"), 400)  # as_of is required


def test_provenance_outlives_the_deleted_document_and_an_extractive_replay_is_identical(
    a: dict[str, Any], http: httpx.Client, library: dict[str, str]
) -> None:
    session = a["chat"].create_chat_session(collection_id=library["collection"])
    asked = a["chat"].get_completion(session.id, rest.ChatCompletionRequest(message="How do I bake rye bread?"))
    before = ok(http.get(f"/messages/{asked.message_id}/provenance"))
    cited = [r for r in before["references"] if r["document_id"] == library["recipe"]]
    assert cited and "sourdough" in cited[0]["content"]
    a["collections"].delete_document_from_collection(library["collection"], library["recipe"])
    after = ok(http.get(f"/messages/{asked.message_id}/provenance"))
    assert after["references"] == before["references"]  # the chunk texts, pages and scores as they were
    assert after["question"] == "How do I bake rye bread?" and after["answer"] == asked.body
    assert (after["llm"], after["rag_type_requested"], after["rag_type"]) == ("extractive", "rag", "rag")
    recorded_answer = ok(http.get(f"/chats/{session.id}/events"))["events"][2]["payload"]
    assert after["prompt_raw"] == recorded_answer["prompt_raw"] and "sourdough" in after["prompt_raw"]
    (meta,) = a["chat"].get_message_meta(asked.message_id, info_type="prompt_raw")
    assert meta.content.endswith(after["prompt_raw"])  # the meta heads it with the template's name
    assert after["usage"]["llm_calls"] >= 1 and "total" in after["timings"]
    assert (after["template_id"], after["template_version"]) == (
        recorded_answer.get("template_id"),
        recorded_answer.get("template_version"),
    )
    assert after["replays"] == []
    replayed = ok(http.post(f"/messages/{asked.message_id}/replay"), 201)
    assert replayed["identical"] is True and replayed["diff"] == ""
    assert replayed["replayed"].encode() == asked.body.encode()
    recorded = ok(http.get(f"/chats/{session.id}/events"))["events"][-1]
    assert recorded["type"] == "AnswerReplayed" and recorded["payload"]["replay_id"] == replayed["replay_id"]
    assert [r["payload"]["identical"] for r in ok(http.get(f"/messages/{asked.message_id}/provenance"))["replays"]] == [
        True
    ]
    question_id = ok(http.get(f"/chats/{session.id}/events"))["events"][1]["payload"]["message_id"]
    error_of(http.get(f"/messages/{question_id}/provenance"), 404)
    error_of(http.get("/messages/no-such-message/provenance"), 404)
    error_of(http.post("/messages/no-such-message/replay"), 404)


def test_a_generative_replay_sends_the_recorded_prompt_and_arguments(
    a: dict[str, Any], http: httpx.Client, library: dict[str, str], peer: LLMPeer
) -> None:
    session = a["chat"].create_chat_session(collection_id=library["collection"])
    peer.reset()
    args = {"temperature": 0.3, "seed": 7, "top_p": 0.9, "max_new_tokens": 300}
    asked = a["chat"].get_completion(session.id, rest.ChatCompletionRequest(
        message="Who kept the Kestrel Point logbook?", llm=PEER_MODEL, llm_args=args))  # fmt: skip
    original = dict(peer.last_request)
    replayed = ok(http.post(f"/messages/{asked.message_id}/replay"), 201)
    again = dict(peer.last_request)
    assert len(peer.requests) == 2
    assert again["messages"] == original["messages"]
    for key in ("model", "temperature", "seed", "top_p", "max_tokens"):
        assert again.get(key) == original.get(key), key
    assert original["temperature"] == 0.3 and original["seed"] == 7
    provenance = ok(http.get(f"/messages/{asked.message_id}/provenance"))
    sent = "\n\n".join(f"<|{m['role']}|>\n{m['content']}" for m in original["messages"])
    assert provenance["prompt_raw"] == sent and provenance["llm_args"] == args
    assert replayed["original"] == asked.body and replayed["llm"] == PEER_MODEL


@dataclass(frozen=True)
class Ran:
    returncode: int
    stdout: str
    stderr: str


def parley(*args: str, data_dir: Path, capsys: pytest.CaptureFixture[str] | None = None) -> Ran:
    """``parley ARGS --data-dir DIR``: in this process through ``api.cli.main`` when ``capsys`` is given (the stores'
    imports are paid once per test session, not once per call), else as a process of its own."""
    argv = [*args, "--data-dir", str(data_dir)]
    if capsys is None:
        done = subprocess.run([sys.executable, "-m", "api.cli", *argv], capture_output=True, text=True, timeout=300)
        return Ran(done.returncode, done.stdout, done.stderr)
    capsys.readouterr()
    returncode = cli.main(argv)
    out, err = capsys.readouterr()
    return Ran(returncode, out, err)


def test_an_export_is_verified_and_a_tampered_or_truncated_one_is_not(
    a: dict[str, Any], http: httpx.Client, server: ServerProcess, library: dict[str, str], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    session = a["chat"].create_chat_session(collection_id=library["collection"])
    a["chat"].get_completion(session.id, rest.ChatCompletionRequest(message="What is <b>Kestrel Point</b>?"))
    exported = http.get(f"/chats/{session.id}/export")
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("application/jsonl")
    lines = exported.content.splitlines()
    assert len(lines) == 2 + 3 and json.loads(lines[-1])["events"] == 3
    whole = tmp_path / "whole.jsonl"
    whole.write_bytes(exported.content)
    checked = parley("export", "--verify", str(whole), data_dir=server.data_dir)
    assert checked.returncode == 0 and "intact, 3 events" in checked.stdout
    tampered = tmp_path / "tampered.jsonl"
    answer = json.loads(lines[3])
    answer["payload"]["text"] = "Something else entirely."
    tampered.write_bytes(b"\n".join([*lines[:3], json.dumps(answer).encode(), *lines[4:]]))
    refused = parley("export", "--verify", str(tampered), data_dir=server.data_dir, capsys=capsys)
    assert refused.returncode == 1 and "tampered.jsonl:4: this event was changed" in refused.stderr
    truncated = tmp_path / "truncated.jsonl"
    truncated.write_bytes(b"\n".join(lines[:-2]))
    assert "truncated" in parley("export", "--verify", str(truncated), data_dir=server.data_dir, capsys=capsys).stderr
    html = http.get(f"/chats/{session.id}/transcript")
    assert html.status_code == 200 and "text/html" in html.headers["content-type"]
    assert "What is &lt;b&gt;Kestrel Point&lt;/b&gt;?" in html.text and "<b>Kestrel" not in html.text
    assert "kestrel.pdf, page" in html.text
    out = tmp_path / "cli" / "session"
    written = parley("export", "--session", session.id, "--out", str(out), data_dir=server.data_dir, capsys=capsys)
    assert written.returncode == 0, written.stderr
    again = parley("export", "--verify", str(out.with_suffix(".jsonl")), data_dir=server.data_dir, capsys=capsys)
    assert again.returncode == 0
    assert "Kestrel Point" in out.with_suffix(".html").read_text()
    error_of(http.get("/chats/no-such-session/transcript"), 404)
    error_of(http.get("/chats/no-such-session/export"), 404)


def test_an_erased_session_is_unreadable_in_the_log_and_gone_from_every_read(
    a: dict[str, Any], http: httpx.Client, server: ServerProcess, library: dict[str, str], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    question = "Did Ottoline Brackwater ask when the lighthouse was decommissioned?"
    session = a["chat"].create_chat_session(collection_id=library["collection"]).id
    a["chat"].update_chat_session(session, rest.ChatSessionUpdateRequest(name="Ottoline Brackwater's chat"))
    asked = a["chat"].get_completion(session, rest.ChatCompletionRequest(message=question))
    feedback = rest.UpdateQAFeedbackRequest(expected_answer="In 1987, Ottoline", user_comment="Ottoline was pleased")
    a["chat"].update_question_answer_feedback(asked.message_id, feedback)
    answered_at = ok(http.get(f"/chats/{session}/events"))["events"][-2]["position"]
    exported_before = tmp_path / "before.jsonl"
    exported_before.write_bytes(http.get(f"/chats/{session}/export").content)
    cache = server.data_dir / "embeddings.sqlite3"
    digest = hashlib.sha256(question.encode()).hexdigest()

    def cached() -> bool:
        with sqlite3.connect(cache) as conn:
            return bool(conn.execute("SELECT count(*) FROM embeddings WHERE hash = ?", (digest,)).fetchone()[0])

    assert cached()  # the question's vector, under its text's hash
    erased = ok(http.post(f"/chats/{session}/erase"))
    assert erased["session_id"] == session and erased["key_forgotten"] is True and erased["events"] == 6
    assert not cached()

    # The log keeps every event, with its type, version, time, actor and ids; the personal fields are sealed.
    with sqlite3.connect(server.data_dir / "events.sqlite3") as conn:
        stored = conn.execute("SELECT type, data FROM events WHERE stream = ? ORDER BY version", (f"chat-{session}",))
        rows = stored.fetchall()
    assert [kind for kind, _ in rows] == ["ChatSessionCreated", "ChatSessionRenamed", "QuestionAsked",
                                          "AnswerGenerated", "AnswerFeedbackGiven", "ChatSessionErased"]  # fmt: skip
    assert not [kind for kind, data in rows if b"Ottoline" in data]
    assert b'"text":"[encrypted]"' in rows[2][1] and b'"prompt_raw":"[encrypted]"' in rows[3][1]
    history = ok(http.get(f"/chats/{session}/events"))["events"]
    assert history[-1]["type"] == "ChatSessionErased" and history[-1]["actor"] == "admin"
    assert history[-1]["position"] == erased["position"]
    in_log = ok(http.get("/events", params={"stream_prefix": f"chat-{session}"}))
    assert "Ottoline" not in json.dumps(history) and "Ottoline" not in json.dumps(in_log)
    payloads = {e["type"]: e["payload"] for e in history}
    assert payloads["QuestionAsked"]["text"] == "[erased]" and payloads["QuestionAsked"]["username"] == "admin"
    assert payloads["ChatSessionRenamed"]["name"] == "[erased]"
    answer = payloads["AnswerGenerated"]
    assert (answer["text"], answer["prompt_raw"], answer["llm"]) == ("[erased]", "[erased]", "extractive")
    assert answer["message_id"] == asked.message_id and answer["references"]  # the cited chunks stay
    assert payloads["AnswerFeedbackGiven"]["user_comment"] == "[erased]"

    # Every read forgets the session: live, past, provenance, replay, export.
    error_of(http.get(f"/chats/{session}"), 404)
    error_of(http.get(f"/chats/{session}/messages"), 404)
    assert all(s.id != session for s in a["collections"].list_chat_sessions_for_collection(library["collection"]))
    error_of(http.get(f"/messages/{asked.message_id}/references"), 404)
    error_of(http.get(f"/messages/{asked.message_id}/provenance"), 404)
    error_of(http.post(f"/messages/{asked.message_id}/replay"), 404)
    error_of(http.post(f"/chats/{session}/completions", json={"message": "Still there?"}), 404)
    error_of(http.get(f"/past/chats/{session}", params={"as_of": erased["position"]}), 404)
    past = ok(http.get(f"/past/chats/{session}/messages", params={"as_of": answered_at}))
    assert [m["content"] for m in past] == ["[erased]", "[erased]"]  # that there were two messages, not what
    assert ok(http.get(f"/past/chats/{session}", params={"as_of": answered_at}))["name"] == "[erased]"
    exported = http.get(f"/chats/{session}/export")
    assert exported.status_code == 200 and b"Ottoline" not in exported.content and b"[erased]" in exported.content
    after = tmp_path / "after.jsonl"
    after.write_bytes(exported.content)
    for path in (after, exported_before):  # the export made before the erasure stays a valid file of its own
        checked = parley("export", "--verify", str(path), data_dir=server.data_dir, capsys=capsys)
        assert checked.returncode == 0, checked.stderr
    assert b"Ottoline" in exported_before.read_bytes()
    assert "Ottoline" not in http.get(f"/chats/{session}/transcript").text

    again = ok(http.post(f"/chats/{session}/erase"))
    assert (again["position"], again["key_forgotten"]) == (None, False)
    assert [e["type"] for e in ok(http.get(f"/chats/{session}/events"))["events"]].count("ChatSessionErased") == 1
    error_of(http.post("/chats/no-such-session/erase"), 404)
    assert nowhere_in(server.data_dir, "Ottoline") == []


WORKLOAD_QUESTIONS = [
    "When was the lighthouse decommissioned?",
    "Who was the last keeper?",
    "How is rye bread made?",
    "What replaced the lighthouse?",
    "What is the keeper's cottage today?",
    "When can visitors climb the tower?",
    "What did the last keeper keep a logbook of?",
    "What birds live on the headland?",
    "What goes into rye bread?",
    "How long does the dough rise?",
]
# A name in every text of the two sessions that the workload erases, and nowhere else.
PRIVATE = {"erased": "Quillon Ashgrove", "to_erase": "Tamsin Corrowby"}


def private_question(name: str, number: int) -> str:
    return f"{name} asks, question {number}: {WORKLOAD_QUESTIONS[number % len(WORKLOAD_QUESTIONS)]}"


def scripted_workload(a: dict[str, Any], http: httpx.Client) -> dict[str, str]:
    """Collections, ingestion, 50 questions across five sessions, template updates, a rename, a deletion (a session
    and a document) and an erasure; the ids of the session erased and of one that stays, ready to be erased."""
    collection = a["collections"].create_collection(rest.CollectionCreateRequest(name="Workload", description=""))
    upload = a["ingestion"].upload_file(file=("kestrel.pdf", text_pdf(LIGHTHOUSE_PAGES)))
    recipe = a["ingestion"].upload_file(file=("rye.txt", RECIPE))
    a["ingestion"].ingest_upload([upload.id, recipe.id], collection_id=collection.id, timeout=120)
    sessions = [a["chat"].create_chat_session(collection_id=collection.id) for _ in range(5)]
    private = {sessions[2].id: PRIVATE["erased"], sessions[4].id: PRIVATE["to_erase"]}
    for number, session in enumerate(sessions):
        name = private.get(session.id)
        for turn in range(10):
            question = private_question(name, turn) if name else WORKLOAD_QUESTIONS[(number + turn) % 10]
            answer = a["chat"].get_completion(session.id, rest.ChatCompletionRequest(message=question))
            if name and turn == 0:
                feedback = rest.UpdateQAFeedbackRequest(expected_answer=f"{name} expected 1987",
                                                        user_comment=f"Thanks from {name}")  # fmt: skip
                a["chat"].update_question_answer_feedback(answer.message_id, feedback)
        if name:
            a["chat"].update_chat_session(session.id, rest.ChatSessionUpdateRequest(name=f"{name}'s chat"))
    asked = [e for s in sessions for e in ok(http.get(f"/chats/{s.id}/events", params={"limit": 100}))["events"]
             if e["type"] == "QuestionAsked"]  # fmt: skip
    assert len(asked) == 50
    template = ok(http.post("/prompt_templates", json={"name": "Workload", "system_prompt": "One"}), 201)
    ok(http.patch(f"/prompt_templates/{template['id']}", json={"system_prompt": "Two", "lang": "en"}))
    ok(http.patch(f"/prompt_templates/{template['id']}", json={"system_prompt": "Three"}))
    a["chat"].update_chat_session(sessions[0].id, rest.ChatSessionUpdateRequest(name="First"))
    assert a["chat"].delete_chat_session_without_preload_content(sessions[1].id).status == 204
    documents = a["collections"].list_documents_for_collection(collection.id)
    a["collections"].delete_document_from_collection(
        collection.id, next(d.id for d in documents if d.name == "rye.txt")
    )
    assert ok(http.post(f"/chats/{sessions[2].id}/erase"))["key_forgotten"] is True
    return {"erased": sessions[2].id, "to_erase": sessions[4].id, "plain": sessions[0].id}


def nowhere_in(directory: Path, text: str) -> list[str]:
    """The files under ``directory`` whose bytes hold ``text`` (empty: none does)."""
    return [str(path) for path in directory.rglob("*") if path.is_file() and text.encode() in path.read_bytes()]


def corrupt_and_verify(server: ServerProcess, corrupt: Any, read_back: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """--verify passes on the live read models and fails naming a row changed behind the projector's back; with
    the server stopped, ``parley replay`` rebuilds everything and the row is what the log says again."""
    passed = parley("replay", "--verify", data_dir=server.data_dir, capsys=capsys)
    assert passed.returncode == 0, passed.stderr
    assert "identical" in passed.stdout and "DIFFERS" not in passed.stdout and "messages" in passed.stdout
    original = read_back()
    corrupt("tampered by hand")
    failed = parley("replay", "--verify", data_dir=server.data_dir, capsys=capsys)
    assert failed.returncode == 1, failed.stdout
    assert "messages: live row" in failed.stderr and "tampered by hand" in failed.stderr
    assert repr(original) in failed.stderr  # the rebuilt row beside it
    assert [line.split()[0] for line in failed.stdout.splitlines() if "DIFFERS" in line] == ["messages"]
    server.stop()
    rebuilt = parley("replay", data_dir=server.data_dir, capsys=capsys)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "events replayed" in rebuilt.stdout and "events/s" in rebuilt.stdout and "replay" in rebuilt.stderr
    assert read_back() == original


def test_replay_verify_after_a_scripted_workload_then_a_corrupted_row_then_a_rebuild(
    a: dict[str, Any], http: httpx.Client, server: ServerProcess, library: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    sessions = scripted_workload(a, http)
    assert nowhere_in(server.data_dir, PRIVATE["erased"]) == []
    assert nowhere_in(server.data_dir, PRIVATE["to_erase"])  # not erased yet: the search finds what is there
    read_models = server.data_dir / "read_models.sqlite3"

    def corrupt(text: str) -> None:
        with sqlite3.connect(read_models) as conn:
            conn.execute("UPDATE messages SET content = ? WHERE id = ?", (text, library["answer"]))

    def read_back() -> str:
        with sqlite3.connect(read_models) as conn:
            (content,) = conn.execute("SELECT content FROM messages WHERE id = ?", (library["answer"],)).fetchone()
        return str(content)

    corrupt_and_verify(server, corrupt, read_back, capsys)
    # With the server stopped, ``parley erase`` erases the other session; the rebuild still matches the log.
    assert a is not None and server.process is not None and server.process.poll() is not None
    both = ["--session", sessions["to_erase"], "--session", sessions["plain"]]
    refused = parley("erase", *both, "--session", "no-such-session", data_dir=server.data_dir, capsys=capsys)
    assert refused.returncode == 1 and "no-such-session not found" in refused.stderr
    assert nowhere_in(server.data_dir, PRIVATE["to_erase"])  # one unknown id: none of them was erased
    erased = parley("erase", *both, data_dir=server.data_dir, capsys=capsys)
    assert erased.returncode == 0, erased.stderr
    for session_id in (sessions["to_erase"], sessions["plain"]):
        assert f"chat session {session_id}: erased at position" in erased.stdout
    again = parley("erase", "--session", sessions["to_erase"], data_dir=server.data_dir, capsys=capsys)
    assert again.returncode == 0 and "had been erased before" in again.stdout
    verified = parley("replay", "--verify", data_dir=server.data_dir, capsys=capsys)
    assert verified.returncode == 0 and "identical" in verified.stdout, verified.stderr
    assert nowhere_in(server.data_dir, PRIVATE["to_erase"]) == []
    with sqlite3.connect(server.data_dir / "events.sqlite3") as conn:
        rows = conn.execute("SELECT type, data FROM events WHERE stream = ?", (f"chat-{sessions['to_erase']}",))
        stored = {kind: data for kind, data in rows}
    assert b'"text":"[encrypted]"' in stored["QuestionAsked"] and b'"_sealed":' in stored["QuestionAsked"]
    assert json.loads(stored["ChatSessionErased"]) == {"event": "ChatSessionErased", "session_id": sessions["to_erase"]}
