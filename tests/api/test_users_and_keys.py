"""Many people on one server, through the real h2ogpte client: users and keys made by an admin, a
collection-scoped key that only chats in its collection, what each user sees and counts, retrieval that never
reaches another user's private collection, sharing and public collections, revocation and expiry at once,
deletion of a user, actors in the log, key material nowhere, and the per-key limits (429 with Retry-After)."""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h2ogpte.rest_sync as rest
import httpx
import pytest
from h2ogpte.rest_sync.exceptions import ApiException, ForbiddenException, NotFoundException, UnauthorizedException

from adapters.crypto_shredding import CryptoShreddingEventStore
from adapters.sqlite.event_store import SQLiteEventStore
from adapters.sqlite.subject_keys import SQLiteSubjectKeyStore
from api.rate_limits import KeyLimits
from tests.api.keys import issue_key
from tests.documents import text_pdf
from tests.server import ADMIN_KEY, ServerProcess

BEES = ["Orchard Hollow keeps forty beehives. The hives give 300 kilograms of heather honey each August."]
COMETS = ["The comet Valdris returns every 76 years; its last perihelion was observed from the Tarn observatory."]


def client_of(server: ServerProcess, key: str) -> dict[str, Any]:
    api = rest.ApiClient(rest.Configuration(host=server.api_url, access_token=key))
    return {
        "collections": rest.CollectionsApi(api),
        "ingestion": rest.DocumentIngestionApi(api),
        "documents": rest.DocumentsApi(api),
        "chat": rest.ChatApi(api),
        "keys": rest.APIKeysApi(api),
        "permissions": rest.PermissionsApi(api),
        "templates": rest.PromptTemplatesApi(api),
    }


def new_user(admin: dict[str, Any], prefix: str, **options: Any) -> tuple[str, str, str]:
    """(user id, secret, key id): a user the key creates, as ``create_api_key_for_user`` does for a new id."""
    user_id = f"{prefix}-{uuid.uuid4().hex[:8]}"
    made = admin["keys"].create_api_key_for_user(rest.APIKeyCreateRequest(user_id=user_id, **options))
    return user_id, made.secret_key, made.api_key.id


def collection_with(user: dict[str, Any], name: str, pages: list[str]) -> str:
    collection = user["collections"].create_collection(rest.CollectionCreateRequest(name=name, description=""))
    upload = user["ingestion"].upload_file(file=(f"{name}.pdf", text_pdf(pages)))
    user["ingestion"].ingest_upload([upload.id], collection_id=collection.id, timeout=120)
    return str(collection.id)


@pytest.fixture(scope="module")
def admin(server: ServerProcess) -> dict[str, Any]:
    return client_of(server, ADMIN_KEY)


def test_a_scoped_key_chats_in_its_collection_and_nowhere_else(server: ServerProcess, admin: dict[str, Any]) -> None:
    user_id, secret, _ = new_user(admin, "ana")
    ana = client_of(server, secret)
    hives = collection_with(ana, "Hives", BEES)
    elsewhere = ana["collections"].create_collection(rest.CollectionCreateRequest(name="Elsewhere", description=""))
    scoped = admin["keys"].create_api_key_for_user(rest.APIKeyCreateRequest(user_id=user_id, collection_id=hives))
    assert scoped.api_key.is_global_key is False and scoped.api_key.collection_id == hives
    assert scoped.api_key.collection_name == "Hives"
    kiosk = client_of(server, scoped.secret_key)

    session = kiosk["chat"].create_chat_session(collection_id=hives)
    answer = kiosk["chat"].get_completion(session.id, rest.ChatCompletionRequest(message="How many beehives?"))
    assert "forty" in answer.body
    assert [m.id for m in kiosk["chat"].get_chat_session_messages(session.id)][-1] == answer.message_id
    with pytest.raises(ForbiddenException):
        kiosk["collections"].list_collections()
    with pytest.raises(ForbiddenException):
        kiosk["collections"].create_collection(rest.CollectionCreateRequest(name="Mine now", description=""))
    with pytest.raises(ForbiddenException):
        kiosk["collections"].get_collection(hives)  # even its own collection is not for it to read
    with pytest.raises(ForbiddenException):
        kiosk["chat"].create_chat_session(collection_id=elsewhere.id)
    with pytest.raises(ForbiddenException):
        kiosk["chat"].create_chat_session()
    # Another user's session: its existence does not leak.
    _, bob_secret, _ = new_user(admin, "bob")
    bob = client_of(server, bob_secret)
    theirs = bob["chat"].create_chat_session()
    with pytest.raises(NotFoundException):
        kiosk["chat"].get_completion(theirs.id, rest.ChatCompletionRequest(message="Hi?"))


def test_lists_and_counts_are_each_users_own(server: ServerProcess, admin: dict[str, Any]) -> None:
    _, ana_secret, _ = new_user(admin, "ana")
    _, bob_secret, _ = new_user(admin, "bob")
    ana, bob = client_of(server, ana_secret), client_of(server, bob_secret)
    mine = collection_with(ana, "Ana's", BEES)
    ana["chat"].create_chat_session(collection_id=mine)
    ana["templates"].create_prompt_template(rest.PromptTemplateCreateRequest(name=f"ana {uuid.uuid4()}"))

    assert [c.id for c in ana["collections"].list_collections()] == [mine]
    assert ana["collections"].get_collection_count().count == 1
    assert ana["documents"].get_document_count().count == 1
    assert ana["chat"].get_chat_session_count().count == 1
    assert ana["templates"].get_prompt_template_count().count == 1
    # Bob sees no more than the public collections (and templates), none of Ana's.
    seen = bob["collections"].list_collections(limit=10_000)
    assert all(c.is_public for c in seen) and bob["collections"].get_collection_count().count == len(seen)
    assert bob["chat"].get_chat_session_count().count == 0
    assert all(d.id not in [x.id for x in ana["documents"].list_documents()] for d in bob["documents"].list_documents())
    templates = bob["templates"].list_prompt_templates(limit=10_000)
    assert all(t.is_public for t in templates) and bob["templates"].get_prompt_template_count().count == len(templates)
    with pytest.raises(NotFoundException):
        bob["collections"].get_collection(mine)
    admin_count = admin["collections"].get_collection_count().count
    assert admin_count >= 1 and mine in [c.id for c in admin["collections"].list_collections(limit=10_000)]


def test_no_chunk_of_a_private_collection_reaches_another_user(server: ServerProcess, admin: dict[str, Any]) -> None:
    _, ana_secret, _ = new_user(admin, "ana")
    bob_id, bob_secret, _ = new_user(admin, "bob")
    ana, bob = client_of(server, ana_secret), client_of(server, bob_secret)
    private = collection_with(ana, "Private comets", COMETS)
    public_bees = collection_with(bob, "Bob's bees", BEES)

    # Bob asks about Ana's comet in his own collection and without one: nothing of hers comes back.
    for session in (bob["chat"].create_chat_session(collection_id=public_bees), bob["chat"].create_chat_session()):
        answer = bob["chat"].get_completion(session.id, rest.ChatCompletionRequest(message="When does Valdris return?"))
        references = bob["chat"].get_message_references(answer.message_id)
        assert all(r.collection_id != private for r in references)
        assert "76" not in answer.body and "Tarn" not in answer.body
    with pytest.raises(NotFoundException):
        bob["chat"].create_chat_session(collection_id=private)
    search = httpx.post(
        f"{server.base_url}/v1/search",
        json={"collections": [private], "prompt": "Valdris"},
        headers={"Authorization": f"Bearer {bob_secret}"},
    )
    assert search.status_code == 404 and "Valdris" not in search.text

    # Shared to read: Bob asks in it, and may not change it; unshared, it is gone again (his session with it).
    ana["collections"].share_collection(private, bob_id, rest.ShareCollectionRequest(permissions=["read"]))
    session = bob["chat"].create_chat_session(collection_id=private)
    answer = bob["chat"].get_completion(session.id, rest.ChatCompletionRequest(message="When does Valdris return?"))
    assert "76" in answer.body
    assert {r.collection_id for r in bob["chat"].get_message_references(answer.message_id)} == {private}
    with pytest.raises(ForbiddenException):
        bob["collections"].update_collection(private, rest.CollectionUpdateRequest(name="Mine"))
    permissions = ana["collections"].get_collection_permissions(private)
    assert [(p.username, p.permissions) for p in permissions] == [(bob_id, ["read"])]
    assert ana["collections"].get_collection(private).user_count == 2
    ana["collections"].unshare_collection(private, bob_id)
    with pytest.raises(NotFoundException):
        bob["chat"].get_completion(session.id, rest.ChatCompletionRequest(message="And its observatory?"))

    # Public: every user reads and asks; only the owner (and writers) change it.
    ana["collections"].update_collection_privacy(private, rest.UpdateCollectionPrivacyRequest(is_public=True))
    assert bob["collections"].get_collection(private).is_public is True
    assert private in [c.id for c in bob["collections"].list_collections()]
    with pytest.raises(ForbiddenException):
        bob["collections"].delete_collection(private)
    ana["collections"].share_collection(private, bob_id, rest.ShareCollectionRequest(permissions=["write"]))
    bob["collections"].update_collection(private, rest.CollectionUpdateRequest(description="Bob was here"))
    with pytest.raises(ForbiddenException):
        bob["collections"].delete_collection(private)  # writing is not owning


def test_templates_are_shared_and_public_as_collections_are(server: ServerProcess, admin: dict[str, Any]) -> None:
    _, ana_secret, _ = new_user(admin, "ana")
    bob_id, bob_secret, _ = new_user(admin, "bob")
    ana, bob = client_of(server, ana_secret), client_of(server, bob_secret)
    template = ana["templates"].create_prompt_template(rest.PromptTemplateCreateRequest(name=f"t {uuid.uuid4()}"))
    with pytest.raises(NotFoundException):
        bob["templates"].get_prompt_template(template.id)
    ana["templates"].share_prompt_template(template.id, bob_id)
    assert bob["templates"].get_prompt_template(template.id).user_count == 2
    with pytest.raises(ForbiddenException):
        bob["templates"].update_prompt_template(template.id, rest.PromptTemplateBase(description="mine"))
    ana["templates"].reset_and_share_prompt_template(template.id, rest.ResetAndShareRequest(usernames=[]))
    with pytest.raises(NotFoundException):
        bob["templates"].get_prompt_template(template.id)
    ana["templates"].update_prompt_template_privacy(
        template.id, rest.UpdatePromptTemplatePrivacyRequest(is_public=True)
    )
    assert bob["templates"].get_prompt_template(template.id).is_public is True
    with pytest.raises(NotFoundException):
        ana["templates"].share_prompt_template(template.id, "nobody-by-this-name")


def test_key_info_is_true_and_revocation_and_expiry_hold_at_once(server: ServerProcess, admin: dict[str, Any]) -> None:
    user_id, secret, key_id = new_user(admin, "cy", inactivity_interval=30)
    cy = client_of(server, secret)
    for _ in range(3):
        cy["collections"].get_collection_count()
    (info,) = [k for k in admin["keys"].list_all_api_keys(filter=user_id) if k.id == key_id]
    assert info.username == user_id and info.is_active and info.is_global_key and info.collection_id is None
    assert info.total_calls == 3 and info.last_used_at is not None and info.inactivity_interval == 30
    assert info.hint == secret[-4:]

    admin["keys"].deactivate_api_key(key_id)
    with pytest.raises(UnauthorizedException):
        cy["collections"].get_collection_count()

    _, short_secret, short_id = new_user(admin, "dee")
    dee = client_of(server, short_secret)
    dee["collections"].get_collection_count()
    admin["keys"].update_api_key_expiry(short_id, rest.APIKeyUpdateExpiryRequest(expires_in="1s"))
    time.sleep(1.2)
    with pytest.raises(UnauthorizedException) as expired:
        dee["collections"].get_collection_count()
    assert "expired" in str(expired.value.body)
    admin["keys"].update_api_key_expiry(short_id, rest.APIKeyUpdateExpiryRequest())  # no expiry: back in
    dee["collections"].get_collection_count()
    with pytest.raises(ApiException) as bad:
        admin["keys"].update_api_key_expiry(short_id, rest.APIKeyUpdateExpiryRequest(expires_in="soon"))
    assert bad.value.status == 400
    admin["keys"].delete_api_key(short_id)
    with pytest.raises(UnauthorizedException):
        dee["collections"].get_collection_count()
    with pytest.raises(NotFoundException):
        admin["keys"].deactivate_api_key(short_id)
    with pytest.raises(ForbiddenException):
        dee_again = client_of(server, new_user(admin, "eve")[1])
        dee_again["keys"].list_all_api_keys()


def test_a_deleted_user_is_gone_from_every_read_but_not_from_the_log(
    server: ServerProcess, admin: dict[str, Any]
) -> None:
    user_id, secret, _ = new_user(admin, "fay")
    fay = client_of(server, secret)
    collection = collection_with(fay, "Fay's", BEES)
    session = fay["chat"].create_chat_session(collection_id=collection)
    fay["chat"].get_completion(session.id, rest.ChatCompletionRequest(message="How many beehives?"))
    deleted_before = fay["chat"].create_chat_session(collection_id=collection)  # and deleted by fay herself
    fay["chat"].get_completion(deleted_before.id, rest.ChatCompletionRequest(message="Where are the hives kept?"))
    assert fay["chat"].delete_chat_session_without_preload_content(deleted_before.id).status == 204
    deletion = fay["permissions"].request_current_user_deletion()
    with pytest.raises(ApiException) as wrong:
        fay["permissions"].confirm_current_user_deletion(rest.ConfirmUserDeletionRequest(delete_id="not-it"))
    assert wrong.value.status == 400
    assert fay["collections"].get_collection(collection).id == collection  # a wrong confirmation changed nothing
    fay["permissions"].confirm_current_user_deletion(rest.ConfirmUserDeletionRequest(delete_id=deletion.delete_id))

    with pytest.raises(UnauthorizedException):
        fay["collections"].get_collection_count()
    with pytest.raises(NotFoundException):
        admin["collections"].get_collection(collection)
    with pytest.raises(NotFoundException):
        admin["chat"].get_chat_session(session.id)
    assert user_id not in [u.id for u in admin["permissions"].list_users(limit=10_000)]
    # The log keeps the events; the session's were erased, so its question reads as erased, without its key.
    keys = SQLiteSubjectKeyStore(server.data_dir / "keys.sqlite3")
    store = CryptoShreddingEventStore(SQLiteEventStore(server.data_dir / "events.sqlite3"), keys)
    try:
        kept = store.read_stream(f"chat-{session.id}")
        earlier = store.read_stream(f"chat-{deleted_before.id}")
        user_events = [record.type for record in store.read_stream(f"user-{user_id}")]
    finally:
        store.close()
        keys.close()
    assert [r.type for r in kept[:3]] == ["ChatSessionCreated", "QuestionAsked", "AnswerGenerated"]
    assert kept[-1].type == "ChatSessionErased" and kept[-1].metadata.actor == user_id
    assert b"beehives" not in kept[1].data and b"[erased]" in kept[1].data
    # The session she had deleted herself is erased as well, not only deleted.
    assert [r.type for r in earlier][-2:] == ["ChatSessionDeleted", "ChatSessionErased"]
    assert b"hives kept" not in earlier[1].data and b"[erased]" in earlier[1].data
    assert user_events == ["UserCreated", "UserDeletionRequested", "UserDeleted"]

    # An admin deletes a user the same way; an admin user is not deleted.
    other_id, other_secret, _ = new_user(admin, "gus")
    httpx.delete(f"{server.api_url}/users/{other_id}", headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    with pytest.raises(UnauthorizedException):
        client_of(server, other_secret)["collections"].get_collection_count()
    refused = httpx.delete(f"{server.api_url}/users/admin", headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    assert refused.status_code == 400


def test_events_name_their_actor_and_refusals_are_logged_not_recorded(
    server: ServerProcess, admin: dict[str, Any]
) -> None:
    user_id, secret, key_id = new_user(admin, "hal")
    hal = client_of(server, secret)
    collection = hal["collections"].create_collection(rest.CollectionCreateRequest(name="Hal's", description=""))
    store = SQLiteEventStore(server.data_dir / "events.sqlite3")
    try:
        (created,) = store.read_stream(f"collection-{collection.id}")
        assert (created.metadata.actor, created.metadata.key_id) == (user_id, key_id)
        _, ivy_secret, _ = new_user(admin, "ivy")
        before = store.head_position()
        with pytest.raises(NotFoundException):
            client_of(server, ivy_secret)["collections"].delete_collection(collection.id)
        assert all(r.type in ("ApiKeyUsed",) for r in store.read_all(before, 100))  # nothing but key counters
    finally:
        store.close()
    assert f"refused DELETE /api/v1/collections/{collection.id} for ivy-" in server.log()


def test_key_material_is_never_written_or_echoed(server: ServerProcess, admin: dict[str, Any]) -> None:
    _, secret, _ = new_user(admin, "jo")
    client_of(server, secret)["collections"].get_collection_count()
    wrong = "sk-" + uuid.uuid4().hex * 2
    refused = httpx.get(f"{server.api_url}/collections", headers={"Authorization": f"Bearer {wrong}"})
    assert refused.status_code == 401 and wrong not in refused.text and wrong[-12:] not in refused.text
    time.sleep(0.2)
    for needle in (secret, ADMIN_KEY, wrong):
        assert needle not in server.log()
        for path in server.data_dir.rglob("*"):
            if path.is_file():
                assert needle.encode() not in path.read_bytes(), (needle[:6], path)
    # The hashes are what is stored: in the read models, next to the hint, never the secret.
    with sqlite3.connect(server.data_dir / "read_models.sqlite3") as db:
        hints = {row[0] for row in db.execute("SELECT hint FROM api_keys")}
    assert secret[-4:] in hints


@pytest.fixture(scope="module")
def limited_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    env = {"PARLEY_RATE_LIMIT_PER_MINUTE": "3", "PARLEY_MAX_CONCURRENT_ANSWERS": "1"}
    process = ServerProcess(Path(tmp_path_factory.mktemp("limited")) / "data", extra_env=env).start()
    yield process
    process.stop()


def test_a_key_past_its_rate_gets_429_with_retry_after(limited_server: ServerProcess) -> None:
    admin = client_of(limited_server, ADMIN_KEY)
    _, secret, _ = new_user(admin, "kim")
    statuses = []
    for _ in range(4):
        response = httpx.get(
            f"{limited_server.api_url}/collections/count", headers={"Authorization": f"Bearer {secret}"}
        )
        statuses.append(response.status_code)
    assert statuses == [200, 200, 200, 429]
    assert 1 <= int(response.headers["retry-after"]) <= 20 and response.json()["code"] == 429
    for _ in range(5):  # admin keys are not limited
        assert admin["collections"].get_collection_count().count == 0


def test_answers_at_once_per_key_are_bounded() -> None:
    now = [0.0]
    limits = KeyLimits(per_minute=60, concurrent_answers=2, clock=lambda: now[0])
    assert limits.start_answer("k") and limits.start_answer("k") and not limits.start_answer("k")
    assert limits.start_answer("another key")
    limits.end_answer("k")
    assert limits.start_answer("k")
    for _ in range(60):
        assert limits.take("k") is None
    wait = limits.take("k")
    assert wait is not None and 0.9 < wait <= 1.0
    now[0] += 1.0  # a second later one more request may go
    assert limits.take("k") is None


def test_the_cli_provisions_users_and_keys(server: ServerProcess, capsys: pytest.CaptureFixture[str]) -> None:
    from api.cli import main

    where = ["--url", server.base_url, "--api-key", ADMIN_KEY]
    user_id = f"lee-{uuid.uuid4().hex[:8]}"
    assert main(["users", "create", user_id, "--email", "lee@example.org", *where]) == 0
    assert main(["users", "list", *where]) == 0
    assert f"{user_id}\tlee@example.org" in capsys.readouterr().out
    assert main(["keys", "create", user_id, "--expires-in", "30d", "--name", "laptop", *where]) == 0
    printed = capsys.readouterr().out.splitlines()
    key_id, secret = printed[0].split()[1], printed[1]
    assert client_of(server, secret)["collections"].get_collection_count().count >= 0
    assert main(["keys", "list", "--filter", user_id, *where]) == 0
    listed = capsys.readouterr().out
    assert key_id in listed and "laptop" in listed and "active" in listed and secret not in listed
    assert main(["keys", "revoke", key_id, *where]) == 0
    with pytest.raises(UnauthorizedException):
        client_of(server, secret)["collections"].get_collection_count()
    with pytest.raises(SystemExit, match="error 403"):
        main(["users", "list", "--url", server.base_url, "--api-key", issue_key(server, f"not-admin-{user_id}")])
    assert main(["users", "delete", user_id, *where]) == 0
