"""Uploads and ingestion: store a file, then ingest uploads into a collection synchronously or as a job."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any

import anyio.to_thread
from litestar import Controller, Request, post, put
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body

from api.bootstrap import Parley
from api.controllers._common import API, caller, errors, optional_body, split_ids
from api.controllers.jobs import job_details
from api.limits import MAX_JSON_BYTES
from api.schemas import IngestUploadBody, JobDetails, UploadedFile
from domain.errors import PayloadTooLarge

READ_CHUNK = 1024 * 1024


@dataclass
class UploadForm:
    file: UploadFile


_QUOTED_FILENAME = re.compile(r'\bfilename="(?P<name>.*)"\s*$')
_UNESCAPED_QUOTE = re.compile(r'(?<!\\)"')


def sent_filename(file: UploadFile) -> str:
    """The file name as the client sent it. Clients escape a `"` in a name as `%22` (browsers, urllib3, httpx) or
    `\\"` (curl), and the multipart parser undoes both; a `"` left bare ends the quoted name early, so then the
    name runs to the header's last quote rather than being cut short."""
    disposition = next((v for k, v in file.headers.items() if k.lower() == "content-disposition"), "")
    match = _QUOTED_FILENAME.search(disposition)
    if match and _UNESCAPED_QUOTE.search(match["name"]):
        return match["name"]
    return file.filename or ""


class UploadController(Controller):
    path = f"{API}/uploads"
    tags = ["document ingestion"]

    @put("/", status_code=200, operation_id="upload_file", responses=errors(409, 413, 415), opt={"body": "multipart"})
    async def upload_file(
        self,
        parley: Parley,
        request: Request[Any, Any, Any],
        data: Annotated[UploadForm, Body(media_type=RequestEncodingType.MULTI_PART)],
    ) -> UploadedFile:
        limit = parley.settings.max_upload_bytes
        parts: list[bytes] = []
        size = 0
        while chunk := await data.file.read(READ_CHUNK):
            size += len(chunk)
            if size > limit:
                megabytes = parley.settings.max_upload_mb
                raise PayloadTooLarge(f"{sent_filename(data.file)}: file is over the {megabytes:g} MB upload limit")
            parts.append(chunk)
        received = await anyio.to_thread.run_sync(
            parley.receiving(), sent_filename(data.file), b"".join(parts), caller(request).username
        )
        return UploadedFile(id=received.upload_id, filename=received.filename)

    @post(
        "/{upload_ids:str}/ingest",
        status_code=204,
        operation_id="ingest_upload",
        responses=errors(404, 409, 413, 415, 503),
        request_max_body_size=MAX_JSON_BYTES,
    )
    async def ingest_upload(
        self,
        parley: Parley,
        request: Request[Any, Any, Any],
        upload_ids: str,
        collection_id: str,
        timeout: float | None = None,
    ) -> None:
        job_id = await self._start_job(parley, request, upload_ids, collection_id, timeout)
        wait = timeout if timeout is not None and timeout > 0 else parley.settings.request_timeout_s
        await anyio.to_thread.run_sync(parley.wait_for_job, job_id, wait)

    @post(
        "/{upload_ids:str}/ingest/job",
        status_code=201,
        operation_id="create_ingest_upload_job",
        responses=errors(404, 409, 413, 415),
        request_max_body_size=MAX_JSON_BYTES,
    )
    async def create_ingest_upload_job(
        self,
        parley: Parley,
        request: Request[Any, Any, Any],
        upload_ids: str,
        collection_id: str,
        timeout: float | None = None,
    ) -> JobDetails:
        job_id = await self._start_job(parley, request, upload_ids, collection_id, timeout)
        return await anyio.to_thread.run_sync(job_details, parley, job_id)

    async def _start_job(
        self,
        parley: Parley,
        request: Request[Any, Any, Any],
        joined_ids: str,
        collection_id: str,
        timeout: float | None,
    ) -> str:
        ids = split_ids(joined_ids)
        body = await optional_body(request, IngestUploadBody)
        options = {key: value for key, value in request.query_params.items() if key not in ("collection_id", "timeout")}
        owner = caller(request).username
        metadata = body.metadata if body is not None else None

        def start() -> str:
            return parley.starting_ingest()(
                ids, collection_id, options, owner=owner, metadata=metadata, timeout=timeout
            )

        return await anyio.to_thread.run_sync(start)
