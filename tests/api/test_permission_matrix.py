"""The permission matrix: every routed operation, called by every kind of caller, answers the status code the
roles table of the README says.

The operations come from the live server's OpenAPI document, so an endpoint added later without a row in
``SPEC`` fails ``test_every_operation_has_a_row``. The expected codes are worked out here from each row (what
the path names, the level it needs, whether a collection-scoped key may call it), independently of the server's
own rules in ``api/access.py``. The owner's objects are shared: a collection with a document (read by
``reader``, written by ``writer``), a chat session with an answer, a template, an upload and a job; operations
that destroy what they are called on get fresh objects for every call that must succeed.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.api.keys import issue_key
from tests.documents import text_pdf
from tests.server import ADMIN_KEY, ServerProcess

PAGES = ["The Kestrel Point lighthouse was lit in 1871 and decommissioned in 1987. Its keeper kept bees."]
CALLERS = ("none", "revoked", "expired", "other", "scoped_other", "scoped_this", "reader", "writer", "admin", "owner")


@dataclass(frozen=True)
class Row:
    """What an operation's path names (``on``) and the level it needs there; ``scoped``: a collection-scoped key
    may call it (on its collection). ``on``: any (nothing: any user), admin, self (the caller's user),
    collection, session (the owner's alone), template (shared to read only), document, job, uploads."""

    on: str
    level: str = "read"  # read | write | own
    scoped: bool = False
    fresh: bool = False  # destroys its target: a new one for every call that should succeed
    body: Callable[[World], Any] | None = None
    query: Callable[[World], dict[str, Any]] | None = None
    files: bool = False


def _ask(w: World) -> dict[str, Any]:
    return {"message": "When was the lighthouse lit?"}


def _chat(w: World) -> dict[str, Any]:
    return {
        "model": "parley-rag",
        "messages": [{"role": "user", "content": "When was it lit?"}],
        "collection_id": w.collection,
    }


SPEC: dict[str, Row] = {
    # collections
    "create_collection": Row("any", body=lambda w: {"name": "made", "description": ""}),
    "list_collections": Row("any"),
    "get_collection_count": Row("any"),
    "get_collection": Row("collection"),
    "update_collection": Row("collection", "write", body=lambda w: {"description": "changed"}),
    "delete_collection": Row("collection", "own", fresh=True),
    "get_collection_settings": Row("collection"),
    "update_collection_settings": Row("collection", "write", body=lambda w: {}),
    "get_collection_chat_settings": Row("collection"),
    "update_collection_chat_settings": Row("collection", "write", body=lambda w: {}),
    "reset_collection_prompt_settings": Row("collection", "write"),
    "update_collection_prompt_template": Row(
        "collection", "write", body=lambda w: {"prompt_template_id": w.public_template}
    ),
    "delete_collection_prompt_template": Row("collection", "write"),
    "list_documents_for_collection": Row("collection"),
    "get_document_count_for_collection": Row("collection"),
    "delete_document_from_collection": Row("collection", "write", fresh=True),
    "list_questions_for_collection": Row("collection"),
    "list_chat_sessions_for_collection": Row("collection"),
    "get_chat_session_count_for_collection": Row("collection"),
    "get_collection_permissions": Row("collection"),
    "share_collection": Row("collection", "own", body=lambda w: {"permissions": ["read"]}),
    "unshare_collection": Row("collection", "own"),
    "unshare_collection_for_all": Row("collection", "own", fresh=True),
    "update_collection_privacy": Row("collection", "own", body=lambda w: {"is_public": False}),
    # documents, uploads, jobs
    "list_documents": Row("any"),
    "get_document_count": Row("any"),
    "get_document": Row("document"),
    "upload_file": Row("any", files=True),
    "ingest_upload": Row("uploads", "write", query=lambda w: {"collection_id": w.collection, "timeout": 120}),
    "create_ingest_upload_job": Row("uploads", "write", query=lambda w: {"collection_id": w.collection}),
    "get_job": Row("job"),
    "list_jobs": Row("any"),
    # chat
    "create_chat_session": Row("collection", scoped=True, query=lambda w: {"collection_id": w.collection}),
    "list_chat_sessions": Row("any"),
    "get_chat_session_count": Row("any"),
    "get_chat_session": Row("session", scoped=True),
    "update_chat_session": Row("session", body=lambda w: {"name": "renamed"}),
    "delete_chat_session": Row("session", fresh=True),
    "update_chat_session_prompt_template": Row("session", body=lambda w: {"prompt_template_id": w.public_template}),
    "delete_chat_session_prompt_template": Row("session"),
    "get_chat_session_messages": Row("session", scoped=True),
    "get_completion": Row("session", scoped=True, body=_ask),
    "list_questions_for_chat_session": Row("session", scoped=True),
    "get_message_meta": Row("session", scoped=True),
    "get_message_references": Row("session", scoped=True),
    "set_message_votes": Row("session", body=lambda w: {"votes": 1}),
    "update_question_answer_feedback": Row("session", body=lambda w: {"user_comment": "fine"}),
    "list_models": Row("any"),
    # prompt templates
    "create_prompt_template": Row("any", body=lambda w: {"name": f"made {uuid.uuid4()}"}),
    "list_prompt_templates": Row("any"),
    "list_all_prompt_templates": Row("any"),
    "get_prompt_template_count": Row("any"),
    "get_default_prompt_template": Row("any"),
    "get_prompt_template": Row("template"),
    "update_prompt_template": Row("template", "write", body=lambda w: {"description": "changed"}),
    "delete_prompt_template": Row("template", "own", fresh=True),
    "list_prompt_template_versions": Row("template"),
    "get_prompt_template_version": Row("template"),
    "diff_prompt_template_versions": Row("template", query=lambda w: {"from": 1, "to": 1}),
    "preview_prompt_template": Row("template", body=lambda w: {"question": "When was it lit?"}),
    "get_prompt_template_permissions": Row("template"),
    "share_prompt_template": Row("template", "own"),
    "unshare_prompt_template": Row("template", "own"),
    "unshare_prompt_template_for_all": Row("template", "own", fresh=True),
    "reset_and_share_prompt_template": Row("template", "own", fresh=True, body=lambda w: {"usernames": []}),
    "update_prompt_template_privacy": Row("template", "own", body=lambda w: {"is_public": False}),
    # audit
    "get_chat_session_events": Row("session"),
    "get_collection_events": Row("collection"),
    "get_document_events": Row("document"),
    "get_prompt_template_events": Row("template"),
    "list_events": Row("admin"),
    "get_chat_session_as_of": Row("session", query=lambda w: {"as_of": w.now()}),
    "get_chat_session_messages_as_of": Row("session", query=lambda w: {"as_of": w.now()}),
    "get_message_references_as_of": Row("session", query=lambda w: {"as_of": w.now()}),
    "get_collection_as_of": Row("collection", query=lambda w: {"as_of": w.now()}),
    "list_documents_for_collection_as_of": Row("collection", query=lambda w: {"as_of": w.now()}),
    "get_document_as_of": Row("document", query=lambda w: {"as_of": w.now()}),
    "get_prompt_template_as_of": Row("template", query=lambda w: {"as_of": w.now()}),
    "export_chat_session": Row("session"),
    "get_chat_session_transcript": Row("session"),
    "get_message_provenance": Row("session"),
    "replay_message": Row("session"),
    "erase_chat_session": Row("admin", fresh=True),
    # the OpenAI-compatible API
    "openai_chat_completions": Row("collection", scoped=True, body=lambda w: _chat(w)),
    "openai_list_models": Row("any"),
    "openai_get_model": Row("any"),
    "openai_embeddings": Row("any", body=lambda w: {"input": "bees", "model": "all-MiniLM-L6-v2"}),
    "openai_search": Row("collection", body=lambda w: {"collections": [w.collection], "prompt": "bees"}),
    # users and keys
    "create_user": Row("admin", body=lambda w: {"user_id": f"made-{uuid.uuid4().hex[:8]}"}),
    "list_users": Row("admin"),
    "get_user": Row("self"),
    "get_current_user_permissions": Row("any"),
    "request_current_user_deletion": Row("any"),
    "confirm_current_user_deletion": Row("any", body=lambda w: {"delete_id": "not-a-request"}),
    "delete_user": Row("admin", fresh=True),
    "create_api_key_for_user": Row("admin", body=lambda w: {"user_id": w.owner_id, "name": "more"}),
    "list_all_api_keys": Row("admin"),
    "deactivate_api_key": Row("admin", fresh=True),
    "update_api_key_expiry": Row("admin", body=lambda w: {"expires_in": "30d"}),
    "update_api_key_inactivity_interval": Row("admin", body=lambda w: {"inactivity_interval": 30}),
    "delete_api_key": Row("admin", fresh=True),
}

# Operations that answer 400 to every caller allowed past access control: the request is valid for access but
# not for the operation (a deletion id nobody requested).
REFUSED_BY_THE_OPERATION = {"confirm_current_user_deletion": 400}
REFUSED_FOR = {("request_current_user_deletion", "admin"): 400}  # an admin user is not deleted


@dataclass
class World:
    server: ServerProcess
    admin: httpx.Client
    keys: dict[str, str] = field(default_factory=dict)
    owner_id: str = ""
    collection: str = ""
    other_collection: str = ""
    document: str = ""
    session: str = ""
    message: str = ""
    template: str = ""
    public_template: str = "parley-default"
    upload: str = ""
    job: str = ""
    spare_key: str = ""

    def now(self) -> str:
        return datetime.now(UTC).isoformat()

    def client(self, caller: str) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.keys[caller]}"} if caller != "none" else {}
        return httpx.Client(base_url=self.server.base_url, headers=headers, timeout=120)

    def as_owner(self) -> httpx.Client:
        return self.client("owner")

    # --- fresh objects, for the operations that destroy theirs -------------------------------------------

    def new_collection(self, with_document: bool = False) -> tuple[str, str | None]:
        with self.as_owner() as owner:
            collection = ok(owner.post("/api/v1/collections", json={"name": "fresh", "description": ""}))["id"]
            for username, permissions in ((self.user("reader"), ["read"]), (self.user("writer"), ["read", "write"])):
                ok(
                    owner.put(
                        f"/api/v1/collections/{collection}/permissions/{username}", json={"permissions": permissions}
                    )
                )
            document = None
            if with_document:
                upload = ok(owner.put("/api/v1/uploads", files={"file": ("fresh.pdf", text_pdf(PAGES))}))["id"]
                ok(owner.post(f"/api/v1/uploads/{upload}/ingest", params={"collection_id": collection, "timeout": 120}))
                document = ok(owner.get(f"/api/v1/collections/{collection}/documents"))[0]["id"]
        return collection, document

    def new_session(self) -> str:
        with self.as_owner() as owner:
            return str(ok(owner.post("/api/v1/chats", params={"collection_id": self.collection}))["id"])

    def new_template(self) -> str:
        with self.as_owner() as owner:
            template = ok(owner.post("/api/v1/prompt_templates", json={"name": f"fresh {uuid.uuid4()}"}))["id"]
            ok(owner.put(f"/api/v1/prompt_templates/{template}/permissions/{self.user('reader')}"))
            ok(owner.put(f"/api/v1/prompt_templates/{template}/permissions/{self.user('writer')}"))
        return str(template)

    def new_key(self) -> str:
        made = ok(self.admin.post("/api/v1/admin/api_keys", json={"user_id": self.owner_id, "name": "spare"}))
        return str(made["api_key"]["id"])

    def user(self, caller: str) -> str:
        return f"{caller}-{self.tag}"

    tag: str = ""


def ok(response: httpx.Response) -> Any:
    assert response.status_code < 300, response.text
    return response.json() if response.content else None


@pytest.fixture(scope="module")
def world(server: ServerProcess) -> World:
    tag = uuid.uuid4().hex[:8]
    admin = httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=120)
    w = World(server=server, admin=admin, tag=tag)
    w.owner_id = w.user("owner")
    w.keys["admin"] = ADMIN_KEY
    for caller in ("owner", "other", "reader", "writer", "dummy"):
        w.keys[caller] = issue_key(server, w.user(caller))
    w.collection, document = w.new_collection(with_document=True)
    assert document is not None
    w.document = document
    with w.as_owner() as owner:
        w.session = w.new_session()
        answer = ok(owner.post(f"/api/v1/chats/{w.session}/completions", json=_ask(w)))
        w.message = answer["message_id"]
        w.template = w.new_template()
        w.upload = ok(owner.put("/api/v1/uploads", files={"file": ("spare.pdf", text_pdf(PAGES))}))["id"]
        job_upload = ok(owner.put("/api/v1/uploads", files={"file": ("job.pdf", text_pdf(PAGES))}))["id"]
        w.job = ok(owner.post(f"/api/v1/uploads/{job_upload}/ingest/job", params={"collection_id": w.collection}))["id"]
    with w.client("other") as other:
        w.other_collection = ok(other.post("/api/v1/collections", json={"name": "theirs", "description": ""}))["id"]
    w.keys["scoped_this"] = issue_key(server, w.owner_id, collection_id=w.collection)
    w.keys["scoped_other"] = issue_key(server, w.user("other"), collection_id=w.other_collection)
    w.keys["revoked"] = issue_key(server, w.owner_id, name="revoked")
    revoked_id = next(k["id"] for k in ok(admin.get("/api/v1/admin/api_keys", params={"filter": "revoked"})))
    ok(admin.post(f"/api/v1/admin/api_keys/deactivate/{revoked_id}"))
    w.keys["expired"] = issue_key(server, w.owner_id, expires_in="1s")
    w.spare_key = w.new_key()
    time.sleep(1.1)
    return w


def expected(operation: str, row: Row, caller: str) -> int:
    """The status ``caller`` gets, by the roles table; 0 means "success"."""
    if caller in ("none", "revoked", "expired"):
        return 401
    scoped = caller.startswith("scoped")
    if scoped and not row.scoped:
        return 403
    if caller == "admin":
        return 0
    if row.on == "admin":
        return 403
    if row.on == "any":
        return 0
    if row.on == "self":
        return 0 if caller in ("owner", "scoped_this") else 404
    owner_side = caller in ("owner", "scoped_this")
    if row.on in ("session", "job", "uploads"):  # the owner's alone
        return 0 if owner_side else 404
    if caller == "scoped_other":  # outside its collection, on an object it cannot see
        return 403 if row.on == "collection" else 404
    if owner_side:
        return 0
    if caller == "other":
        return 404
    if row.on == "document":
        return 0
    granted = {"reader": ("read",), "writer": ("read", "write")}[caller]
    if row.on == "template":
        granted = ("read",)  # a template is shared to read
    return 0 if row.level in granted else 403


def target(w: World, operation: str, row: Row, fresh: bool) -> dict[str, str]:
    """The path parameters of a call."""
    values = {
        "collection_id": w.collection,
        "document_id": w.document,
        "session_id": w.session,
        "message_id": w.message,
        "answer_id": w.message,
        "prompt_template_id": w.template,
        "job_id": w.job,
        "upload_ids": w.upload,
        "key_id": w.spare_key,
        "user_id": w.owner_id,
        "username": w.user("dummy"),
        "version": "1",
        "model": "extractive",
    }
    if not fresh:
        return values
    if operation in ("delete_collection", "unshare_collection_for_all"):
        values["collection_id"], _ = w.new_collection()
    elif operation == "delete_document_from_collection":
        collection, document = w.new_collection(with_document=True)
        values["collection_id"], values["document_id"] = collection, str(document)
    elif operation in ("delete_chat_session", "erase_chat_session"):
        values["session_id"] = w.new_session()
    elif operation in ("delete_prompt_template", "unshare_prompt_template_for_all", "reset_and_share_prompt_template"):
        values["prompt_template_id"] = w.new_template()
    elif operation in ("deactivate_api_key", "delete_api_key"):
        values["key_id"] = w.new_key()
    elif operation == "delete_user":
        issue_key(w.server, w.user(f"gone-{uuid.uuid4().hex[:6]}"))
        gone = [u["id"] for u in ok(w.admin.get("/api/v1/users", params={"limit": 10_000})) if "gone-" in u["id"]]
        values["user_id"] = gone[-1]
    return values


def operations(server: ServerProcess) -> list[tuple[str, str, str, int]]:
    """(operation id, method, path, success status) of every operation the server routes under /api and /v1."""
    schema = httpx.get(f"{server.base_url}/schema/openapi.json", timeout=60).json()
    found = []
    for path, methods in schema["paths"].items():
        if not path.startswith(("/api/", "/v1/")):
            continue
        for method, operation in methods.items():
            success = min(int(code) for code in operation["responses"] if code.startswith("2"))
            found.append((operation["operationId"], method.upper(), path, success))
    return sorted(found)


def test_every_operation_has_a_row(server: ServerProcess) -> None:
    routed = {operation for operation, *_ in operations(server)}
    assert routed - set(SPEC) == set(), "operations without a row in the permission matrix"
    assert {name for name in set(SPEC) - routed if name != "erase_chat_session"} == set(), "rows of no operation"


def test_the_permission_matrix(server: ServerProcess, world: World) -> None:
    wrong: list[str] = []
    clients = {caller: world.client(caller) for caller in CALLERS}
    try:
        for operation, method, path, success in operations(server):
            row = SPEC[operation]
            for caller in CALLERS:
                want = expected(operation, row, caller)
                if want == 0:
                    want = REFUSED_FOR.get((operation, caller), REFUSED_BY_THE_OPERATION.get(operation, success))
                values = target(world, operation, row, fresh=row.fresh and want < 300)
                url = path.format(**{name: values[name] for name in values if "{" + name + "}" in path})
                files = {"file": ("m.pdf", text_pdf(PAGES))} if row.files else None
                response = clients[caller].request(
                    method,
                    url,
                    json=row.body(world) if row.body else None,
                    params=row.query(world) if row.query else None,
                    files=files,
                )
                if response.status_code != want:
                    wrong.append(f"{operation} as {caller}: {response.status_code} (want {want}) {response.text[:160]}")
    finally:
        for client in clients.values():
            client.close()
    assert not wrong, "\n".join(wrong)
