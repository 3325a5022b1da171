"""Users and API keys: the h2oGPTe ``api_keys`` group (admins) and the user reads, with Parley's admin
``DELETE /users/{user_id}``."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, delete, get, patch, post

from api.bootstrap import Parley
from api.controllers._common import API, COMMAND, LIST, READ, Limit, Offset, caller, errors, page
from api.limits import MAX_JSON_BYTES
from api.schemas import (
    APIKeyCreateRequest,
    APIKeyInfo,
    APIKeyResult,
    APIKeyUpdateExpiryRequest,
    APIKeyUpdateInactivityIntervalRequest,
    ConfirmUserDeletionRequest,
    UserCreateRequest,
    UserDeletionRequest,
    UserInfo,
    UserPermission,
    api_key_from_row,
    user_from_row,
)
from domain.errors import NotFound
from domain.views import ApiKeyView

# What each kind of key may do, as ``get_current_user_permissions`` lists it (the rules are api/access.py's).
PERMISSIONS = {
    "chat": "Create chat sessions on readable collections and ask in them",
    "manage_collections": "Create collections, upload and ingest documents, share what one owns",
    "manage_prompt_templates": "Write prompt templates and share them",
    "admin": "Manage users and API keys, read the whole event log, reach every collection",
}


def _key_info(request: Request[Any, Any, Any], row: ApiKeyView) -> APIKeyInfo:
    usage = request.app.state.key_usage
    calls, _ = usage.pending(row.id)
    return api_key_from_row(row, calls, usage.last_use(row.id, row.last_used_at))


class ApiKeyController(Controller):
    path = f"{API}/admin/api_keys"
    tags = ["api_keys"]
    request_max_body_size = MAX_JSON_BYTES

    @post("/", status_code=201, operation_id="create_api_key_for_user", responses=COMMAND, sync_to_thread=True)
    def create_api_key_for_user(
        self, parley: Parley, request: Request[Any, Any, Any], data: APIKeyCreateRequest
    ) -> APIKeyResult:
        """The secret is in this answer only. A ``user_id`` that names no user creates that user."""
        issued = parley.users().create_key(
            data.user_id,
            name=data.name,
            collection_id=data.collection_id,
            expires_in=data.expires_in,
            inactivity_interval=data.inactivity_interval,
        )
        return APIKeyResult(secret_key=issued.secret, api_key=_key_info(request, issued.key))

    @get("/", status_code=200, operation_id="list_all_api_keys", responses=LIST, sync_to_thread=True)
    def list_all_api_keys(
        self,
        parley: Parley,
        request: Request[Any, Any, Any],
        offset: Offset = 0,
        limit: Limit = 100,
        filter: str | None = None,
    ) -> list[APIKeyInfo]:
        offset, limit = page(offset, limit)
        return [_key_info(request, row) for row in parley.users().keys(offset, limit, filter or None)]

    @post(
        "/deactivate/{key_id:str}",
        status_code=204,
        operation_id="deactivate_api_key",
        responses=errors(404, 409),
        sync_to_thread=True,
    )
    def deactivate_api_key(self, parley: Parley, key_id: str) -> None:
        """Holds at once: every request reads its key's row."""
        parley.users().deactivate_key(key_id)

    @patch(
        "/expire/{key_id:str}",
        status_code=204,
        operation_id="update_api_key_expiry",
        responses=COMMAND,
        sync_to_thread=True,
    )
    def update_api_key_expiry(self, parley: Parley, key_id: str, data: APIKeyUpdateExpiryRequest) -> None:
        """``expires_in`` from now (``30d``, ``12h``, ...); without it the key never expires."""
        parley.users().change_expiry(key_id, data.expires_in)

    @patch(
        "/inactivity_interval/{key_id:str}",
        status_code=204,
        operation_id="update_api_key_inactivity_interval",
        responses=COMMAND,
        sync_to_thread=True,
    )
    def update_api_key_inactivity_interval(
        self, parley: Parley, key_id: str, data: APIKeyUpdateInactivityIntervalRequest
    ) -> None:
        """Days without a call after which the key lapses; without it, never."""
        parley.users().change_inactivity_interval(key_id, data.inactivity_interval)

    @delete("/{key_id:str}", status_code=204, operation_id="delete_api_key", responses=errors(404, 409),
            sync_to_thread=True)  # fmt: skip
    def delete_api_key(self, parley: Parley, key_id: str) -> None:
        parley.users().delete_key(key_id)


class UserController(Controller):
    path = f"{API}/users"
    tags = ["permissions"]
    request_max_body_size = MAX_JSON_BYTES

    @post("/", status_code=201, operation_id="create_user", responses=COMMAND, sync_to_thread=True)
    def create_user(self, parley: Parley, data: UserCreateRequest) -> UserInfo:
        """Parley's, for admins: a user without a key yet (``create_api_key_for_user`` also creates one)."""
        return user_from_row(parley.users().create_user(data.user_id, data.email or ""))

    @get("/", status_code=200, operation_id="list_users", responses=LIST, sync_to_thread=True)
    def list_users(self, parley: Parley, offset: Offset = 0, limit: Limit = 100) -> list[UserInfo]:
        offset, limit = page(offset, limit)
        return [user_from_row(row) for row in parley.read_models.users(offset, limit)]

    @get("/current/permissions", status_code=200, operation_id="get_current_user_permissions", responses=LIST,
         sync_to_thread=False)  # fmt: skip
    def get_current_user_permissions(self, request: Request[Any, Any, Any]) -> list[UserPermission]:
        who = caller(request)
        names = ["chat"] if who.collection_id else ["chat", "manage_collections", "manage_prompt_templates"]
        if who.is_admin:
            names.append("admin")
        return [UserPermission(id=name, name=name, description=PERMISSIONS[name], category="parley") for name in names]

    @delete("/current", status_code=200, operation_id="request_current_user_deletion", responses=errors(409),
            sync_to_thread=True)  # fmt: skip
    def request_current_user_deletion(self, parley: Parley, request: Request[Any, Any, Any]) -> UserDeletionRequest:
        """A ``delete_id`` to confirm within five minutes with ``confirm_current_user_deletion``."""
        return UserDeletionRequest(delete_id=parley.users().request_deletion(caller(request).username))

    @post("/current/confirm-delete", status_code=204, operation_id="confirm_current_user_deletion",
          responses=COMMAND, sync_to_thread=True)  # fmt: skip
    def confirm_current_user_deletion(
        self,
        parley: Parley,
        request: Request[Any, Any, Any],
        data: ConfirmUserDeletionRequest,
        timeout: float | None = None,
    ) -> None:
        """Revokes the user's keys and deletes what they own; the log keeps its events."""
        parley.users().delete_user(caller(request).username, data.delete_id)

    @get("/{user_id:str}", status_code=200, operation_id="get_user", responses=READ, sync_to_thread=True)
    def get_user(self, parley: Parley, request: Request[Any, Any, Any], user_id: str) -> UserInfo:
        """Oneself, or anyone for an admin (another user's id is 404 otherwise)."""
        who = caller(request)
        if not who.is_admin and user_id != who.username:
            raise NotFound(f"user {user_id} not found")
        return user_from_row(parley.users().read_user(user_id))

    @delete("/{user_id:str}", status_code=204, operation_id="delete_user", responses=errors(404, 409),
            sync_to_thread=True)  # fmt: skip
    def delete_user(self, parley: Parley, user_id: str) -> None:
        """Parley's, for admins: as the user's own confirmed deletion."""
        parley.users().delete_user(user_id)
