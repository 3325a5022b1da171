"""API keys for the API tests, made the way an admin makes them: ``create_api_key_for_user``."""

from __future__ import annotations

from typing import Any

import httpx

from tests.server import ADMIN_KEY, ServerProcess


def issue_key(server: ServerProcess, user_id: str, **options: Any) -> str:
    """A new key of ``user_id`` (created with it when new); ``options``: collection_id, expires_in, name, ..."""
    response = httpx.post(
        f"{server.api_url}/admin/api_keys",
        json={"user_id": user_id, **options},
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        timeout=60,
    )
    assert response.status_code == 201, response.text
    secret: str = response.json()["secret_key"]
    return secret
