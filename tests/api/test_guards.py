"""A collection-scoped API key works only on its collection (the guard in ``api/guards.py``). No endpoint makes
such keys yet (the access-control issue adds one), so the test records one in the server's log, as that endpoint
will, from outside the server process."""

from __future__ import annotations

import time
import uuid

import httpx

from adapters.sqlite.event_store import SQLiteEventStore
from api.bootstrap import hash_secret
from domain import apikey
from domain.service import CommandHandler, stream_name
from tests.server import ADMIN_KEY, ServerProcess


def scoped_key(server: ServerProcess, collection_id: str) -> str:
    secret, key_id = f"sk-scoped-{uuid.uuid4().hex}", str(uuid.uuid4())
    store = SQLiteEventStore(server.data_dir / "events.sqlite3")
    create = apikey.CreateApiKey(key_id=key_id, name="scoped", username="scout", secret_hash=hash_secret(secret),
                                 hint=secret[-4:], collection_id=collection_id)  # fmt: skip
    CommandHandler(store).execute(apikey, stream_name("apikey", key_id), create)
    store.close()
    return secret


def test_a_collection_scoped_key_stays_in_its_collection(server: ServerProcess) -> None:
    with httpx.Client(base_url=server.api_url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=60) as admin:
        mine = admin.post("/collections", json={"name": "Scoped", "description": ""}).json()["id"]
        other = admin.post("/collections", json={"name": "Not scoped", "description": ""}).json()["id"]
        foreign_session = admin.post("/chats", params={"collection_id": other}).json()["id"]
    secret = scoped_key(server, mine)
    with httpx.Client(base_url=server.api_url, headers={"Authorization": f"Bearer {secret}"}, timeout=60) as scout:
        deadline = time.monotonic() + 15  # the server sees an append from another process within its wait
        while scout.get("/collections/count").status_code == 401 and time.monotonic() < deadline:
            time.sleep(0.2)
        session = scout.post("/chats", params={"collection_id": mine})
        assert session.status_code == 201, session.text
        for response in (
            scout.post("/chats", params={"collection_id": other}),
            scout.post("/chats"),
            scout.post(f"/chats/{foreign_session}/completions", json={"message": "Hi?"}),
            # A preview shows the chunks of the collection it retrieves from; a template shapes a session's answers.
            scout.post("/prompt_templates/parley-default/preview", json={"question": "Hi?", "collection_id": other}),
            scout.post(
                "/prompt_templates/parley-default/preview", json={"question": "Hi?", "session_id": foreign_session}
            ),
            scout.put(f"/chats/{foreign_session}/prompt_template", json={"prompt_template_id": "parley-default"}),
        ):
            assert response.status_code == 403, response.text
            assert response.json()["error_type"] == "PermissionDenied"
        asked = scout.post(f"/chats/{session.json()['id']}/completions", json={"message": "Anything here?"})
        assert asked.status_code == 200, asked.text
        previewed = scout.post(
            "/prompt_templates/parley-default/preview", json={"question": "Hi?", "collection_id": mine}
        )
        assert previewed.status_code == 200, previewed.text
        missing = scout.post(f"/chats/{uuid.uuid4()}/completions", json={"message": "Hi?"})
        assert missing.status_code == 404
