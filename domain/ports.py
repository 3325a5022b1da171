"""Ports: the Protocols the application needs from the outside world. Adapters implement them.

The event store is the heart: one append-only log of streams. Positions are 1-based and increase in
commit order across all streams; stream versions are 0-based (the first event of a stream is version 0).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Protocol

import msgspec

from domain.access import Principal
from domain.answering import Answer, AnswerRequest, DocumentPrompts, PromptPreview
from domain.events import AnswerGenerated, AnyEvent, Reference
from domain.views import (
    ApiKeyView,
    ChatSessionView,
    ChunkView,
    CollectionView,
    DocumentView,
    JobItemView,
    JobView,
    LexicalHit,
    MessageView,
    ReferenceView,
    ShareView,
    TemplateVersionView,
    TemplateView,
    UploadView,
    UserView,
)

NO_STREAM = -1  # expected_version for "this stream must not exist yet"
ANY_VERSION: None = None  # expected_version for "append whatever the stream holds"


class EventMetadata(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """The envelope of an event: who caused it and in answer to what. The command handler stamps it from the
    request (``domain.envelope``); stores keep it beside the payload and return it unchanged."""

    actor: str | None = None  # the user id of the caller
    key_id: str | None = None  # the API key the caller used
    command_id: str | None = None  # the command that decided the event; its events' ids derive from it
    correlation_id: str | None = None  # the request (or job) every event of one piece of work shares
    causation_id: str | None = None  # what caused the command: the request, or the event that triggered it


NO_METADATA = EventMetadata()


class NewEvent(msgspec.Struct, frozen=True, kw_only=True):
    """An event ready to append: its id makes re-appending it idempotent."""

    event_id: str
    type: str
    schema_version: int  # of this event type's payload (``domain.events.EVENT_VERSIONS``)
    data: bytes
    recorded_at: datetime
    metadata: EventMetadata = NO_METADATA


class RecordedEvent(msgspec.Struct, frozen=True, kw_only=True):
    """An event as the store holds it."""

    position: int
    stream: str
    version: int
    event_id: str
    type: str
    schema_version: int
    data: bytes
    recorded_at: datetime
    metadata: EventMetadata = NO_METADATA


class AppendResult(msgspec.Struct, frozen=True):
    stream_version: int
    commit_position: int


class Subscription(Protocol):
    """Catch-up then live: yields pages of events in commit order until closed."""

    def __iter__(self) -> Iterator[list[RecordedEvent]]: ...

    def close(self) -> None: ...


class EventStore(Protocol):
    def append(self, stream: str, events: Sequence[NewEvent], expected_version: int | None) -> AppendResult:
        """Append atomically. ``expected_version``: NO_STREAM, the version of the stream's last event,
        or ANY_VERSION. Raises ConcurrencyError when it does not hold. Re-appending the same event ids at
        the same place returns the original result (idempotent)."""
        ...

    def read_stream(self, stream: str, from_version: int = 0, to_version: int | None = None) -> list[RecordedEvent]:
        """The stream's events from ``from_version`` up to ``to_version`` (inclusive; None: to its end)."""
        ...

    def read_all(self, after_position: int = 0, limit: int = 1000) -> list[RecordedEvent]: ...

    def head_position(self) -> int:
        """Position of the newest event in the log, 0 when it is empty."""
        ...

    def subscribe(self, after_position: int = 0) -> Subscription: ...

    def close(self) -> None: ...


class BlobStore(Protocol):
    """Content-addressed bytes (uploaded files), named by their sha256."""

    def put(self, data: bytes) -> str: ...

    def get(self, content_hash: str) -> bytes: ...


class Embedder(Protocol):
    name: str
    dimension: int

    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


class Tokenizer(Protocol):
    """Counts tokens the way the embedder does, so chunks fit its window."""

    max_tokens: int

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        """Character spans of the tokens of ``text`` (no special tokens)."""
        ...


class ParsedPage(msgspec.Struct, frozen=True):
    number: int  # 1-based
    text: str
    tables: tuple[tuple[int, int], ...] = ()  # character spans of tables (as Markdown) within ``text``
    ocr: bool = False  # the text came from OCR


class ParsedDocument(msgspec.Struct, frozen=True):
    type: str  # pdf | txt | md | png ...
    pages: tuple[ParsedPage, ...]


class ParseOptions(msgspec.Struct, frozen=True, kw_only=True):
    """The h2oGPTe ingest options a parser honours."""

    ocr_model: str = "auto"  # auto: OCR pages without a text layer; tesseract: always; off: never
    tesseract_lang: str = "eng"


PageProgress = Callable[[int, int], None]  # (pages done, pages in the file)


class DocumentParser(Protocol):
    def parse(
        self, filename: str, data: bytes, options: ParseOptions = ..., progress: PageProgress | None = None
    ) -> ParsedDocument:
        """Raises DocumentUnreadable with a readable reason when the file cannot be read."""
        ...


class VectorHit(msgspec.Struct, frozen=True):
    document_id: str
    ordinal: int
    score: float  # cosine similarity, higher is better


class VectorIndex(Protocol):
    def upsert(
        self, collection_id: str, document_id: str, ordinals: Sequence[int], vectors: Sequence[Sequence[float]]
    ) -> None: ...

    def delete_document(self, collection_id: str, document_id: str) -> None: ...

    def drop_collection(self, collection_id: str) -> None: ...

    def query(self, collection_id: str, vector: Any, top_k: int) -> list[VectorHit]:
        """``vector``: a 1-D float array (or sequence) of the index's dimension."""
        ...


class DocumentEnricher(Protocol):
    """Writes about a freshly ingested document with a model: a summary, and questions it can answer."""

    def generates_text(self, llm: str) -> bool:
        """Whether ``llm`` writes text of its own (question generation needs that); unknown models are False."""
        ...

    def summarize(self, llm: str, name: str, texts: Sequence[str], prompts: DocumentPrompts | None = None) -> str:
        """A summary of the document whose chunk ``texts`` are given in reading order (``prompts``: the collection's
        template's texts for it)."""
        ...

    def suggest_questions(
        self, llm: str, name: str, texts: Sequence[str], count: int, prompts: DocumentPrompts | None = None
    ) -> list[str]:
        """Up to ``count`` questions the document answers."""
        ...


class WorkItem(msgspec.Struct, frozen=True):
    job_id: str
    item_id: str  # an upload id of an ingest job
    attempts: int = 1  # how many times it was claimed, this claim included: each claim before it died with its worker


class WorkQueue(Protocol):
    """Items of jobs that ingestion workers (other processes) take one at a time. A claim is a lease: a worker
    that dies stops renewing it, and when it runs out another worker takes the item over."""

    def enqueue(self, job_id: str, item_ids: Sequence[str]) -> None:
        """Offer the items; one already offered is left as it is."""
        ...

    def claim(self, worker: str, lease_s: float) -> WorkItem | None:
        """An item nobody holds (or whose lease ran out), now held by ``worker``, its ``attempts`` counted;
        None when there is none."""
        ...

    def renew(self, item: WorkItem, worker: str, lease_s: float) -> bool:
        """Extend ``worker``'s lease; False when the item is no longer its own."""
        ...

    def done(self, item: WorkItem, worker: str) -> None: ...

    def close(self) -> None: ...


# --- the read side ----------------------------------------------------------------------------------------


class CheckpointStore(Protocol):
    """Where a projection whose engine has no transactions of its own (a vector index) keeps its position."""

    def checkpoint(self, name: str) -> int:
        """The position of the last event the projection ``name`` applied; 0 before the first."""
        ...

    def save_checkpoint(self, name: str, position: int) -> None: ...


class ReadModelStore(CheckpointStore, Protocol):
    """The read models' home: folds events into them, each page with its checkpoint in one transaction, so a
    crash never applies an event twice or loses one. Dropping it and applying the log from position 0 rebuilds
    it exactly."""

    rebuilt: bool  # it found its read models built by another schema, dropped them and starts from position 0

    def apply(self, name: str, page: Sequence[tuple[RecordedEvent, AnyEvent]]) -> None:
        """Fold the page's events (each with its record) and store the last one's position as ``name``'s
        checkpoint, atomically."""
        ...

    def snapshot(self, name: str) -> tuple[int, dict[str, list[tuple[Any, ...]]]]:
        """The projection ``name``'s checkpoint and every read model's content in a stable order, read in one
        transaction so that they agree while a projector goes on writing (to compare two builds)."""
        ...

    def close(self) -> None: ...


class LexicalIndex(Protocol):
    """Keyword search over a collection's chunks (kept by the read-model projector, in the same transaction)."""

    def search(self, collection_id: str, terms: Sequence[str], limit: int) -> list[LexicalHit]:
        """The best matches for any of ``terms``, best first; none for no terms."""
        ...


class ChatReads(Protocol):
    """The reads that asking a question and managing collections and sessions need."""

    def chat_session(self, session_id: str) -> ChatSessionView | None: ...

    def collection(self, collection_id: str) -> CollectionView | None: ...

    def messages(self, session_id: str, offset: int = 0, limit: int = 10_000) -> list[MessageView]: ...

    def message(self, message_id: str) -> MessageView | None: ...


class ChunkReads(Protocol):
    """The reads the pipelines need beside the indexes."""

    def chunks_by_position(self, keys: Sequence[tuple[str, int]]) -> dict[tuple[str, int], ChunkView]:
        """The chunks at (document_id, ordinal), with their document's name; unknown keys are left out."""
        ...

    def collection_chunks(self, collection_id: str, limit: int) -> list[ChunkView]:
        """Up to ``limit`` chunks of a collection, in document (by name) and reading order."""
        ...

    def chunk_totals(self, collection_id: str) -> tuple[int, int]:
        """How many chunks a collection has, and their tokens together."""
        ...


class TemplateReads(Protocol):
    """The reads of prompt templates. Listings sort by ``name``, ``created_at``, ``updated_at`` or ``version``
    (anything else: ``updated_at``), ties broken by id; ``text_filter`` keeps the templates whose name,
    description or language holds it (case-insensitive for ASCII letters)."""

    def template(self, template_id: str) -> TemplateView | None: ...

    def templates(
        self,
        offset: int,
        limit: int,
        sort_column: str,
        ascending: bool,
        text_filter: str | None = None,
        viewer: Principal | None = None,
    ) -> list[TemplateView]: ...

    def template_count(self, text_filter: str | None = None, viewer: Principal | None = None) -> int: ...

    def template_versions(self, template_id: str) -> list[TemplateVersionView]:
        """Oldest first; empty for a template that does not exist (or was deleted)."""
        ...

    def template_version(self, template_id: str, version: int) -> TemplateVersionView | None: ...


class AnswerReads(ChatReads, TemplateReads, Protocol):
    """What answering reads: the session, its collection, their templates and the earlier turns."""


class ReadModelQueries(ChatReads, ChunkReads, TemplateReads, Protocol):
    """Every read the entry points and the pipelines make. Sort columns that are not known fall back to
    ``updated_at``; listings are ordered stably (ties broken by id)."""

    def collections(
        self, offset: int, limit: int, sort_column: str, ascending: bool, viewer: Principal | None = None
    ) -> list[CollectionView]: ...

    def collection_count(self, viewer: Principal | None = None) -> int: ...

    def share(self, kind: str, resource_id: str, username: str) -> tuple[str, ...]:
        """The permissions a collection or template is shared with ``username`` ("read", "write"); () for none."""
        ...

    def shares(self, kind: str, resource_id: str) -> list[ShareView]: ...

    def share_count(self, kind: str, resource_id: str) -> int: ...

    def document(self, document_id: str) -> DocumentView | None: ...

    def documents(
        self,
        offset: int,
        limit: int,
        collection_id: str | None = None,
        sort_column: str = "updated_at",
        ascending: bool = False,
        viewer: Principal | None = None,
    ) -> list[DocumentView]:
        """All documents, or a collection's ingested ones (of the collections ``viewer`` may see)."""
        ...

    def document_count(self, collection_id: str | None = None, viewer: Principal | None = None) -> int: ...

    def documents_from_uploads(self, collection_id: str, upload_ids: Sequence[str]) -> dict[str, str]:
        """The collection's ingested documents made from ``upload_ids``: document id by upload id."""
        ...

    def upload(self, upload_id: str) -> UploadView | None: ...

    def suggested_questions(self, collection_id: str, limit: int) -> list[str]:
        """Questions suggested for the collection's documents, taking turns across documents."""
        ...

    def chat_sessions(
        self, offset: int, limit: int, collection_id: str | None = None, viewer: Principal | None = None
    ) -> list[ChatSessionView]:
        """Newest first; ``viewer``'s own (None: all)."""
        ...

    def chat_session_count(self, collection_id: str | None = None, viewer: Principal | None = None) -> int: ...

    def message(self, message_id: str) -> MessageView | None: ...

    def references(self, message_id: str, limit: int | None = None) -> list[ReferenceView]:
        """By rank."""
        ...

    def job(self, job_id: str) -> JobView | None: ...

    def job_items(self, job_id: str) -> list[JobItemView]: ...

    def jobs(self, owner: str | None = None) -> list[JobView]:
        """Newest first."""
        ...

    def api_key_by_hash(self, secret_hash: str) -> ApiKeyView | None: ...

    def api_key(self, key_id: str) -> ApiKeyView | None: ...

    def api_keys(
        self, offset: int, limit: int, username: str | None = None, text_filter: str | None = None
    ) -> list[ApiKeyView]: ...

    def api_key_count(self) -> int: ...

    def user(self, user_id: str) -> UserView | None: ...

    def users(self, offset: int, limit: int) -> list[UserView]: ...

    def owned_ids(self, username: str) -> dict[str, list[str]]:
        """The ids of what ``username`` owns, by kind ("collection", "chat", "template")."""
        ...


class SearchQuery(msgspec.Struct, frozen=True, kw_only=True):
    """A search without an answer, with the retrieval options an answer's ``rag_config`` has."""

    text: str
    top_k: int = 10
    mode: str = "hybrid"  # hybrid | dense | bm25
    fusion: str = "score"  # score | rrf
    fusion_weight: float = 0.5
    min_score: float | None = None


class ChunkSearch(Protocol):
    """Finds the chunks of a collection for a query, as an answer's retrieval would (each as a ``Reference``:
    a chunk with its document, pages and retrieval score)."""

    def search(self, collection_id: str, query: SearchQuery) -> list[Reference]: ...


class Answerer(Protocol):
    """Answers questions with retrieval and a model (the Haystack pipelines)."""

    def check(self, request: AnswerRequest) -> object:
        """InvalidCommand for a request its models cannot serve, before any work."""
        ...

    def answer(self, request: AnswerRequest, on_delta: Callable[[str], None] | None = None) -> Answer:
        """The answer; ``on_delta`` receives its text in pieces as it is made."""
        ...

    def preview(self, request: AnswerRequest) -> PromptPreview:
        """The answering call's messages, with the chunks retrieved for them, without calling the model."""
        ...


class ChatTemplates(Protocol):
    """The template engine of ``chat_template`` (sandboxed Jinja2), as far as saving a template needs it."""

    def check(self, source: str) -> None:
        """InvalidCommand naming the line (and the variable) for a template that cannot be rendered, and
        UnsafeTemplate for one that reaches for Python's internals; nothing is rendered from the caller's data."""
        ...


class RefusedCommands(Protocol):
    """Where commands refused as attacks are recorded (they append no domain event: nothing happened)."""

    def record(self, command: str, reason: str, detail: str) -> None:
        """``command``: what was refused; the actor and key come from the command context."""
        ...


# --- audits -----------------------------------------------------------------------------------------------


class PastStates(Protocol):
    """Read models folded from chosen events alone, apart from the live ones: what the state was at a point of the
    log (time travel). Built by the same projector and read by the same queries as the live read models."""

    def folded(self, page: Sequence[tuple[RecordedEvent, AnyEvent]]) -> AbstractContextManager[ReadModelQueries]:
        """The read models of exactly ``page`` (in log order), for as long as the context is open."""
        ...


class Reproduction(msgspec.Struct, frozen=True, kw_only=True):
    """What an answer's recorded prompt and chunks give when they are run again."""

    text: str
    llm: str
    usage: dict[str, Any] = {}


class AnswerReproducer(Protocol):
    """Runs a recorded answer again: its recorded prompt (or, for a model that reads the context rather than the
    prompt, its recorded chunks and question) with its recorded model and arguments; nothing is retrieved."""

    def reproduce(self, answer: AnswerGenerated, question: str, had_history: bool) -> Reproduction:
        """``had_history``: earlier answers of the session were there to be fed to the model. InvalidCommand when
        the recorded model is no longer configured."""
        ...


# --- erasure ------------------------------------------------------------------------------------------------


class SubjectKeyStore(Protocol):
    """The keys that seal each subject's personal data in the log (crypto-shredding), kept outside the log.
    Forgetting a subject's key erases its personal data for good; the subject is remembered as forgotten, so that
    nothing personal is sealed for it again. Keys are bytes that must never be logged or shown."""

    def key_for(self, subject: str) -> bytes:
        """The subject's key, made on first use. ``Erased`` when the subject was forgotten."""
        ...

    def keys_of(self, subjects: Sequence[str]) -> dict[str, bytes]:
        """The keys of those ``subjects`` that have one (forgotten and unknown subjects are left out)."""
        ...

    def forget(self, subjects: Sequence[str]) -> list[str]:
        """Delete the subjects' keys, beyond recovery; the subjects that still had one."""
        ...

    def close(self) -> None: ...


class ErasureTraces(Protocol):
    """What derived stores outside the read models keep of erased text, and what removes it."""

    def forget_texts(self, texts: Sequence[str]) -> None:
        """Remove what was derived from ``texts`` (cached embeddings of questions, keyed by their hash)."""
        ...

    def compact(self) -> None:
        """Compact the read models' store, so that rows deleted from it leave no readable copy behind."""
        ...
