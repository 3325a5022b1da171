"""The composition root: the one place that turns Settings into wired adapters, projections and services.

Each port has one factory that reads its setting (``PARLEY_EVENT_STORE``, ``PARLEY_READ_STORE``,
``PARLEY_VECTOR_INDEX``) and builds the adapter it names; a value no adapter serves is a ConfigurationError that
lists the ones that exist. ``bootstrap`` also takes any of the stores ready-made, so a test or an embedding
program can hand in its own instances and run the whole API in its process.
"""

from __future__ import annotations

import contextvars
import hashlib
import logging
import os
import secrets
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import msgspec

from adapters.chroma import ChromaVectorIndex
from adapters.crypto_shredding import CryptoShreddingEventStore, DerivedTraces
from adapters.embedding_cache import CachedEmbedder, EmbeddingStore
from adapters.filesystem import FileBlobStore
from adapters.local_llm import LlamaCppServer
from adapters.minilm import MiniLMEmbedder, MiniLMTokenizer, ParallelEmbedder
from adapters.openai_llm import OpenAICompatibleChatModel
from adapters.parsers import FileParser
from adapters.parsers.ocr import available_cores
from adapters.rag.chat_template import SandboxedChatTemplates
from adapters.rag.extractive import ReaderWeights
from adapters.rag.pipeline import HaystackAnswerer
from adapters.rag.reproduce import HaystackReproducer
from adapters.rag.search import HaystackChunkSearch
from adapters.refusals import LoggedRefusals
from adapters.sql.queries import SQLReadModelQueries
from adapters.sqlite.embedding_cache import SQLiteEmbeddingStore
from adapters.sqlite.event_store import SQLiteEventStore
from adapters.sqlite.lexical import FTS5LexicalIndex
from adapters.sqlite.past_states import InMemoryPastStates
from adapters.sqlite.read_models import SQLiteReadModelStore
from adapters.transcript import JinjaTranscript
from api.environment import OFFLINE_ENVIRONMENT
from api.export import ExportSession
from api.settings import Settings
from domain import apikey, user
from domain.errors import ConfigurationError, NotReady
from domain.ingestion import Ingestor
from domain.ports import (
    BlobStore,
    CheckpointStore,
    EventStore,
    LexicalIndex,
    ReadModelQueries,
    ReadModelStore,
    SubjectKeyStore,
    VectorIndex,
    WorkQueue,
)
from domain.service import CommandHandler, stream_name
from domain.usecases.ask import AskInSession
from domain.usecases.audit import AnswerProvenance, ReadHistory, ReplayAnswer, TimeTravel
from domain.usecases.collections import ManageCollections
from domain.usecases.commands import Commands
from domain.usecases.erasure import EraseSessions
from domain.usecases.ingest import IngestJob, StartIngestJob
from domain.usecases.search import SearchCollections
from domain.usecases.sessions import ManageChatSessions
from domain.usecases.templates import CollectionDocumentPrompts, ManagePromptTemplates
from domain.usecases.uploads import ReceiveUploads
from domain.usecases.users import ManageUsers, ShareResources
from projections.read_model_projection import ReadModelProjection
from projections.runner import ProjectionRunner, Projections
from projections.vector_projection import SentenceVectorProjection, VectorIndexProjection

log = logging.getLogger("parley")
EMBEDDING_MODELS = ("all-MiniLM-L6-v2",)  # the embedders a collection may name
CATCH_UP_AT_START_S = 3600.0  # how long a process without projectors waits at start for the projectors


def configure_process() -> None:
    """Offline, telemetry off, and thread pools sized so numpy's BLAS does not fight torch for the cores."""
    for key, value in OFFLINE_ENVIRONMENT.items():
        os.environ.setdefault(key, value)
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")
    # One torch thread: on small machines torch's OpenMP threads busy-wait and collapse as soon as the index
    # projection, the sentence projection, OCR workers and requests share the cores (measured 27-267
    # sentences/s with two threads under load against a steady 146-155/s with one).
    import torch

    torch.set_num_threads(1)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret() -> str:
    return "sk-" + secrets.token_urlsafe(36)[:48]


@dataclass
class Parley:
    """Everything a running Parley process holds, wired once."""

    settings: Settings
    events: EventStore
    read_store: ReadModelStore
    read_models: ReadModelQueries
    projections: Projections
    handler: CommandHandler
    blobs: BlobStore
    parser: FileParser  # every format, and the OCR languages installed
    tokenizer: MiniLMTokenizer
    embedder: CachedEmbedder
    index: VectorIndex
    answerer: HaystackAnswerer
    ingestor: Ingestor
    ingestion_pool: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(1, "ingest"))
    jobs: dict[str, Future[int]] = field(default_factory=dict)
    local_llm: LlamaCppServer | None = None  # PARLEY_LLM=local: the llama.cpp server this process runs
    work_queue: WorkQueue | None = None  # PARLEY_INGESTION=workers: jobs go to `parley worker` processes
    chat_templates: SandboxedChatTemplates = field(default_factory=SandboxedChatTemplates)  # checks chat_template

    def start(self) -> None:
        """Start the projections (unless other processes run them) and block until they have caught up with the
        log."""
        self.embedder.warm_up()
        if self.settings.projectors:
            self.projections.start()
            self.projections.wait_for_all(self.events.head_position())
        else:  # the projector processes may be starting too, or rebuilding: wait as long as a rebuild takes
            self.projections.wait_for(self.events.head_position(), timeout=CATCH_UP_AT_START_S)
        self.ensure_admin_key()
        self.resume_jobs()

    def resume_jobs(self) -> None:
        """Jobs a stop interrupted go on in the background (or end as failed, saying why), in their order. With
        ingestion workers, their leases run out and other workers take the items over instead."""
        if self.work_queue is not None:
            return
        for job in reversed(self.read_models.jobs()):
            if job.status != "in progress":
                continue
            log.info("resuming ingest job %s", job.id)
            ingested = self.read_models.documents_from_uploads
            self.jobs[job.id] = self.ingestion_pool.submit(self.ingestor.resume, job.id, ingested)

    def wait_for(self, position: int | None) -> None:
        self.projections.wait_for(position, timeout=self.settings.request_timeout_s)

    # --- the use cases, wired to this process's adapters (a few references each: made per request) ----------

    def asking(self) -> AskInSession:
        return AskInSession(self.handler, self.read_models, self.answerer, self.wait_for, self.settings.default_llm)

    def collections(self) -> ManageCollections:
        checks = self.asking().check_chat_settings
        return ManageCollections(self._commands(), self.read_models, EMBEDDING_MODELS, checks, self.prompt_templates())

    def prompt_templates(self) -> ManagePromptTemplates:
        return ManagePromptTemplates(self._commands(), self.read_models, self.chat_templates, LoggedRefusals())

    def searching(self) -> SearchCollections:
        return SearchCollections(self.read_models, HaystackChunkSearch(self.answerer.retrieval))

    def sessions(self) -> ManageChatSessions:
        return ManageChatSessions(self._commands(), self.read_models, self.prompt_templates())

    def users(self) -> ManageUsers:
        return ManageUsers(self._commands(), self.read_models, new_secret, hash_secret, self.erasing().erase)

    def sharing(self) -> ShareResources:
        return ShareResources(self._commands(), self.read_models)

    def receiving(self) -> ReceiveUploads:
        return ReceiveUploads(self._commands(), self.blobs)

    def starting_ingest(self) -> StartIngestJob:
        return StartIngestJob(
            self.handler,
            self.read_models,
            self.answerer,
            self.parser.check_language,
            self.run_ingest_job,
            self.wait_for,
            self.settings.default_llm,
        )

    def run_ingest_job(self, job: IngestJob) -> None:
        """In the background, in the caller's command context (the job's events name who started it); or, with
        ingestion workers, queued for them."""
        if self.work_queue is not None:
            pending = [upload_id for upload_id in job.upload_ids if upload_id not in job.already_ingested]
            self.work_queue.enqueue(job.job_id, pending)
            if len(pending) < len(job.upload_ids):  # uploads made into documents before: recorded at once
                self.ingestion_pool.submit(contextvars.copy_context().run, self._record_already_ingested, job)
            return
        self.jobs[job.job_id] = self.ingestion_pool.submit(
            contextvars.copy_context().run,
            self.ingestor.run,
            job.job_id,
            job.collection_id,
            job.upload_ids,
            job.settings,
            job.owner,
            job.metadata,
            job.enrich_llm,
            job.already_ingested,
        )

    def _record_already_ingested(self, job: IngestJob) -> None:
        for upload_id in job.already_ingested:
            self.ingestor.ingest_item(job.job_id, upload_id, self.read_models.documents_from_uploads)

    def wait_for_job(self, job_id: str, timeout: float) -> None:
        """Block until the job has finished and its documents are searchable; NotReady after ``timeout``."""
        future = self.jobs.get(job_id)
        if future is not None:
            try:
                self.wait_for(future.result(timeout))
            except TimeoutError as error:
                raise NotReady(f"ingestion is still running after {timeout:g} s; follow it as job {job_id}") from error
            return
        deadline = time.monotonic() + timeout
        while (job := self.read_models.job(job_id)) is not None and job.status == "in progress":
            if time.monotonic() >= deadline:
                raise NotReady(f"ingestion is still running after {timeout:g} s; follow it as job {job_id}")
            time.sleep(0.05)

    def _commands(self) -> Commands:
        return Commands(self.handler, self.wait_for)

    # --- audits (domain/usecases/audit.py): read from the event log, never from the live read models' state -----

    def history(self) -> ReadHistory:
        return ReadHistory(self.events)

    def time_travel(self) -> TimeTravel:
        return TimeTravel(self.events, InMemoryPastStates())

    def provenance(self) -> AnswerProvenance:
        return AnswerProvenance(self.events, self.read_models)

    def replaying(self) -> ReplayAnswer:
        return ReplayAnswer(self.provenance(), self.handler, HaystackReproducer(self.answerer), self.wait_for)

    def erasing(self) -> EraseSessions:
        """Crypto-shredding of chat sessions (``domain/usecases/erasure.py``): their keys, the embedding cache's
        vectors of their questions, and (SQLite) the read models' WAL after their rows are deleted."""
        assert isinstance(self.events, CryptoShreddingEventStore)  # bootstrap seals every event store
        compact = self.read_store.compact if isinstance(self.read_store, SQLiteReadModelStore) else None
        traces = DerivedTraces(self.embedder.store, compact)
        return EraseSessions(self.handler, self.events, self.events.keys, traces, self.wait_for)

    def exporting(self) -> ExportSession:
        return ExportSession(self.events, JinjaTranscript())

    def ensure_admin_key(self) -> None:
        """Make sure an admin can get in: the key from PARLEY_ADMIN_API_KEY, or a new one printed once."""
        secret = self.settings.admin_api_key
        if secret is None:
            if self.read_models.api_key_count() > 0:
                return
            secret = new_secret()
            print(f"Parley admin API key (shown once, store it): {secret}", flush=True)
        secret_hash = hash_secret(secret)
        if self.read_models.api_key_by_hash(secret_hash) is not None:
            return
        if self.read_models.user("admin") is None:
            self.handler.execute(user, stream_name("user", "admin"), user.CreateUser(user_id="admin", is_admin=True))
        key_id = str(uuid.uuid4())
        result = self.handler.execute(
            apikey,
            stream_name("apikey", key_id),
            apikey.CreateApiKey(
                key_id=key_id,
                name="admin",
                username="admin",
                secret_hash=secret_hash,
                hint=secret[-4:],
                is_admin=True,
            ),
        )
        self.projections.wait_for(result.commit_position if result else None, timeout=CATCH_UP_AT_START_S)

    def close(self) -> None:
        self.ingestion_pool.shutdown(wait=False, cancel_futures=True)
        self.projections.stop()
        self.events.close()
        self.read_store.close()
        if self.work_queue is not None:
            self.work_queue.close()
        if self.local_llm is not None:
            self.local_llm.stop()


def reader_weights(settings: Settings) -> ReaderWeights:
    defaults = ReaderWeights()
    if settings.decline_threshold is None:
        return defaults
    return msgspec.structs.replace(defaults, threshold=settings.decline_threshold)


@dataclass(frozen=True)
class ReadSide:
    """The read models, their queries, the lexical index and the checkpoints of the other projections: one
    engine serves them all, so they are built together."""

    store: ReadModelStore
    queries: ReadModelQueries
    lexical: LexicalIndex
    checkpoints: CheckpointStore


def _postgres_url(settings: Settings, variable: str) -> str:
    if not settings.postgres_url:
        raise ConfigurationError(f"{variable}=postgres needs PARLEY_POSTGRES_URL (a libpq URL)")
    return settings.postgres_url


def key_store_of(settings: Settings) -> SubjectKeyStore:
    """The erasure keys, outside the log: in Postgres (schema ``parley_keys``) when the log or the read side is
    there (KurrentDB's keys go beside a Postgres read side), else in ``keys.sqlite3`` in the data directory."""
    if settings.event_store == "postgres" or settings.read_store == "postgres":
        from adapters.postgres.subject_keys import PostgresSubjectKeyStore

        variable = "PARLEY_EVENT_STORE" if settings.event_store == "postgres" else "PARLEY_READ_STORE"
        return PostgresSubjectKeyStore(_postgres_url(settings, variable))
    from adapters.sqlite.subject_keys import SQLiteSubjectKeyStore

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return SQLiteSubjectKeyStore(settings.data_dir / "keys.sqlite3")


def sealed(events: EventStore, settings: Settings) -> CryptoShreddingEventStore:
    """The event store with chat events' personal fields sealed by their session's key (crypto-shredding)."""
    if isinstance(events, CryptoShreddingEventStore):
        return events
    return CryptoShreddingEventStore(events, key_store_of(settings))


def event_store_of(settings: Settings) -> EventStore:
    """The configured event log, sealing personal fields (``sealed``)."""
    return sealed(_event_log_of(settings), settings)


def _event_log_of(settings: Settings) -> EventStore:
    if settings.event_store == "postgres":
        from adapters.postgres.event_store import PostgresEventStore

        return PostgresEventStore(_postgres_url(settings, "PARLEY_EVENT_STORE"))
    if settings.event_store == "kurrentdb":
        if not settings.kurrentdb_url:
            raise ConfigurationError(
                "PARLEY_EVENT_STORE=kurrentdb needs PARLEY_KURRENTDB_URL (kurrentdb://host:2113?tls=false)"
            )
        from adapters.kurrentdb.event_store import KurrentDBEventStore

        return KurrentDBEventStore(settings.kurrentdb_url)
    return SQLiteEventStore(settings.data_dir / "events.sqlite3")


def read_side_of(settings: Settings) -> ReadSide:
    if settings.read_store == "postgres":
        from adapters.postgres.lexical import PostgresLexicalIndex
        from adapters.postgres.read_models import PostgresReadModelStore

        postgres = PostgresReadModelStore(_postgres_url(settings, "PARLEY_READ_STORE"))
        return ReadSide(postgres, SQLReadModelQueries(postgres), PostgresLexicalIndex(postgres), postgres)
    store = SQLiteReadModelStore(settings.data_dir / "read_models.sqlite3")
    return ReadSide(store, SQLReadModelQueries(store), FTS5LexicalIndex(store), store)


def scratch_read_store_of(settings: Settings) -> tuple[ReadModelStore, Callable[[], None]]:
    """Empty read models on the configured engine beside the live ones (``parley replay --verify``), and what
    removes them."""
    if settings.read_store == "postgres":
        from adapters.postgres.rebuild import scratch_read_models as postgres_scratch

        return postgres_scratch(_postgres_url(settings, "PARLEY_READ_STORE"))
    from adapters.sqlite.rebuild import scratch_read_models

    return scratch_read_models(settings.data_dir)


def empty_read_store(settings: Settings, store: ReadModelStore) -> None:
    """Empties the configured engine's read models and checkpoints in place (``parley replay``)."""
    if settings.read_store == "postgres":
        from adapters.postgres.read_models import PostgresReadModelStore
        from adapters.postgres.rebuild import empty_read_models as empty_postgres

        assert isinstance(store, PostgresReadModelStore)
        empty_postgres(store)
        return
    from adapters.sqlite.rebuild import empty_read_models

    assert isinstance(store, SQLiteReadModelStore)
    empty_read_models(store)


def vector_index_of(settings: Settings) -> VectorIndex:
    if settings.vector_index == "pgvector":
        from adapters.postgres.pgvector_index import PgvectorIndex

        return PgvectorIndex(_postgres_url(settings, "PARLEY_VECTOR_INDEX"), ef_search=settings.pgvector_ef_search)
    if settings.chroma_url:
        return ChromaVectorIndex.server(settings.chroma_url)
    return ChromaVectorIndex(settings.data_dir / "chroma")


def blob_store_of(settings: Settings) -> BlobStore:
    """Uploaded files: in Postgres beside a Postgres read side (every process reaches them), else on disk."""
    if settings.read_store == "postgres":
        from adapters.postgres.shared_state import PostgresBlobStore

        return PostgresBlobStore(_postgres_url(settings, "PARLEY_READ_STORE"))
    return FileBlobStore(settings.data_dir / "blobs")


def embedding_store_of(settings: Settings) -> EmbeddingStore:
    """The embedding cache: shared in Postgres beside a Postgres read side, else a SQLite file."""
    if settings.read_store == "postgres":
        from adapters.postgres.shared_state import PostgresEmbeddingStore

        return PostgresEmbeddingStore(_postgres_url(settings, "PARLEY_READ_STORE"))
    return SQLiteEmbeddingStore(settings.data_dir / "embeddings.sqlite3")


def work_queue_of(settings: Settings) -> WorkQueue | None:
    if settings.ingestion == "in-process":
        return None
    from adapters.postgres.work_queue import PostgresWorkQueue

    return PostgresWorkQueue(_postgres_url(settings, "PARLEY_INGESTION"))


def bootstrap(
    settings: Settings,
    *,
    events: EventStore | None = None,
    read_side: ReadSide | None = None,
    index: VectorIndex | None = None,
    blobs: BlobStore | None = None,
) -> Parley:
    """Wire a Parley process; the stores come from the settings unless handed in."""
    configure_process()
    data = settings.data_dir
    data.mkdir(parents=True, exist_ok=True)
    events = sealed(events or event_store_of(settings), settings)
    read_side = read_side or read_side_of(settings)
    index = index or vector_index_of(settings)
    blobs = blobs or blob_store_of(settings)
    tokenizer = MiniLMTokenizer()
    minilm = MiniLMEmbedder()
    cache = embedding_store_of(settings)
    embedder = CachedEmbedder(minilm, cache)
    # What makes documents searchable embeds on every core; queries and the background warmer stay on one.
    chunk_embedder = CachedEmbedder(ParallelEmbedder(minilm, available_cores()), cache)
    checkpoints = read_side.checkpoints
    projections = Projections(
        [
            ProjectionRunner(events, ReadModelProjection(read_side.store)),
            ProjectionRunner(events, VectorIndexProjection(index, chunk_embedder, checkpoints)),
            ProjectionRunner(events, SentenceVectorProjection(embedder, checkpoints)),
        ]
    )
    handler = CommandHandler(events)
    parser = FileParser()

    def wait_for(position: int) -> None:
        projections.wait_for(position, timeout=settings.request_timeout_s)

    answerer = HaystackAnswerer(
        embedder,
        index,
        read_side.queries,
        tokenizer,
        reader_weights(settings),
        lexical=read_side.lexical,
        max_llm_calls=settings.max_llm_calls,
        extractive_context_tokens=settings.extractive_context_tokens,
    )
    backends = list(settings.llm_backends)
    local_llm = None
    if settings.local_llm is not None:
        local = settings.local_llm
        local_llm = LlamaCppServer(threads=local.threads, context_size=local.context_size)
        backends.append(local_llm.backend(timeout_s=local.timeout_s))
    for backend in backends:
        for model in backend.models:
            if model in answerer.models():
                raise ConfigurationError(f"model {model!r} of backend {backend.name!r} is served by another backend")
            answerer.add_model(
                model,
                OpenAICompatibleChatModel(backend, model),
                context_size=backend.context_of(model),
                generative=True,
                backend=backend.name,
            )
    if settings.default_llm not in answerer.models():
        raise ConfigurationError(
            f"PARLEY_LLM_DEFAULT={settings.default_llm!r} is not a configured model: {', '.join(answerer.models())}"
        )
    if local_llm is not None:
        # Started here, in the thread that runs the process (the server dies with it), once nothing can fail.
        local_llm.start()
    return Parley(
        settings=settings,
        events=events,
        read_store=read_side.store,
        read_models=read_side.queries,
        projections=projections,
        handler=handler,
        blobs=blobs,
        parser=parser,
        tokenizer=tokenizer,
        embedder=embedder,
        index=index,
        answerer=answerer,
        ingestor=Ingestor(
            handler,
            blobs,
            parser,
            tokenizer,
            wait_for,
            enricher=answerer,
            document_prompts=CollectionDocumentPrompts(read_side.queries),
        ),
        local_llm=local_llm,
        work_queue=work_queue_of(settings),
    )
