"""Ingestion: turn uploads into documents of a collection, one job at a time. Pure orchestration over ports.

Each upload ends as exactly one document event (ingested with its chunks, or failed with a reason) and one
job-item event; a parser crash on one file is recorded as that file's failure and never stops the others.
The job finishes only once the projections serving search have applied its documents, so ``completed``
means searchable.

Files are parsed a few at a time (as many as the parser can use: one per OCR worker) while the results are
recorded in upload order, so a job of single-page scans keeps every OCR worker busy.
"""

from __future__ import annotations

import contextvars
import functools
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import msgspec

from domain import collection, document, job, upload
from domain.answering import DocumentPrompts
from domain.chunking import chunk_document
from domain.collection import DEFAULT_CHUNK_TOKENS, DEFAULT_OVERLAP_TOKENS, Collection
from domain.errors import DocumentUnreadable, InvalidCommand, NotFound, ParleyError
from domain.events import CollectionSettings
from domain.ports import BlobStore, DocumentEnricher, DocumentParser, ParseOptions, Tokenizer
from domain.service import CommandHandler, stream_name

PROGRESS_INTERVAL = 1.0  # seconds between recorded progress events of one file

FileOutcome = document.RecordIngestedDocument | document.RecordFailedDocument
SUGGESTED_QUESTIONS = 5  # per document, with gen_doc_questions


class Prepared(msgspec.Struct, frozen=True):
    """One upload, parsed: the command that records its document, what was written about it (a summary,
    questions), and why something asked for could not be written."""

    outcome: FileOutcome
    about: tuple[document.RecordSummary | document.RecordSuggestedQuestions, ...] = ()
    problem: str | None = None


def effective_settings(collection: CollectionSettings, overrides: dict[str, Any]) -> CollectionSettings:
    """The collection's settings with the per-request ingest options (those not None) laid over them, converted
    to their types ("true", "0", "200" from a query string); a value of the wrong type is InvalidCommand."""
    known = {field.name for field in msgspec.structs.fields(CollectionSettings)}
    chosen = {key: value for key, value in overrides.items() if value is not None and key in known}
    try:
        return msgspec.convert({**msgspec.to_builtins(collection), **chosen}, CollectionSettings, strict=False)
    except msgspec.ValidationError as error:
        raise InvalidCommand(f"ingest options: {error}") from error


def _reason(error: Exception) -> str:
    return error.message if isinstance(error, ParleyError) else f"{type(error).__name__}: {error}"


class Ingestor:
    def __init__(
        self,
        handler: CommandHandler,
        blobs: BlobStore,
        parser: DocumentParser,
        tokenizer: Tokenizer,
        wait_for_projections: Callable[[int], None],
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
        monotonic: Callable[[], float] = time.monotonic,
        concurrent_files: int | None = None,
        enricher: DocumentEnricher | None = None,
        document_prompts: Callable[[str], DocumentPrompts] | None = None,
    ) -> None:
        self.enricher = enricher
        # The collection's template's texts for summaries and questions, as they read when a document is written.
        self.document_prompts = document_prompts or (lambda collection_id: DocumentPrompts())
        self.monotonic = monotonic
        self.concurrent_files = concurrent_files  # None: as many as the parser says it can use
        self.handler = handler
        self.blobs = blobs
        self.parser = parser
        self.tokenizer = tokenizer
        self.wait_for_projections = wait_for_projections
        self.new_id = new_id

    def run(
        self,
        job_id: str,
        collection_id: str,
        upload_ids: Sequence[str],
        settings: CollectionSettings,
        owner: str,
        metadata: dict[str, Any] | None = None,
        enrich_llm: str | None = None,
        already_ingested: Mapping[str, str] | None = None,
    ) -> int:
        """Ingest every upload, finish the job, and return the log position of its last event.

        With ``gen_doc_summaries`` / ``gen_doc_questions`` set, ``enrich_llm`` writes a summary and questions of
        each document, recorded with it; if that fails, the document is still ingested and the job's errors say
        what was not written. An upload in ``already_ingested`` (upload id -> its document in this collection)
        is not read again: ingesting is idempotent, so a client that retries after a time-out gets no copy."""
        position = 0
        width = max(1, self.concurrent_files or int(getattr(self.parser, "concurrent_files", 1)))
        pending: deque[Future[Prepared]] = deque()
        already_ingested = already_ingested or {}
        for ingested, document_id in already_ingested.items():
            item = job.FinishJobItem(job_id=job_id, item_id=ingested, status="completed", document_id=document_id)
            recorded = self.handler.execute(job, stream_name("job", job_id), item)
            position = recorded.commit_position if recorded else position
        remaining = iter(upload_id for upload_id in upload_ids if upload_id not in already_ingested)
        with ThreadPoolExecutor(width, thread_name_prefix="parse") as pool:
            try:
                while True:
                    while len(pending) < width and (upload_id := next(remaining, None)) is not None:
                        document_id = self.new_id()  # here, so ids follow the upload order
                        arguments = (
                            document_id, job_id, collection_id, upload_id, settings, owner, metadata or {}, enrich_llm
                        )  # fmt: skip
                        # In the job's command context: the parsing thread reports progress as events too.
                        prepare = functools.partial(self._prepare, *arguments)
                        pending.append(pool.submit(contextvars.copy_context().run, prepare))
                    if not pending:
                        break
                    position = max(position, self._record(job_id, pending.popleft().result()))
            finally:
                for future in pending:
                    future.cancel()
        self.wait_for_projections(position)
        finished = self.handler.execute(job, stream_name("job", job_id), job.FinishJob(job_id=job_id))
        return finished.commit_position if finished else position

    def resume(self, job_id: str, ingested: Callable[[str, Sequence[str]], Mapping[str, str]]) -> int:
        """Finish an ingest job that a restart interrupted: ingest the uploads it had not done yet (recording as
        done those whose document was made before the stop: ``ingested(collection_id, upload_ids)`` names them),
        or, when it cannot go on, end them as failed with the reason. Returns the log position of its last
        event, 0 if it had finished."""
        state = self.handler.load(job, stream_name("job", job_id))
        if state is None or state.finished:
            return 0
        pending = [item for item in state.items if item in state.pending]
        if state.ingest is None or state.collection_id is None:
            return self._abandon(job_id, pending, "the server restarted before this upload was ingested")
        try:
            live_collection(self.handler, state.collection_id)
        except NotFound:
            return self._abandon(job_id, pending, "its collection was deleted while the server was stopped")
        options = state.ingest
        done = ingested(state.collection_id, pending)
        return self.run(
            job_id, state.collection_id, pending, options.settings, state.owner, options.metadata,
            options.enrich_llm, done,
        )  # fmt: skip

    def ingest_item(
        self, job_id: str, upload_id: str, ingested: Callable[[str, Sequence[str]], Mapping[str, str]]
    ) -> int:
        """One upload of a job, for an ingestion worker: made into its document, the item recorded, and the job
        finished when it was the last. A document already made from the upload (by a worker that died before it
        recorded the item) is recorded as the item's, not made again. Returns the log position of the last
        event; 0 when the item was not pending any more (another worker recorded it)."""
        stream = stream_name("job", job_id)
        state = self.handler.load(job, stream)
        if state is None or state.finished or upload_id not in state.pending:
            return 0
        if state.ingest is None or state.collection_id is None:
            return self._abandon(job_id, [upload_id], "the job was started before jobs recorded their options")
        # The read models must show everything logged so far, a dead worker's document included.
        self.wait_for_projections(self.handler.store.head_position())
        made = ingested(state.collection_id, [upload_id])
        try:
            if upload_id in made:
                item = job.FinishJobItem(job_id=job_id, item_id=upload_id, status="completed",
                                         document_id=made[upload_id])  # fmt: skip
                recorded = self.handler.execute(job, stream, item)
                position = recorded.commit_position if recorded else 0
            else:
                options = state.ingest
                prepared = self._prepare(
                    self.new_id(), job_id, state.collection_id, upload_id, options.settings, state.owner,
                    options.metadata, options.enrich_llm,
                )  # fmt: skip
                position = self._record(job_id, prepared)
        except InvalidCommand:  # another worker recorded the item meanwhile
            return 0
        return max(position, self._finish_if_done(job_id, position))

    def give_up_item(self, job_id: str, upload_id: str, reason: str) -> int:
        """End one pending upload of a job as failed with ``reason`` (the job finishes when it was the last), for
        an item that no worker could take to its end. Returns the log position of the last event; 0 when the
        item was not pending any more."""
        stream = stream_name("job", job_id)
        state = self.handler.load(job, stream)
        if state is None or state.finished or upload_id not in state.pending:
            return 0
        try:
            position = self._fail_item(job_id, upload_id, reason)
        except InvalidCommand:  # another worker recorded the item meanwhile
            return 0
        return max(position, self._finish_if_done(job_id, position))

    def _finish_if_done(self, job_id: str, position: int) -> int:
        stream = stream_name("job", job_id)
        state = self.handler.load(job, stream)
        if state is None or state.finished or state.pending:
            return 0
        self.wait_for_projections(position)  # a job reports completed only once its documents are searchable
        try:
            finished = self.handler.execute(job, stream, job.FinishJob(job_id=job_id))
        except InvalidCommand:  # the worker of another last item finished it
            return 0
        return finished.commit_position if finished else 0

    def _abandon(self, job_id: str, pending: Sequence[str], reason: str) -> int:
        for upload_id in pending:
            self._fail_item(job_id, upload_id, f"{reason}; ingest it again")
        finished = self.handler.execute(job, stream_name("job", job_id), job.FinishJob(job_id=job_id))
        return finished.commit_position if finished else 0

    def _fail_item(self, job_id: str, upload_id: str, reason: str) -> int:
        """Record one item of a job as failed, its error naming the upload; the log position of the event."""
        failed = job.FinishJobItem(job_id=job_id, item_id=upload_id, status="failed",
                                   error=f"upload {upload_id}: {reason}")  # fmt: skip
        recorded = self.handler.execute(job, stream_name("job", job_id), failed)
        return recorded.commit_position if recorded else 0

    def _prepare(
        self,
        document_id: str,
        job_id: str,
        collection_id: str,
        upload_id: str,
        settings: CollectionSettings,
        owner: str,
        metadata: dict[str, Any],
        enrich_llm: str | None = None,
    ) -> Prepared:
        """Parse and chunk one upload (in a parsing thread) into the commands that record its document."""
        state = self.handler.load(upload, stream_name("upload", upload_id))
        if state is None:
            raise NotFound(f"upload {upload_id} not found")
        name, size = state.filename, state.size
        kind = name.rsplit(".", 1)[-1].lower() if "." in name else "unknown"
        command: FileOutcome
        try:
            options = ParseOptions(ocr_model=settings.ocr_model, tesseract_lang=settings.tesseract_lang or "eng")
            progress = self._progress_reporter(job_id, upload_id)
            parsed = self.parser.parse(name, self.blobs.get(state.content_hash), options, progress)
            chunks = chunk_document(
                parsed.pages,
                self.tokenizer,
                settings.max_tokens_per_chunk or DEFAULT_CHUNK_TOKENS,
                DEFAULT_OVERLAP_TOKENS if settings.chunk_overlap_tokens is None else settings.chunk_overlap_tokens,
                by_page=bool(settings.chunk_by_page),
                keep_tables=bool(settings.keep_tables_as_one_chunk) and not settings.chunk_by_page,
            )
            if not chunks:
                raise DocumentUnreadable("no text could be extracted")
            command = document.RecordIngestedDocument(
                document_id=document_id,
                collection_id=collection_id,
                upload_id=upload_id,
                job_id=job_id,
                name=name,
                type=parsed.type,
                size=size,
                content_hash=state.content_hash,
                page_count=len(parsed.pages),
                chunks=tuple(chunks),
                metadata=metadata,
                owner=owner,
            )
        except DocumentUnreadable as error:
            command = self._failed(
                document_id, collection_id, upload_id, job_id, name, kind, size, error.message, owner
            )
        except Exception as error:
            reason = f"the parser failed on this file ({type(error).__name__}: {error})"
            command = self._failed(document_id, collection_id, upload_id, job_id, name, kind, size, reason, owner)
        if isinstance(command, document.RecordFailedDocument) or enrich_llm is None:
            return Prepared(command)
        return self._write_about(command, settings, enrich_llm)

    def _write_about(
        self, command: document.RecordIngestedDocument, settings: CollectionSettings, llm: str
    ) -> Prepared:
        texts = [chunk.text for chunk in command.chunks]
        about: list[document.RecordSummary | document.RecordSuggestedQuestions] = []
        problems = []
        ids = {"document_id": command.document_id, "collection_id": command.collection_id, "llm": llm}
        if self.enricher is None:
            return Prepared(command, problem="no model is configured to write about documents")
        prompts = self.document_prompts(command.collection_id)
        try:
            if settings.gen_doc_summaries:
                summary = self.enricher.summarize(llm, command.name, texts, prompts)
                if summary.strip():
                    about.append(document.RecordSummary(summary=summary, **ids))
        except Exception as error:  # a writer that fails costs the summary, never the document or the job
            problems.append(f"summary not written ({_reason(error)})")
        try:
            if settings.gen_doc_questions:
                questions = self.enricher.suggest_questions(llm, command.name, texts, SUGGESTED_QUESTIONS, prompts)
                if questions:
                    about.append(document.RecordSuggestedQuestions(questions=tuple(questions), **ids))
        except Exception as error:
            problems.append(f"questions not written ({_reason(error)})")
        return Prepared(command, tuple(about), "; ".join(problems) or None)

    def _record(self, job_id: str, prepared: Prepared) -> int:
        """Record one file's document and job item events; the log position of the last."""
        command = prepared.outcome
        name, upload_id, document_id = command.name, command.upload_id, command.document_id
        self.handler.execute(document, stream_name("document", document_id), command, *prepared.about)
        failed = isinstance(command, document.RecordFailedDocument)
        problem = command.reason if isinstance(command, document.RecordFailedDocument) else prepared.problem
        item = job.FinishJobItem(
            job_id=job_id,
            item_id=upload_id,
            status="failed" if failed else "completed",
            document_id=document_id,
            error=f"{name}: {problem}" if problem else None,
        )
        result = self.handler.execute(job, stream_name("job", job_id), item)
        return result.commit_position if result else 0

    def _progress_reporter(self, job_id: str, upload_id: str) -> Callable[[int, int], None]:
        """Record page progress of a file as job events, at most one per PROGRESS_INTERVAL (the last page
        of a file is recorded by its item event instead)."""
        last = [self.monotonic()]

        def report(done: int, total: int) -> None:
            now = self.monotonic()
            if done >= total or now - last[0] < PROGRESS_INTERVAL:
                return
            last[0] = now
            command = job.ReportProgress(job_id=job_id, item_id=upload_id, done=done, total=total)
            self.handler.execute(job, stream_name("job", job_id), command)

        return report

    @staticmethod
    def _failed(
        document_id: str,
        collection_id: str,
        upload_id: str,
        job_id: str,
        name: str,
        kind: str,
        size: int,
        reason: str,
        owner: str,
    ) -> document.RecordFailedDocument:
        return document.RecordFailedDocument(
            document_id=document_id,
            collection_id=collection_id,
            upload_id=upload_id,
            job_id=job_id,
            name=name,
            type=kind,
            size=size,
            reason=reason,
            owner=owner,
        )


def live_collection(handler: CommandHandler, collection_id: str) -> Collection:
    state = handler.load(collection, stream_name("collection", collection_id))
    if state is None or state.deleted:
        raise NotFound(f"collection {collection_id} not found")
    result: Collection = state
    return result
