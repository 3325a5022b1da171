"""Sharing collections and prompt templates with other users, and making them public: the h2oGPTe
``*_permissions`` and ``*_privacy`` operations. Only the owner (or an admin) shares; readers see the list."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, delete, get, post, put

from api.bootstrap import Parley
from api.controllers._common import API, COMMAND, READ, errors, optional_body
from api.limits import MAX_JSON_BYTES
from api.schemas import (
    ResetAndShareRequest,
    ShareCollectionRequest,
    SharePermission,
    UpdateCollectionPrivacyRequest,
    UpdatePromptTemplatePrivacyRequest,
    share_from_row,
)

CHANGE = errors(404, 409)


class CollectionSharingController(Controller):
    path = f"{API}/collections/{{collection_id:str}}"
    tags = ["collections"]
    request_max_body_size = MAX_JSON_BYTES

    @get("/permissions", status_code=200, operation_id="get_collection_permissions", responses=READ,
         sync_to_thread=True)  # fmt: skip
    def get_collection_permissions(self, parley: Parley, collection_id: str) -> list[SharePermission]:
        """The users the collection is shared with (its owner is the collection's ``username``)."""
        return [share_from_row(row) for row in parley.sharing().permissions("collection", collection_id)]

    @put("/permissions/{username:str}", status_code=204, operation_id="share_collection", responses=COMMAND)
    async def share_collection(self, parley: Parley, request: Request[Any, Any, Any], collection_id: str,
                               username: str) -> None:  # fmt: skip
        """``permissions``: ``["read"]`` (the default) or ``["read", "write"]``."""
        import anyio.to_thread

        body = await optional_body(request, ShareCollectionRequest)
        permissions = body.permissions if body is not None else None
        await anyio.to_thread.run_sync(parley.sharing().share, "collection", collection_id, username, permissions)

    @delete("/permissions/{username:str}", status_code=204, operation_id="unshare_collection", responses=CHANGE,
            sync_to_thread=True)  # fmt: skip
    def unshare_collection(self, parley: Parley, collection_id: str, username: str) -> None:
        parley.sharing().unshare("collection", collection_id, username)

    @delete("/permissions", status_code=204, operation_id="unshare_collection_for_all", responses=CHANGE,
            sync_to_thread=True)  # fmt: skip
    def unshare_collection_for_all(self, parley: Parley, collection_id: str) -> None:
        parley.sharing().unshare_for_all("collection", collection_id)

    @post("/is_public", status_code=204, operation_id="update_collection_privacy", responses=COMMAND,
          sync_to_thread=True)  # fmt: skip
    def update_collection_privacy(
        self, parley: Parley, collection_id: str, data: UpdateCollectionPrivacyRequest
    ) -> None:
        """A public collection is readable and askable by every user; only its owner and writers change it."""
        parley.sharing().set_public("collection", collection_id, data.is_public)


class TemplateSharingController(Controller):
    path = f"{API}/prompt_templates/{{prompt_template_id:str}}"
    tags = ["prompt_templates"]
    request_max_body_size = MAX_JSON_BYTES

    @get("/permissions", status_code=200, operation_id="get_prompt_template_permissions", responses=READ,
         sync_to_thread=True)  # fmt: skip
    def get_prompt_template_permissions(self, parley: Parley, prompt_template_id: str) -> list[SharePermission]:
        return [share_from_row(row) for row in parley.sharing().permissions("template", prompt_template_id)]

    @put("/permissions", status_code=204, operation_id="reset_and_share_prompt_template", responses=COMMAND,
         sync_to_thread=True)  # fmt: skip
    def reset_and_share_prompt_template(
        self, parley: Parley, prompt_template_id: str, data: ResetAndShareRequest
    ) -> None:
        """Shared with exactly ``usernames`` (to read) from now on."""
        parley.sharing().reset_and_share("template", prompt_template_id, data.usernames)

    @put("/permissions/{username:str}", status_code=204, operation_id="share_prompt_template", responses=COMMAND,
         sync_to_thread=True)  # fmt: skip
    def share_prompt_template(self, parley: Parley, prompt_template_id: str, username: str) -> None:
        parley.sharing().share("template", prompt_template_id, username, None)

    @delete("/permissions/{username:str}", status_code=204, operation_id="unshare_prompt_template",
            responses=CHANGE, sync_to_thread=True)  # fmt: skip
    def unshare_prompt_template(self, parley: Parley, prompt_template_id: str, username: str) -> None:
        parley.sharing().unshare("template", prompt_template_id, username)

    @delete("/permissions", status_code=204, operation_id="unshare_prompt_template_for_all", responses=CHANGE,
            sync_to_thread=True)  # fmt: skip
    def unshare_prompt_template_for_all(self, parley: Parley, prompt_template_id: str) -> None:
        parley.sharing().unshare_for_all("template", prompt_template_id)

    @post("/is_public", status_code=204, operation_id="update_prompt_template_privacy", responses=COMMAND,
          sync_to_thread=True)  # fmt: skip
    def update_prompt_template_privacy(
        self, parley: Parley, prompt_template_id: str, data: UpdatePromptTemplatePrivacyRequest
    ) -> None:
        parley.sharing().set_public("template", prompt_template_id, data.is_public)
