"""Prompt templates: create, list, count, read, update (a new version each time), delete, the default, versions,
diffs, and previews of the prompts they make."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, delete, get, patch, post
from litestar.params import Parameter

from api.access import principal, require_collection, require_session
from api.bootstrap import Parley
from api.controllers._common import API, COMMAND, LIST, READ, Limit, Offset, caller, errors, page, split_ids
from api.limits import MAX_JSON_BYTES
from api.schemas import (
    Count,
    PromptMessage,
    PromptPreview,
    PromptPreviewRequest,
    PromptTemplate,
    PromptTemplateBase,
    PromptTemplateCreateRequest,
    PromptTemplateDiff,
    PromptTemplateVersion,
    prompt_template_from,
    prompt_template_version_from,
    reference_of,
    template_changes_of,
    template_fields_of,
)
from domain.access import Level
from domain.usecases.ask import AnswerOverrides


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
        request: Request[Any, Any, Any],
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
            viewer=principal(caller(request)),
        )
        return [prompt_template_from(item) for item in items]

    @get("/all", status_code=200, operation_id="list_all_prompt_templates", responses=LIST, sync_to_thread=True)
    def list_all_prompt_templates(
        self,
        parley: Parley,
        request: Request[Any, Any, Any],
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
            viewer=principal(caller(request)),
        )
        return [prompt_template_from(item) for item in items]

    @get("/count", status_code=200, operation_id="get_prompt_template_count", responses=LIST, sync_to_thread=True)
    def get_prompt_template_count(self, parley: Parley, request: Request[Any, Any, Any]) -> Count:
        return Count(count=parley.prompt_templates().count(viewer=principal(caller(request))))

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

    @get(
        "/{prompt_template_id:str}/versions/{version:int}",
        status_code=200,
        operation_id="get_prompt_template_version",
        responses=READ,
        sync_to_thread=True,
    )
    def get_prompt_template_version(
        self, parley: Parley, prompt_template_id: str, version: int
    ) -> PromptTemplateVersion:
        """Parley's: one version of a template, whole, as it read then."""
        return prompt_template_version_from(parley.prompt_templates().version(prompt_template_id, version))

    @get(
        "/{prompt_template_id:str}/diff",
        status_code=200,
        operation_id="diff_prompt_template_versions",
        responses=READ,
        sync_to_thread=True,
    )
    def diff_prompt_template_versions(
        self,
        parley: Parley,
        prompt_template_id: str,
        from_version: Annotated[int, Parameter(query="from", ge=1, description="the older version")],
        to_version: Annotated[int, Parameter(query="to", ge=1, description="the newer version")],
    ) -> PromptTemplateDiff:
        """Parley's: a unified diff per field that differs between two versions (only those fields are listed)."""
        diffs = parley.prompt_templates().diff(prompt_template_id, from_version, to_version)
        return PromptTemplateDiff(
            prompt_template_id=prompt_template_id, from_version=from_version, to_version=to_version, fields=diffs
        )

    @post(
        "/{prompt_template_id:str}/preview",
        status_code=200,
        operation_id="preview_prompt_template",
        responses=errors(403, 404, 409, 413, 415),
        sync_to_thread=True,
    )
    def preview_prompt_template(
        self, parley: Parley, request: Request[Any, Any, Any], prompt_template_id: str, data: PromptPreviewRequest
    ) -> PromptPreview:
        """Parley's: the exact messages the model would receive for ``question`` with this template (in the
        session's place, over the collection's template), with the retrieved chunks; no model is called. A
        collection-scoped key previews in its own collection only (a preview shows its chunks)."""
        who = caller(request)
        if data.session_id:  # a preview shows the chunks it retrieves: only from what the caller may read
            require_session(parley.read_models, principal(who), data.session_id)
        elif data.collection_id:
            require_collection(parley.read_models, principal(who), data.collection_id, Level.READ)
        answer_request, preview = parley.asking().preview(
            prompt_template_id,
            data.question,
            session_id=data.session_id,
            collection_id=data.collection_id,
            actor=who.username,
            overrides=AnswerOverrides(llm=data.llm, rag_config=data.rag_config),
        )
        return PromptPreview(
            prompt_template_id=answer_request.template_id or prompt_template_id,
            version=answer_request.template_version,
            rag_type=preview.rag_type,
            llm=preview.llm,
            messages=[PromptMessage(role=m.role, content=m.content) for m in preview.messages],
            prompt_raw=preview.prompt_raw,
            references=[reference_of(r) for r in preview.references],
        )
