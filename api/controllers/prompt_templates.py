"""Prompt templates: create, list, count, read, update (a new version each time), delete, the default, versions."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, delete, get, patch, post

from api.bootstrap import Parley
from api.controllers._common import API, COMMAND, LIST, READ, Limit, Offset, caller, errors, page, split_ids
from api.limits import MAX_JSON_BYTES
from api.schemas import (
    Count,
    PromptTemplate,
    PromptTemplateBase,
    PromptTemplateCreateRequest,
    PromptTemplateVersion,
    prompt_template_from,
    prompt_template_version_from,
    template_changes_of,
    template_fields_of,
)


class PromptTemplateController(Controller):
    path = f"{API}/prompt_templates"
    tags = ["prompt_templates"]
    request_max_body_size = MAX_JSON_BYTES

    @post("/", status_code=201, operation_id="create_prompt_template", responses=COMMAND, sync_to_thread=True)
    def create_prompt_template(
        self, parley: Parley, request: Request[Any, Any, Any], data: PromptTemplateCreateRequest
    ) -> PromptTemplate:
        row = parley.prompt_templates().create(template_fields_of(data), owner=caller(request).username)
        return prompt_template_from(row)

    @get("/", status_code=200, operation_id="list_prompt_templates", responses=LIST, sync_to_thread=True)
    def list_prompt_templates(
        self,
        parley: Parley,
        offset: Offset = 0,
        limit: Limit = 100,
        sort_column: str = "updated_at",
        ascending: bool = False,
        template_type: str | None = None,
        filter: str | None = None,
    ) -> list[PromptTemplate]:
        """The templates users wrote (the built-in default is listed by ``list_all_prompt_templates``)."""
        offset, limit = page(offset, limit)
        items = parley.prompt_templates().listing(
            offset,
            limit,
            sort_column=sort_column,
            ascending=ascending,
            template_type=template_type,
            text_filter=filter,
        )
        return [prompt_template_from(item) for item in items]

    @get("/all", status_code=200, operation_id="list_all_prompt_templates", responses=LIST, sync_to_thread=True)
    def list_all_prompt_templates(
        self,
        parley: Parley,
        offset: Offset = 0,
        limit: Limit = 100,
        sort_column: str = "updated_at",
        ascending: bool = False,
        template_type: str | None = None,
        filter: str | None = None,
    ) -> list[PromptTemplate]:
        """The built-in default first, then the templates users wrote."""
        offset, limit = page(offset, limit)
        items = parley.prompt_templates().listing(
            offset,
            limit,
            sort_column=sort_column,
            ascending=ascending,
            template_type=template_type,
            text_filter=filter,
            include_built_in=True,
        )
        return [prompt_template_from(item) for item in items]

    @get("/count", status_code=200, operation_id="get_prompt_template_count", responses=LIST, sync_to_thread=True)
    def get_prompt_template_count(self, parley: Parley) -> Count:
        return Count(count=parley.prompt_templates().count())

    @get("/default", status_code=200, operation_id="get_default_prompt_template", responses=LIST, sync_to_thread=True)
    def get_default_prompt_template(self, parley: Parley) -> PromptTemplate:
        return prompt_template_from(parley.prompt_templates().default())

    @get(
        "/{prompt_template_id:str}",
        status_code=200,
        operation_id="get_prompt_template",
        responses=READ,
        sync_to_thread=True,
    )
    def get_prompt_template(self, parley: Parley, prompt_template_id: str) -> PromptTemplate:
        return prompt_template_from(parley.prompt_templates().read(prompt_template_id))

    @patch(
        "/{prompt_template_id:str}",
        status_code=200,
        operation_id="update_prompt_template",
        responses=COMMAND,
        sync_to_thread=True,
    )
    def update_prompt_template(
        self, parley: Parley, prompt_template_id: str, data: PromptTemplateBase
    ) -> PromptTemplate:
        """Each update that changes something is a new version; one that changes nothing makes none."""
        changes, clear = template_changes_of(data)
        return prompt_template_from(parley.prompt_templates().update(prompt_template_id, changes, clear))

    @delete(
        "/{prompt_template_id:str}",
        status_code=204,
        operation_id="delete_prompt_template",
        responses=errors(404, 409),
        sync_to_thread=True,
    )
    def delete_prompt_template(self, parley: Parley, prompt_template_id: str) -> None:
        """Ids come comma-joined, as the client sends a list; an unknown one is 404 and nothing is deleted."""
        parley.prompt_templates().delete(split_ids(prompt_template_id))

    @get(
        "/{prompt_template_id:str}/versions",
        status_code=200,
        operation_id="list_prompt_template_versions",
        responses=READ,
        sync_to_thread=True,
    )
    def list_prompt_template_versions(self, parley: Parley, prompt_template_id: str) -> list[PromptTemplateVersion]:
        """Parley's: every version of a template, oldest first, with who made it and when."""
        rows = parley.prompt_templates().versions(prompt_template_id)
        return [prompt_template_version_from(row) for row in rows]
