"""Prompt templates through the published h2ogpte REST client (1.7.5), unchanged, against a live Parley server:
written, versioned, attached to collections and sessions, shaping answers; Parley's own routes (versions, diffs,
previews, chat_template), which the client has no method for, through plain HTTP."""

from __future__ import annotations

import json
import urllib.request
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import h2ogpte.rest_sync as rest
import pytest
from h2ogpte.rest_sync.exceptions import BadRequestException, NotFoundException

from api.limits import MAX_JSON_BYTES
from domain.answering import DEFAULT_PROMPT_QUERY, DEFAULT_PROMPT_REFLECTION, DEFAULT_SYSTEM_PROMPT
from domain.template import DEFAULT_TEMPLATE_ID
from tests.api.test_h2ogpte_client import raw
from tests.server import ServerProcess


@pytest.fixture
def templates(api: rest.ApiClient) -> rest.PromptTemplatesApi:
    return rest.PromptTemplatesApi(api)


def unique(name: str) -> str:
    """Names no other test in the session's server uses, so listings can be filtered down to one test's own."""
    return f"{name} {uuid.uuid4().hex[:8]}"


def test_create_read_update_in_versions_and_delete(templates: rest.PromptTemplatesApi, server: ServerProcess) -> None:
    name = unique("Terse")
    created = templates.create_prompt_template_with_http_info(
        rest.PromptTemplateCreateRequest(name=name, description="One line", system_prompt="Answer in one sentence.")
    )
    assert created.status_code == 201 and isinstance(created.data, rest.PromptTemplate)
    template = created.data
    assert (template.name, template.description, template.system_prompt) == (
        name,
        "One line",
        "Answer in one sentence.",
    )
    assert template.is_default is False and template.is_public is False and template.username == "admin"
    assert isinstance(template.created_at, datetime) and template.created_at == template.updated_at
    assert template.prompt_query is None  # not set: the next source in the precedence answers

    read = templates.get_prompt_template_with_http_info(template.id)
    assert read.status_code == 200 and read.data == template

    updated = templates.update_prompt_template_with_http_info(
        template.id, rest.PromptTemplateBase(system_prompt="Be brief.", lang="en")
    )
    assert updated.status_code == 200 and isinstance(updated.data, rest.PromptTemplate)
    assert (updated.data.name, updated.data.system_prompt, updated.data.lang) == (name, "Be brief.", "en")
    assert updated.data.description == "One line" and updated.data.updated_at > template.updated_at
    # An update that changes nothing makes no version.
    templates.update_prompt_template(template.id, rest.PromptTemplateBase(system_prompt="Be brief."))
    status, body = raw(server, "GET", f"/prompt_templates/{template.id}")
    assert status == 200 and isinstance(body, dict) and body["version"] == 2
    # null unsets a field (the typed client leaves unset fields out, so it cannot send one).
    status, body = raw(server, "PATCH", f"/prompt_templates/{template.id}", json.dumps({"lang": None}).encode())
    assert status == 200 and isinstance(body, dict) and "lang" not in body and body["version"] == 3
    status, body = raw(server, "PATCH", f"/prompt_templates/{template.id}", json.dumps({"name": None}).encode())
    assert status == 400 and isinstance(body, dict) and "name can be changed, not cleared" in body["message"]

    status, versions = raw(server, "GET", f"/prompt_templates/{template.id}/versions")
    assert status == 200 and isinstance(versions, list)
    assert [v["version"] for v in versions] == [1, 2, 3]
    assert all(
        v["username"] == "admin" and v["api_key_id"] and v["prompt_template_id"] == template.id for v in versions
    )
    times = [datetime.fromisoformat(v["created_at"]) for v in versions]
    assert times == sorted(times) and times[0] == template.created_at
    changed = [["description", "name", "system_prompt"], ["lang", "system_prompt"], ["lang"]]
    assert [v["changed"] for v in versions] == changed
    assert versions[0]["template"]["system_prompt"] == "Answer in one sentence."
    assert versions[1]["template"] == {
        "name": name,
        "description": "One line",
        "lang": "en",
        "system_prompt": "Be brief.",
    }
    assert "lang" not in versions[2]["template"]

    deleted = templates.delete_prompt_template_with_http_info([template.id])
    assert deleted.status_code == 204 and deleted.data is None
    with pytest.raises(NotFoundException):
        templates.get_prompt_template(template.id)
    with pytest.raises(NotFoundException):
        templates.update_prompt_template(template.id, rest.PromptTemplateBase(system_prompt="Again."))
    with pytest.raises(NotFoundException):
        templates.delete_prompt_template([template.id])
    assert raw(server, "GET", f"/prompt_templates/{template.id}/versions")[0] == 404


def test_list_pages_sorts_filters_and_counts(templates: rest.PromptTemplatesApi) -> None:
    before = templates.get_prompt_template_count().count
    tag = uuid.uuid4().hex[:8]
    names = [f"{tag} {word}" for word in ("Charlie", "Alpha", "Bravo")]
    ids = [templates.create_prompt_template(rest.PromptTemplateCreateRequest(name=name)).id for name in names]
    counted = templates.get_prompt_template_count_with_http_info()
    assert counted.status_code == 200 and counted.data.count == before + 3

    mine = templates.list_prompt_templates_with_http_info(sort_column="name", ascending=True, filter=tag.upper())
    assert mine.status_code == 200 and all(isinstance(t, rest.PromptTemplate) for t in mine.data)
    assert [t.name for t in mine.data] == sorted(names)
    descending = templates.list_prompt_templates(sort_column="name", ascending=False, filter=tag)
    assert [t.name for t in descending] == sorted(names, reverse=True)
    pages = [
        templates.list_prompt_templates(offset=o, limit=2, sort_column="name", ascending=True, filter=tag)
        for o in (0, 2, 4)
    ]
    assert [[t.name for t in p] for p in pages] == [sorted(names)[:2], sorted(names)[2:], []]
    newest = templates.list_prompt_templates(limit=1, filter=tag)  # by default the latest change first
    assert [t.id for t in newest] == [ids[-1]]

    # The built-in default is listed only by list_all, first, and only as a "system" template.
    assert all(not t.is_default for t in templates.list_prompt_templates(limit=1000))
    everything = templates.list_all_prompt_templates_with_http_info(limit=1000)
    assert everything.status_code == 200 and everything.data[0].id == DEFAULT_TEMPLATE_ID
    assert everything.data[0].is_default and {*ids} <= {t.id for t in everything.data}
    assert len(everything.data) == before + 3 + 1
    system = templates.list_all_prompt_templates(template_type="system")
    assert [t.id for t in system] == [DEFAULT_TEMPLATE_ID]
    users = templates.list_all_prompt_templates(template_type="user", filter=tag, sort_column="name", ascending=True)
    assert [t.name for t in users] == sorted(names)
    by_name = templates.list_all_prompt_templates(limit=1000, sort_column="name", ascending=True)
    assert by_name[0].id == DEFAULT_TEMPLATE_ID and [t.name for t in by_name[1:]] == sorted(t.name for t in by_name[1:])
    for offset in (0, 1, 2):  # the default is the first row of the first page; the pages after it follow on
        listed = templates.list_all_prompt_templates(offset=offset, limit=2, sort_column="name", ascending=True)
        assert listed == by_name[offset : offset + 2]
    assert templates.list_all_prompt_templates(filter=tag) == templates.list_prompt_templates(filter=tag)
    assert templates.list_prompt_templates(template_type="system") == []
    with pytest.raises(BadRequestException, match="template_type must be one of all, user, system"):
        templates.list_prompt_templates(template_type="shared")
    templates.delete_prompt_template(ids)
    assert templates.get_prompt_template_count().count == before


def test_the_built_in_default_holds_the_default_texts(templates: rest.PromptTemplatesApi) -> None:
    default = templates.get_default_prompt_template_with_http_info()
    assert default.status_code == 200 and isinstance(default.data, rest.PromptTemplate)
    template = default.data
    assert template.id == DEFAULT_TEMPLATE_ID and template.is_default and template.is_system_default
    assert template.system_prompt == DEFAULT_SYSTEM_PROMPT and template.prompt_query == DEFAULT_PROMPT_QUERY
    assert template.prompt_reflection == DEFAULT_PROMPT_REFLECTION and template.prompt_reflection.count("%s") == 2
    assert templates.get_prompt_template(DEFAULT_TEMPLATE_ID) == template
    with pytest.raises(BadRequestException, match="built-in default template"):
        templates.update_prompt_template(DEFAULT_TEMPLATE_ID, rest.PromptTemplateBase(system_prompt="Mine."))
    with pytest.raises(BadRequestException, match="built-in default template"):
        templates.delete_prompt_template([DEFAULT_TEMPLATE_ID])
    assert templates.get_default_prompt_template() == template


def test_a_bad_template_is_400_and_stores_nothing(templates: rest.PromptTemplatesApi, server: ServerProcess) -> None:
    before = templates.get_prompt_template_count().count
    name = unique("Judge")
    with pytest.raises(BadRequestException) as refused:
        templates.create_prompt_template(rest.PromptTemplateCreateRequest(name=name, prompt_reflection="Judge %s"))
    assert refused.value.status == 400
    assert "prompt_reflection needs exactly 2 %s placeholders, found 1" in json.loads(refused.value.body)["message"]
    assert templates.get_prompt_template_count().count == before
    assert templates.list_all_prompt_templates(filter=name) == []
    # Strict JSON types: a name must be a string, and a template needs one.
    for body in ({"name": 7}, {"system_prompt": "x"}, {"name": "x", "default_sample_questions": "Why?"}):
        status, error = raw(server, "POST", "/prompt_templates", json.dumps(body).encode())
        assert status == 400 and isinstance(error, dict) and error["code"] == 400, (body, error)
    # A body over the JSON routes' limit is refused before it is read as a template.
    huge = json.dumps({"name": name, "system_prompt": "x" * (MAX_JSON_BYTES + 1)}).encode()
    status, error = raw(server, "POST", "/prompt_templates", huge)
    assert status == 413 and isinstance(error, dict) and error["code"] == 413
    assert templates.get_prompt_template_count().count == before

    kept = templates.create_prompt_template(rest.PromptTemplateCreateRequest(name=name, prompt_reflection="%s / %s"))
    with pytest.raises(BadRequestException, match="prompt_reflection needs exactly 2"):
        templates.update_prompt_template(kept.id, rest.PromptTemplateBase(prompt_reflection="%s %s %s"))
    assert templates.get_prompt_template(kept.id) == kept
    status, versions = raw(server, "GET", f"/prompt_templates/{kept.id}/versions")
    assert status == 200 and isinstance(versions, list) and len(versions) == 1
    templates.delete_prompt_template([kept.id])


def test_group_sharing_and_default_visibility_are_not_routed(templates: rest.PromptTemplatesApi) -> None:
    """Parley has users, not groups, and its default template is always there: these are absent, not pretended."""
    template = templates.create_prompt_template(rest.PromptTemplateCreateRequest(name=unique("Private")))
    absent: list[Callable[[], object]] = [
        lambda: templates.update_default_prompt_template_visibility(
            DEFAULT_TEMPLATE_ID, rest.UpdateDefaultPromptTemplateVisibilityRequest(is_visible=False)
        ),
        lambda: templates.get_prompt_template_group_permissions(template.id),
    ]
    for call in absent:
        with pytest.raises(NotFoundException):
            call()


# --- templates at work: attached to collections and sessions, shaping answers ----------------------------------

QUESTION = "When was the Kestrel Point lighthouse decommissioned?"
KESTREL = (
    b"The Kestrel Point lighthouse was decommissioned in 1987, after an automatic beacon replaced it. "
    b"Its last keeper, Morwenna Tregarthen, kept a logbook of every ship that passed.\n\n"
    b"To bake rye bread, mix rye flour, water, salt and a sourdough starter, then let it rise overnight."
)


@pytest.fixture(scope="module")
def kestrel(api: rest.ApiClient) -> str:
    """A collection with one small document, made once for the module's tests."""
    collection = rest.CollectionsApi(api).create_collection(
        rest.CollectionCreateRequest(name=unique("Kestrel"), description="a lighthouse")
    )
    ingestion = rest.DocumentIngestionApi(api)
    upload = ingestion.upload_file(file=("kestrel.txt", KESTREL))
    ingestion.ingest_upload([upload.id], collection_id=collection.id, timeout=120)
    return str(collection.id)


def asked(chat: rest.ChatApi, session_id: str, **fields: Any) -> tuple[str, dict[str, Any], str]:
    """An answer's prompt_raw and usage_stats meta, and its message id."""
    answer = chat.get_completion(session_id, rest.ChatCompletionRequest(message=QUESTION, **fields))
    meta = {m.message_type: m.content for m in chat.get_message_meta(answer.message_id)}
    return meta["prompt_raw"], json.loads(meta["usage_stats"]), answer.message_id


def made_with(prompt: str, usage: dict[str, Any], template_id: str, version: int | None, system: str) -> bool:
    shown = "built-in" if version is None else version
    return (
        prompt.startswith(f"<|template|>\n{template_id} version {shown}\n\n<|system|>\n{system}\n\n<|user|>")
        and usage["prompt_template_id"] == template_id
        and usage["prompt_template_version"] == version
    )


def test_templates_shape_answers_nearest_first(
    api: rest.ApiClient, templates: rest.PromptTemplatesApi, kestrel: str
) -> None:
    """The issue's walk through the real client: the collection's template, the session's winning over it, a new
    version recorded by the next answer only, the request's own field over both, and detaching."""
    chat, collections = rest.ChatApi(api), rest.CollectionsApi(api)
    on_collection = templates.create_prompt_template(
        rest.PromptTemplateCreateRequest(name=unique("Collection voice"), system_prompt="Speak as the archive.")
    )
    change = rest.PromptTemplateChangeRequest(prompt_template_id=on_collection.id)
    attached = collections.update_collection_prompt_template_with_http_info(kestrel, change)
    assert attached.status_code == 200 and isinstance(attached.data, rest.Collection)
    assert attached.data.prompt_template_id == on_collection.id
    assert collections.get_collection(kestrel).prompt_template_id == on_collection.id

    session = chat.create_chat_session(collection_id=kestrel)
    prompt, usage, _ = asked(chat, session.id)
    assert made_with(prompt, usage, on_collection.id, 1, "Speak as the archive."), prompt
    assert "decommissioned in 1987" in prompt and usage["prompt_sources"]["system_prompt"] == "collection_template"
    assert usage["lang"] == "en"  # the default template's: the collection's template names none

    on_session = templates.create_prompt_template(
        rest.PromptTemplateCreateRequest(name=unique("Session voice"), system_prompt="Speak as the keeper.")
    )
    change = rest.PromptTemplateChangeRequest(prompt_template_id=on_session.id)
    moved = chat.update_chat_session_prompt_template_with_http_info(session.id, change)
    assert moved.status_code == 200 and isinstance(moved.data, rest.ChatSession)
    assert moved.data.prompt_template_id == on_session.id
    prompt, usage, keeper_answer = asked(chat, session.id)
    assert made_with(prompt, usage, on_session.id, 1, "Speak as the keeper."), prompt
    assert "archive" not in prompt and usage["prompt_sources"]["system_prompt"] == "session_template"

    templates.update_prompt_template(on_session.id, rest.PromptTemplateBase(system_prompt="Speak as the new keeper."))
    prompt, usage, _ = asked(chat, session.id)
    assert made_with(prompt, usage, on_session.id, 2, "Speak as the new keeper."), prompt
    old = {m.message_type: m.content for m in chat.get_message_meta(keeper_answer)}
    assert made_with(old["prompt_raw"], json.loads(old["usage_stats"]), on_session.id, 1, "Speak as the keeper.")

    prompt, usage, _ = asked(chat, session.id, system_prompt="Speak as the request.")
    assert (
        made_with(prompt, usage, on_session.id, 2, "Speak as the request.")
        and usage["prompt_sources"]["system_prompt"] == "request"
    )

    detached = chat.delete_chat_session_prompt_template_with_http_info(session.id)
    assert detached.status_code == 200 and detached.data.prompt_template_id is None
    prompt, usage, _ = asked(chat, session.id)
    assert made_with(prompt, usage, on_collection.id, 1, "Speak as the archive."), prompt
    # Detaching twice changes nothing; an unknown template cannot be attached.
    assert chat.delete_chat_session_prompt_template(session.id).prompt_template_id is None
    with pytest.raises(NotFoundException):
        chat.update_chat_session_prompt_template(session.id, rest.PromptTemplateChangeRequest(prompt_template_id="x"))
    with pytest.raises(NotFoundException):
        collections.update_collection_prompt_template("nope", change)
    collections.delete_collection_prompt_template(kestrel)
    templates.delete_prompt_template([on_collection.id, on_session.id])


def test_chat_settings_come_below_the_collections_template(
    api: rest.ApiClient, templates: rest.PromptTemplatesApi, server: ServerProcess, kestrel: str
) -> None:
    chat, collections = rest.ChatApi(api), rest.CollectionsApi(api)
    settings = rest.ChatSettings(
        llm="extractive", rag_config={"system_prompt": "Speak as the settings.", "prompt_query": "Settings ask: "}
    )
    replaced = collections.update_collection_chat_settings_with_http_info(kestrel, settings)
    assert replaced.status_code == 204 and replaced.data is None
    read = collections.get_collection_chat_settings_with_http_info(kestrel)
    assert read.status_code == 200 and isinstance(read.data, rest.ChatSettings)
    assert read.data.llm == "extractive" and read.data.rag_config == settings.rag_config

    template = templates.create_prompt_template(
        rest.PromptTemplateCreateRequest(
            name=unique("Over settings"),
            system_prompt="Speak as the template.",
            default_sample_questions=["Who kept the logbook?"],
        )
    )
    collections.update_collection_prompt_template(
        kestrel, rest.PromptTemplateChangeRequest(prompt_template_id=template.id)
    )
    session = chat.create_chat_session(collection_id=kestrel)
    prompt, usage, _ = asked(chat, session.id)
    assert made_with(prompt, usage, template.id, 1, "Speak as the template."), prompt
    assert "Settings ask: When was" in prompt and usage["prompt_sources"]["prompt_query"] == "chat_settings"
    # Its sample questions stand in until the documents suggest some.
    assert [q.question for q in collections.list_questions_for_collection(kestrel)] == ["Who kept the logbook?"]
    assert [q.question for q in chat.list_questions_for_chat_session(session.id)] == ["Who kept the logbook?"]

    assert collections.delete_collection_prompt_template(kestrel).prompt_template_id is None
    prompt, usage, _ = asked(chat, session.id)
    assert made_with(prompt, usage, DEFAULT_TEMPLATE_ID, None, "Speak as the settings."), prompt

    status, _ = raw(server, "DELETE", f"/collections/{kestrel}/prompt_settings")
    assert status == 204
    after = collections.get_collection_chat_settings(kestrel)
    assert after.llm == "extractive" and not (after.rag_config or {}).get("system_prompt")
    prompt, usage, _ = asked(chat, session.id)  # no source gives a system prompt: none, the default texts else
    assert prompt.startswith(f"<|template|>\n{DEFAULT_TEMPLATE_ID} version built-in\n\n<|user|>\n"), prompt
    assert DEFAULT_PROMPT_QUERY + QUESTION in prompt and usage["prompt_sources"]["prompt_query"] == "default"
    prompt, usage, _ = asked(chat, session.id, system_prompt="auto")
    assert made_with(prompt, usage, DEFAULT_TEMPLATE_ID, None, DEFAULT_SYSTEM_PROMPT), prompt
    # Chat settings are checked as a completion's are.
    with pytest.raises(BadRequestException, match="llm_args has unknown keys"):
        collections.update_collection_chat_settings(kestrel, rest.ChatSettings(llm_args={"warmth": 1}))
    templates.delete_prompt_template([template.id])


CHAT_TEMPLATE = """<|system|>
{{ system_prompt }} ({{ collection.name if collection else 'no collection' }})
<|user|>
{% for d in documents %}<<{{ d.citation }}|{{ d.name }}|{{ d.page }}>> {{ d.text }}
{% endfor %}Q: {{ question }}"""


def test_the_preview_is_the_prompt_of_the_answer_asked_next(
    api: rest.ApiClient, server: ServerProcess, kestrel: str
) -> None:
    chat = rest.ChatApi(api)
    body = {"name": unique("Previewed"), "system_prompt": "Speak plainly.", "chat_template": CHAT_TEMPLATE}
    status, made = raw(server, "POST", "/prompt_templates", json.dumps(body).encode())
    assert status == 201 and isinstance(made, dict) and made["chat_template"] == CHAT_TEMPLATE
    template_id = made["id"]

    session = chat.create_chat_session(collection_id=kestrel)
    chat.update_chat_session_prompt_template(
        session.id, rest.PromptTemplateChangeRequest(prompt_template_id=template_id)
    )
    question = {"question": QUESTION, "session_id": session.id}
    status, preview = raw(server, "POST", f"/prompt_templates/{template_id}/preview", json.dumps(question).encode())
    assert status == 200 and isinstance(preview, dict), preview
    assert [m["role"] for m in preview["messages"]] == ["system", "user"]
    assert preview["messages"][0]["content"].startswith("Speak plainly. (Kestrel ")
    assert (
        "<<1|kestrel.txt|1>> The Kestrel Point lighthouse was decommissioned in 1987"
        in preview["messages"][1]["content"]
    )
    assert preview["messages"][1]["content"].endswith(f"Q: {QUESTION}")
    assert preview["references"] and preview["references"][0]["document_name"] == "kestrel.txt"
    assert (preview["prompt_template_id"], preview["version"], preview["rag_type"]) == (template_id, 1, "rag")
    assert chat.get_chat_session_messages(session.id) == []  # a preview records nothing

    prompt, usage, _ = asked(chat, session.id)
    assert prompt == preview["prompt_raw"]
    assert usage["prompt_sources"]["chat_template"] == "session_template"

    # In a collection (no history), with the built-in default attached to the session: the same equality.
    fresh = chat.create_chat_session(collection_id=kestrel)
    default = rest.PromptTemplateChangeRequest(prompt_template_id=DEFAULT_TEMPLATE_ID)
    assert chat.update_chat_session_prompt_template(fresh.id, default).prompt_template_id == DEFAULT_TEMPLATE_ID
    question = {"question": QUESTION, "collection_id": kestrel}
    status, preview = raw(
        server, "POST", f"/prompt_templates/{DEFAULT_TEMPLATE_ID}/preview", json.dumps(question).encode()
    )
    assert status == 200 and isinstance(preview, dict)
    prompt, _, _ = asked(chat, fresh.id)
    assert prompt == preview["prompt_raw"]
    assert prompt.startswith(
        f"<|template|>\n{DEFAULT_TEMPLATE_ID} version built-in\n\n<|system|>\n{DEFAULT_SYSTEM_PROMPT}"
    )

    for bad, expected in (
        ({"question": QUESTION, "session_id": "nope"}, 404),
        ({"question": ""}, 400),
        ({"question": QUESTION, "rag_config": {"rag_type": "hyde1"}, "collection_id": kestrel}, 400),
    ):
        status, error = raw(server, "POST", f"/prompt_templates/{template_id}/preview", json.dumps(bad).encode())
        assert status == expected and isinstance(error, dict) and error["code"] == expected, (bad, error)
    assert raw(server, "POST", "/prompt_templates/nope/preview", json.dumps({"question": "Q?"}).encode())[0] == 404
    raw(server, "DELETE", f"/prompt_templates/{template_id}")


SSTI = (
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ self.__init__.__globals__.__builtins__ }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ lipsum.__globals__['os'].popen('id').read() }}",
    "{{ config.items() }}",
    "{{ request.application.__globals__ }}",
    "{{ question|attr('__class__')|attr('__mro__') }}",
)


def test_template_injection_is_refused_and_recorded(templates: rest.PromptTemplatesApi, server: ServerProcess) -> None:
    before = templates.get_prompt_template_count().count
    for payload in SSTI:
        body = json.dumps({"name": unique("Attack"), "chat_template": payload}).encode()
        status, error = raw(server, "POST", "/prompt_templates", body)
        assert status == 400 and isinstance(error, dict), (payload, error)
        assert "reaches for Python internals" in error["message"] and error["error_type"] == "UnsafeTemplate"
    kept = templates.create_prompt_template(rest.PromptTemplateCreateRequest(name=unique("Target")))
    status, error = raw(
        server, "PATCH", f"/prompt_templates/{kept.id}", json.dumps({"chat_template": SSTI[0]}).encode()
    )
    assert status == 400 and isinstance(error, dict) and error["error_type"] == "UnsafeTemplate"
    assert templates.get_prompt_template_count().count == before + 1
    status, versions = raw(server, "GET", f"/prompt_templates/{kept.id}/versions")
    assert isinstance(versions, list) and len(versions) == 1  # refused: no event, no version
    refusals = [line for line in server.log().splitlines() if "parley.refused" in line]
    assert sum("refused create_prompt_template from actor=admin" in line for line in refusals) >= len(SSTI)
    assert any("refused update_prompt_template from actor=admin" in line for line in refusals)
    templates.delete_prompt_template([kept.id])


def test_a_chat_template_is_checked_when_saved_and_bounded_when_answering(
    api: rest.ApiClient, server: ServerProcess, kestrel: str
) -> None:
    for template, message in (
        ("{{ question }}\n{% for d in documents %}", "syntax error at line 2"),
        ("{{ question }}\n\n{{ weather }}", "unknown variable 'weather' (line 3)"),
        ("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", "longer than 2 s"),
        ("{% for i in range(99999) %}{{ question }}{% endfor %}", "renders more than 1,000,000 characters"),
    ):
        body = json.dumps({"name": unique("Broken"), "chat_template": template}).encode()
        status, error = raw(server, "POST", "/prompt_templates", body)
        assert status == 400 and isinstance(error, dict) and message in error["message"], (template, error)
    # Fine on the sample question it is tried on when saved; too long for the question it answers.
    body = json.dumps({"name": unique("Echo"), "chat_template": "{{ question * 25000 }}"}).encode()
    status, made = raw(server, "POST", "/prompt_templates", body)
    assert status == 201 and isinstance(made, dict)
    chat = rest.ChatApi(api)
    session = chat.create_chat_session(collection_id=kestrel)
    chat.update_chat_session_prompt_template(
        session.id, rest.PromptTemplateChangeRequest(prompt_template_id=made["id"])
    )
    with pytest.raises(BadRequestException) as stopped:
        chat.get_completion(session.id, rest.ChatCompletionRequest(message=QUESTION))
    assert "more than 1,000,000 characters" in json.loads(stopped.value.body)["message"]
    assert chat.get_chat_session_messages(session.id) == []  # the author's mistake: nothing recorded
    raw(server, "DELETE", f"/prompt_templates/{made['id']}")


def test_one_version_and_the_diff_of_two(templates: rest.PromptTemplatesApi, server: ServerProcess) -> None:
    made = templates.create_prompt_template(
        rest.PromptTemplateCreateRequest(name=unique("Diffed"), system_prompt="One.\nTwo.\n")
    )
    templates.update_prompt_template(made.id, rest.PromptTemplateBase(system_prompt="One.\nThree.\n", lang="en"))
    status, first = raw(server, "GET", f"/prompt_templates/{made.id}/versions/1")
    assert status == 200 and isinstance(first, dict) and first["version"] == 1
    assert first["template"]["system_prompt"] == "One.\nTwo.\n" and "lang" not in first["template"]
    assert raw(server, "GET", f"/prompt_templates/{made.id}/versions/3")[0] == 404
    status, diff = raw(server, "GET", f"/prompt_templates/{made.id}/diff?from=1&to=2")
    assert status == 200 and isinstance(diff, dict) and (diff["from_version"], diff["to_version"]) == (1, 2)
    assert diff["fields"] == {
        "lang": "--- lang@1\n+++ lang@2\n@@ -0,0 +1 @@\n+en\n\\ No newline at end of text\n",
        "system_prompt": "--- system_prompt@1\n+++ system_prompt@2\n@@ -1,2 +1,2 @@\n One.\n-Two.\n+Three.\n",
    }
    status, same = raw(server, "GET", f"/prompt_templates/{made.id}/diff?from=2&to=2")
    assert status == 200 and isinstance(same, dict) and same["fields"] == {}
    assert raw(server, "GET", f"/prompt_templates/{made.id}/diff?from=1")[0] == 400
    assert raw(server, "GET", f"/prompt_templates/{made.id}/diff?from=0&to=1")[0] == 400
    with urllib.request.urlopen(f"{server.base_url}/schema/openapi.json") as response:
        operations = {op.get("operationId") for path in json.load(response)["paths"].values() for op in path.values()}
    assert {
        "get_prompt_template_version",
        "diff_prompt_template_versions",
        "preview_prompt_template",
        "update_collection_prompt_template",
        "update_chat_session_prompt_template",
        "get_collection_chat_settings",
        "reset_collection_prompt_settings",
    } <= operations
    templates.delete_prompt_template([made.id])
