"""Jobs: poll long work (ingestion) by id."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from litestar import Controller, Request, get

from api.bootstrap import Parley
from api.controllers._common import API, LIST, READ, caller
from api.limits import MAX_JSON_BYTES
from api.schemas import JobDetails, job_from_rows
from domain.errors import NotFound


def job_details(parley: Parley, job_id: str) -> JobDetails:
    row = parley.read_models.job(job_id)
    if row is None:
        raise NotFound(f"job {job_id} not found")
    return job_from_rows(row, parley.read_models.job_items(job_id), datetime.now(UTC))


class JobController(Controller):
    path = f"{API}/jobs"
    tags = ["jobs"]
    request_max_body_size = MAX_JSON_BYTES

    @get("/", status_code=200, operation_id="list_jobs", responses=LIST, sync_to_thread=True)
    def list_jobs(self, parley: Parley, request: Request[Any, Any, Any]) -> list[JobDetails]:
        """The caller's jobs (an admin's: every job)."""
        who = caller(request)
        rows = parley.read_models.jobs(None if who.is_admin else who.username)
        return [job_details(parley, row.id) for row in rows]

    @get("/{job_id:str}", status_code=200, operation_id="get_job", responses=READ, sync_to_thread=True)
    def get_job(self, parley: Parley, job_id: str) -> JobDetails:
        return job_details(parley, job_id)
