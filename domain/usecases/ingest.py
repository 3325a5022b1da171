"""Starting an ingest job: everything a request can get wrong is refused before the job exists, then the job is
recorded with what it was asked to do (so a restart can resume it) and handed to the ingestion workers."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import msgspec

from domain import job
from domain.collection import check_settings
from domain.errors import InvalidCommand, NotFound
from domain.events import ChatSettings, CollectionSettings, IngestOptions
from domain.ingestion import effective_settings, live_collection
from domain.ports import ChatReads
from domain.service import CommandHandler
from domain.usecases.commands import Commands
from domain.views import CollectionView


class UploadReads(ChatReads, Protocol):
    def upload(self, upload_id: str) -> object | None: ...

    def documents_from_uploads(self, collection_id: str, upload_ids: Sequence[str]) -> dict[str, str]: ...


class Writers(Protocol):
    """The models that can write a document's summary and questions (the answerer)."""

    def models(self) -> list[str]: ...

    def generates_text(self, llm: str) -> bool: ...


class IngestJob(msgspec.Struct, frozen=True, kw_only=True):
    """What the ingestion workers are handed: the job and everything its run needs."""

    job_id: str
    collection_id: str
    upload_ids: tuple[str, ...]
    settings: CollectionSettings
    owner: str
    metadata: dict[str, Any] | None
    enrich_llm: str | None
    already_ingested: dict[str, str]  # document id by upload id: uploads made into documents of it before


class StartIngestJob:
    """``start(upload_ids, collection_id, options, ...)`` -> job id; ``run_job`` schedules the work (in the
    request's command context, so the job's events name the caller who started it)."""

    def __init__(
        self,
        handler: CommandHandler,
        reads: UploadReads,
        writers: Writers,
        check_language: Callable[[str], None],
        run_job: Callable[[IngestJob], None],
        wait_for: Callable[[int | None], None],
        default_llm: str,
    ) -> None:
        self.handler = handler
        self.reads = reads
        self.writers = writers
        self.check_language = check_language
        self.run_job = run_job
        self.commands = Commands(handler, wait_for)
        self.default_llm = default_llm

    def __call__(
        self,
        upload_ids: Sequence[str],
        collection_id: str,
        options: dict[str, Any],
        *,
        owner: str,
        metadata: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> str:
        """``options``: the h2oGPTe ingest parameters, over the collection's settings."""
        collection = live_collection(self.handler, collection_id)
        settings = effective_settings(collection.settings, options)
        check_settings(settings)
        if settings.tesseract_lang and settings.ocr_model != "off":
            self.check_language(settings.tesseract_lang)
        enrich_llm = self.writer(settings, self.reads.collection(collection_id))
        missing = [upload_id for upload_id in upload_ids if self.reads.upload(upload_id) is None]
        if missing:
            raise NotFound(f"uploads not found: {', '.join(missing[:10])}")
        job_id = str(uuid.uuid4())
        start = job.StartJob(
            job_id=job_id,
            kind="IngestUploadsJob",
            name=f"Ingest {len(upload_ids)} upload(s) into {collection.name}",
            collection_id=collection_id,
            items=tuple(upload_ids),
            timeout=timeout,
            owner=owner,
            ingest=IngestOptions(settings=settings, metadata=metadata or {}, enrich_llm=enrich_llm),
        )
        self.commands.run(job, "job", job_id, start)
        already = self.reads.documents_from_uploads(collection_id, upload_ids)
        self.run_job(
            IngestJob(
                job_id=job_id,
                collection_id=collection_id,
                upload_ids=tuple(upload_ids),
                settings=settings,
                owner=owner,
                metadata=metadata,
                enrich_llm=enrich_llm,
                already_ingested=already,
            )
        )
        return job_id

    def writer(self, settings: CollectionSettings, collection: CollectionView | None) -> str | None:
        """The model that writes summaries and questions of the job's documents (the collection's, else the
        default), when the settings ask for either; a model that cannot write questions is refused up front."""
        if not (settings.gen_doc_summaries or settings.gen_doc_questions):
            return None
        chat = msgspec.json.decode(collection.chat_settings, type=ChatSettings) if collection else ChatSettings()
        llm = chat.llm if chat.llm and chat.llm != "auto" else self.default_llm
        if llm not in self.writers.models():
            raise InvalidCommand(f"the collection's llm {llm!r} is not a configured model")
        if settings.gen_doc_questions and not self.writers.generates_text(llm):
            raise InvalidCommand(
                f"gen_doc_questions needs a model that writes text, and the collection's model {llm!r} only selects "
                "sentences from documents: configure an LLM backend (PARLEY_LLM_BASE_URL) and set the collection's "
                "chat_settings.llm, or ingest without gen_doc_questions"
            )
        return llm
