"""Documents: list, count and read every document, failed ones included (with the reason they failed)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get

from api.access import principal
from api.bootstrap import Parley
from api.controllers._common import API, LIST, READ, Limit, Offset, caller, page
from api.limits import MAX_JSON_BYTES
from api.schemas import Count, Document, document_from_row
from domain.errors import NotFound


class DocumentController(Controller):
    path = f"{API}/documents"
    tags = ["documents"]
    request_max_body_size = MAX_JSON_BYTES

    @get("/", status_code=200, operation_id="list_documents", responses=LIST, sync_to_thread=True)
    def list_documents(
        self,
        parley: Parley,
        request: Request[Any, Any, Any],
        offset: Offset = 0,
        limit: Limit = 100,
        sort_column: str = "updated_at",
        ascending: bool = False,
        with_summaries: bool = False,
    ) -> list[Document]:
        offset, limit = page(offset, limit)
        viewer = principal(caller(request))
        rows = parley.read_models.documents(offset, limit, sort_column=sort_column, ascending=ascending, viewer=viewer)
        return [document_from_row(row, with_summaries) for row in rows]

    @get("/count", status_code=200, operation_id="get_document_count", responses=LIST, sync_to_thread=True)
    def get_document_count(self, parley: Parley, request: Request[Any, Any, Any]) -> Count:
        return Count(count=parley.read_models.document_count(viewer=principal(caller(request))))

    @get("/{document_id:str}", status_code=200, operation_id="get_document", responses=READ, sync_to_thread=True)
    def get_document(self, parley: Parley, document_id: str) -> Document:
        row = parley.read_models.document(document_id)
        if row is None:
            raise NotFound(f"document {document_id} not found")
        return document_from_row(row)
