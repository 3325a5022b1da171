"""The Job aggregate: long work (ingesting many uploads) whose progress clients can poll."""

from __future__ import annotations

import msgspec

from domain.errors import AlreadyExists, InvalidCommand, NotFound
from domain.events import Event, IngestOptions, JobFinished, JobItemFinished, JobProgressed, JobStarted


class StartJob(msgspec.Struct, frozen=True, kw_only=True):
    job_id: str
    kind: str
    name: str
    collection_id: str | None
    items: tuple[str, ...]
    timeout: float | None = None
    owner: str
    ingest: IngestOptions | None = None


class FinishJobItem(msgspec.Struct, frozen=True, kw_only=True):
    job_id: str
    item_id: str
    status: str
    document_id: str | None = None
    error: str | None = None


class ReportProgress(msgspec.Struct, frozen=True, kw_only=True):
    job_id: str
    item_id: str
    done: int
    total: int


class FinishJob(msgspec.Struct, frozen=True, kw_only=True):
    job_id: str
    canceled: bool = False


JobCommand = StartJob | FinishJobItem | ReportProgress | FinishJob


class Job(msgspec.Struct, frozen=True, kw_only=True):
    job_id: str
    pending: frozenset[str]
    items: tuple[str, ...] = ()
    collection_id: str | None = None
    owner: str = ""
    ingest: IngestOptions | None = None
    completed: int = 0
    failed: int = 0
    finished: bool = False


State = Job | None


def decide(state: State, command: JobCommand) -> list[Event]:
    if isinstance(command, StartJob):
        if state is not None:
            raise AlreadyExists(f"job {command.job_id} already exists")
        if not command.items:
            raise InvalidCommand("a job needs at least one item")
        if len(set(command.items)) != len(command.items):
            raise InvalidCommand("a job lists the same item twice")
        return [
            JobStarted(
                job_id=command.job_id,
                kind=command.kind,
                name=command.name,
                collection_id=command.collection_id,
                items=command.items,
                timeout=command.timeout,
                owner=command.owner,
                ingest=command.ingest,
            )
        ]
    if state is None:
        raise NotFound(f"job {command.job_id} not found")
    if state.finished:
        raise InvalidCommand(f"job {command.job_id} has already finished")
    if isinstance(command, FinishJobItem):
        if command.item_id not in state.pending:
            raise InvalidCommand(f"{command.item_id} is not a pending item of job {command.job_id}")
        if command.status not in ("completed", "failed"):
            raise InvalidCommand(f"a job item ends completed or failed, not {command.status!r}")
        if command.status == "failed" and not command.error:
            raise InvalidCommand("a failed job item needs an error line")
        return [
            JobItemFinished(
                job_id=command.job_id,
                item_id=command.item_id,
                status=command.status,
                document_id=command.document_id,
                error=command.error,
            )
        ]
    if isinstance(command, ReportProgress):
        if command.item_id not in state.pending:
            raise InvalidCommand(f"{command.item_id} is not a pending item of job {command.job_id}")
        if not 0 <= command.done <= command.total or command.total < 1:
            raise InvalidCommand(f"progress must be 0 <= done <= total, total >= 1; got {command.done}/{command.total}")
        return [JobProgressed(job_id=command.job_id, item_id=command.item_id, done=command.done, total=command.total)]
    if command.canceled:
        return [JobFinished(job_id=command.job_id, status="canceled")]
    if state.pending:
        raise InvalidCommand(f"job {command.job_id} still has {len(state.pending)} items to do")
    # A job whose every item failed has failed; one with some successes completed (with error lines).
    status = "failed" if state.completed == 0 else "completed"
    return [JobFinished(job_id=command.job_id, status=status)]


def evolve(state: State, event: Event) -> State:
    if isinstance(event, JobStarted):
        return Job(
            job_id=event.job_id,
            pending=frozenset(event.items),
            items=event.items,
            collection_id=event.collection_id,
            owner=event.owner,
            ingest=event.ingest,
        )
    if state is None:
        return state
    if isinstance(event, JobItemFinished):
        done = {"completed": state.completed + (event.status == "completed")}
        done["failed"] = state.failed + (event.status == "failed")
        return msgspec.structs.replace(state, pending=state.pending - {event.item_id}, **done)
    if isinstance(event, JobFinished):
        return msgspec.structs.replace(state, finished=True)
    return state
