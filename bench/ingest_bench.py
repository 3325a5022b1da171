"""Ingestion throughput: pages per second from file bytes to searchable, for text PDFs and for scanned pages.

Run from the repository root::

    python bench/ingest_bench.py --text-pages 100 --scanned-pages 8

Two measurements over the same generated documents:

- **Stages**, in-process with the real adapters, one stage after another so each has a clean share of the time:
  parse (``FileParser``: pdfium, pdfplumber for tables, Tesseract), chunk (``chunk_document``), embed (the chunks, with
  ``MiniLMEmbedder`` behind a fresh ``CachedEmbedder``), vectors (``ChromaVectorIndex.upsert``) and read models
  (the projector's ``DocumentIngested`` writes: documents, chunks and the ``chunks_fts`` BM25 index). These make a
  document searchable. Then sentences: every sentence of every chunk embedded for the extractive reader, which the
  server does in a background projection that nobody waits for; it is shown apart (marked *) and not counted in
  the time to searchable, but "ready" counts it.
- **End to end**, a whole Parley (``api.bootstrap``, fresh data directory): ``Ingestor.run`` over one job per
  corpus, which returns once the documents are searchable; then the wait until the background sentence
  projection has caught up too ("ready"). This adds event appends and the projections, which run in their own
  threads while the next file is parsed, so the stages' busy times overlap and compete for the cores.

Documents are generated on the fly (tests/documents.py) from seeded, varied prose, so that no page or sentence
repeats (the embedding cache would otherwise skip the work): text PDFs with a ruled table every fifth file, and
300-dpi A4 scans of printed text, as image-only PDFs and as PNG files.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.documents, when run as a script

import pytesseract
from tqdm import tqdm

from adapters.parsers import FileParser
from adapters.parsers.ocr import shared_workers
from adapters.parsers.options import DEFAULT_OPTIONS
from domain.chunking import chunk_document, split_sentences
from domain.events import ChatSettings, Chunk, CollectionCreated, CollectionSettings, DocumentIngested
from domain.ports import PageProgress, ParsedDocument, ParseOptions, RecordedEvent, Tokenizer
from tests.documents import add_table, image_bytes, scanned_pdf, text_image, text_pdf

T = TypeVar("T")

TEXT_PAGES_PER_S_GOAL = 20.0
OCR_PAGES_PER_S_GOAL = 1.3


# --- documents ------------------------------------------------------------------------------------------------

SUBJECTS = (
    "The committee", "The finance team", "The site manager", "Our main supplier", "The auditor", "The project board",
    "The night shift", "The design group", "The regional office", "The safety officer", "The sales team", "The chair",
)  # fmt: skip
VERBS = (
    "reviewed", "approved", "postponed", "questioned", "measured", "reported on", "reduced", "doubled", "inspected",
    "summarised", "planned", "rejected",
)  # fmt: skip
OBJECTS = (
    "the budget for the coming year", "the travel costs", "the delivery schedule", "the staff training plan",
    "the office move", "the energy bill", "the spare parts inventory", "the customer complaints",
    "the quarterly figures", "the maintenance contract", "the hiring plan", "the test results",
)  # fmt: skip
TAILS = (
    "after a long discussion in room {n}", "before the end of {month}", "by {n} percent", "on {day} morning",
    "at the request of {n} members", "for building {n} only", "with a margin of {n} thousand euros",
    "although {n} questions remain open", "and asked for a short summary by {day}", "as agreed on {day} {n} {month}",
)  # fmt: skip
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")
MONTHS = ("January", "March", "May", "July", "September", "November")


def prose(rng: random.Random, words: int, paragraph_sentences: int = 5) -> str:
    """About ``words`` words of plain business prose, in paragraphs; numbers make every sentence unique."""
    sentences: list[str] = []
    count = 0
    while count < words:
        tail = rng.choice(TAILS).format(n=rng.randint(2, 999), day=rng.choice(DAYS), month=rng.choice(MONTHS))
        sentence = f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} {tail}."
        sentences.append(sentence)
        count += len(sentence.split())
    paragraphs = [sentences[i : i + paragraph_sentences] for i in range(0, len(sentences), paragraph_sentences)]
    return "\n".join(" ".join(paragraph) for paragraph in paragraphs)


@dataclass
class Corpus:
    name: str
    files: list[tuple[str, bytes]]
    pages: int
    ocr: bool = False


def text_pdf_corpus(pages: int, pages_per_file: int, words: int, seed: int = 1) -> Corpus:
    """Text PDFs of ``pages_per_file`` pages; every fifth file has a 12-row table on its next-to-last page."""
    rng = random.Random(seed)
    files = []
    for first in range(0, pages, pages_per_file):
        count = min(pages_per_file, pages - first)
        texts = [f"Section {first + n + 1}.\n{prose(rng, words)}" for n in range(count)]
        if count >= 3 and (first // pages_per_file) % 5 == 0:
            rows = [["Item", "Quantity", "Price"]] + [[f"Part {n}", str(n * 3), f"{n * 1.5:.2f}"] for n in range(12)]
            data = table_text_pdf(texts, rows, table_page=count - 2)
        else:
            data = text_pdf(texts)
        files.append((f"text-{first // pages_per_file}.pdf", data))
    return Corpus(f"text PDF ({pages_per_file} p/file)", files, pages)


def table_text_pdf(pages: Sequence[str], rows: Sequence[Sequence[str]], table_page: int) -> bytes:
    """A text PDF, one string per page, with a ruled table of ``rows`` in the middle of page ``table_page``
    (0-based) (tests.documents.table_pdf fills its other pages with one fixed paragraph, which the embedding cache
    would embed once)."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_font("Helvetica", size=12)
    for number, text in enumerate(pages):
        pdf.add_page()
        if number != table_page:
            pdf.multi_cell(0, 7, text)
            continue
        half = text.rfind("\n", 0, len(text) // 2) + 1 or len(text) // 2
        pdf.multi_cell(0, 7, text[:half])
        add_table(pdf, rows)
        pdf.multi_cell(0, 7, text[half:])
    return bytes(pdf.output())


def scans(count: int, words: int, seed: int) -> Iterator[Any]:
    rng = random.Random(seed)
    for _ in range(count):
        yield text_image(prose(rng, words))


def scanned_pdf_corpus(pages: int, pages_per_file: int, words: int, seed: int = 2) -> Corpus:
    """Image-only PDFs of 300-dpi A4 scans of printed prose, every page different."""
    pending = scans(pages, words, seed)
    files = []
    for first in range(0, pages, pages_per_file):
        count = min(pages_per_file, pages - first)
        files.append((f"scan-{first // pages_per_file}.pdf", scanned_pdf([next(pending) for _ in range(count)])))
    return Corpus(f"scanned PDF ({pages_per_file} p/file)", files, pages, ocr=True)


def png_corpus(pages: int, words: int, seed: int = 3) -> Corpus:
    """One 300-dpi A4 scan per PNG file: OCR runs one page at a time unless files are parsed concurrently."""
    files = [(f"scan-{n}.png", image_bytes(image, "PNG")) for n, image in enumerate(scans(pages, words, seed))]
    return Corpus("scanned PNG (1 p/file)", files, pages, ocr=True)


# --- stages, one after another ----------------------------------------------------------------------------------


@dataclass
class StageTiming:
    stage: str
    seconds: float


@dataclass
class Result:
    corpus: Corpus
    timings: list[StageTiming]  # what makes the documents searchable
    background: list[StageTiming]  # what the server does afterwards, unwaited (the reader's sentence vectors)
    chunks: int
    sentences: int = 0
    wall: float | None = None  # end to end: elapsed until searchable (the stages overlap)
    ready_wall: float | None = None  # end to end: elapsed until the background work is done too

    @property
    def seconds(self) -> float:
        """Until searchable."""
        return self.wall if self.wall is not None else sum(timing.seconds for timing in self.timings)

    @property
    def ready_seconds(self) -> float:
        """Until the background work is done too."""
        if self.ready_wall is not None:
            return self.ready_wall
        return self.seconds + sum(timing.seconds for timing in self.background)

    @property
    def pages_per_second(self) -> float:
        return self.corpus.pages / self.seconds


@dataclass
class Components:
    """The real adapters of one run, on fresh temporary storage (nothing cached, nothing indexed)."""

    tokenizer: Tokenizer
    embedder: Any  # CachedEmbedder, one thread: the sentence vectors (as the server's background warmer)
    chunk_embedder: Any  # CachedEmbedder over a ParallelEmbedder: the chunks, on every core (as the index projection)
    index: Any  # ChromaVectorIndex
    read_store: Any  # SQLiteReadModelStore
    collection_id: str


def parse_stage(
    corpus: Corpus, parser: FileParser, bar: tqdm, concurrent_files: int = 1
) -> tuple[list[ParsedDocument], StageTiming]:
    """Parse every file, one at a time (``concurrent_files=1``) or several at once from threads as the Ingestor does,
    advancing the bar page by page."""
    lock = threading.Lock()

    def parse(filename: str, data: bytes) -> ParsedDocument:
        reported = 0

        def advance(done: int, total: int) -> None:
            nonlocal reported
            with lock:
                bar.update(done - reported)
            reported = done

        return parser.parse(filename, data, progress=advance)

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrent_files) as threads:
        documents = list(threads.map(lambda file: parse(*file), corpus.files))
    return documents, StageTiming("parse", time.perf_counter() - started)


def chunk_stage(
    documents: Sequence[ParsedDocument], tokenizer: Tokenizer, max_tokens: int, overlap: int
) -> tuple[list[list[Chunk]], StageTiming]:
    """Chunk every parsed document with the embedder's tokenizer, tables kept whole."""
    started = time.perf_counter()
    chunks = [
        chunk_document(document.pages, tokenizer, max_tokens, overlap, keep_tables=True) for document in documents
    ]
    return chunks, StageTiming("chunk", time.perf_counter() - started)


def embed_stage(chunks: Sequence[Sequence[Chunk]], embedder: Any) -> tuple[list[Any], StageTiming]:
    """What the vector-index projection embeds: each document's chunks, one batch per document (the projection
    batches a page of events, which holds one document while parsing is the slower side)."""
    started = time.perf_counter()
    vectors = [embedder.embed([chunk.text for chunk in document]) for document in chunks]
    return vectors, StageTiming("embed", time.perf_counter() - started)


def sentence_stage(chunks: Sequence[Sequence[Chunk]], embedder: Any) -> tuple[int, StageTiming]:
    """What the background sentence projection embeds for the reader: every sentence of every chunk."""
    started = time.perf_counter()
    count = 0
    for document in chunks:
        sentences = [chunk.text[a:b] for chunk in document for a, b in split_sentences(chunk.text)]
        embedder.embed(sentences)
        count += len(sentences)
    return count, StageTiming("sentences*", time.perf_counter() - started)


def vector_stage(chunks: Sequence[Sequence[Chunk]], vectors: Sequence[Any], parts: Components) -> StageTiming:
    """Upsert every document's chunk vectors into Chroma."""
    started = time.perf_counter()
    for document, document_vectors in zip(chunks, vectors, strict=True):
        ordinals = [chunk.ordinal for chunk in document]
        parts.index.upsert(parts.collection_id, str(uuid.uuid4()), ordinals, document_vectors)
    return StageTiming("vectors", time.perf_counter() - started)


def read_model_stage(corpus: Corpus, chunks: Sequence[Sequence[Chunk]], parts: Components) -> StageTiming:
    """The read-model projector's writes for each ingested document, one transaction each: the document row, its
    chunk rows and the chunks_fts (BM25) rows."""
    started = time.perf_counter()
    for (name, data), document in zip(corpus.files, chunks, strict=True):
        event = DocumentIngested(
            document_id=str(uuid.uuid4()),
            collection_id=parts.collection_id,
            upload_id=str(uuid.uuid4()),
            job_id=None,
            name=name,
            type=name.rsplit(".", 1)[-1],
            size=len(data),
            content_hash="-",
            page_count=max((page for chunk in document for page in chunk.pages), default=0),
            chunks=tuple(document),
            metadata={},
            owner="bench",
        )
        parts.read_store.apply("read_models", [(_record(event), event)])
    return StageTiming("read models", time.perf_counter() - started)


def _record(event: Any) -> RecordedEvent:
    return RecordedEvent(
        position=0, stream="-", version=0, event_id="-", type=type(event).__name__, schema_version=1, data=b"",
        recorded_at=datetime.now(UTC),
    )  # fmt: skip


@contextmanager
def components(tokenizer: Tokenizer, warm_embedder: Any) -> Iterator[Components]:
    """Fresh storage for one run: an empty embedding cache, an empty Chroma directory and empty read models, with
    the collection already created (creating it is not part of ingesting a document)."""
    from adapters.chroma import ChromaVectorIndex
    from adapters.embedding_cache import CachedEmbedder
    from adapters.minilm import ParallelEmbedder
    from adapters.parsers.ocr import available_cores
    from adapters.sqlite.embedding_cache import SQLiteEmbeddingStore
    from adapters.sqlite.read_models import SQLiteReadModelStore

    with tempfile.TemporaryDirectory(prefix="parley-bench-") as directory:
        root = Path(directory)
        collection_id = str(uuid.uuid4())
        index = ChromaVectorIndex(root / "chroma")
        index.upsert(collection_id, "-", [], [])  # creates the Chroma collection
        read_store = SQLiteReadModelStore(root / "read_models.sqlite3")
        created = CollectionCreated(
            collection_id=collection_id, name="bench", description="", embedding_model="all-MiniLM-L6-v2",
            settings=CollectionSettings(), chat_settings=ChatSettings(), rag_type=None, owner="bench",
        )  # fmt: skip
        read_store.apply("read_models", [(_record(created), created)])
        cache = SQLiteEmbeddingStore(root / "embeddings.sqlite3")
        parallel = ParallelEmbedder(warm_embedder, available_cores())
        try:
            yield Components(
                tokenizer,
                CachedEmbedder(warm_embedder, cache),
                CachedEmbedder(parallel, cache),
                index,
                read_store,
                collection_id,
            )
        finally:
            read_store.close()


def run_stages(
    corpus: Corpus,
    parser: FileParser,
    tokenizer: Tokenizer,
    embedder: Any,
    args: argparse.Namespace,
    concurrent_files: int = 1,
) -> Result:
    name = corpus.name if concurrent_files == 1 else f"{corpus.name} x{concurrent_files}"
    with components(tokenizer, embedder) as parts, tqdm(total=corpus.pages, desc=name, unit="page", leave=False) as bar:
        bar.set_postfix_str("parse")
        documents, parsing = parse_stage(corpus, parser, bar, concurrent_files)
        bar.set_postfix_str("chunk")
        chunks, chunking = chunk_stage(documents, tokenizer, args.chunk_tokens, args.overlap_tokens)
        bar.set_postfix_str("embed")
        vectors, embedding = embed_stage(chunks, parts.chunk_embedder)
        bar.set_postfix_str("index")
        indexing = vector_stage(chunks, vectors, parts)
        projecting = read_model_stage(corpus, chunks, parts)
        bar.set_postfix_str("sentences")
        sentence_count, sentences = sentence_stage(chunks, parts.embedder)
    pages = sum(len(document.pages) for document in documents)  # a table may push text onto one more page
    timings = [parsing, chunking, embedding, indexing, projecting]
    chunk_count = sum(len(found) for found in chunks)
    return Result(Corpus(name, corpus.files, pages, corpus.ocr), timings, [sentences], chunk_count, sentence_count)


# --- end to end -------------------------------------------------------------------------------------------------


@dataclass
class Busy:
    """Seconds spent inside each wrapped stage, from whichever thread (the projections run in their own)."""

    seconds: dict[str, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wrap(self, stage: str, function: Callable[..., T]) -> Callable[..., T]:
        def timed_call(*args: Any, **kwargs: Any) -> T:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                with self.lock:
                    self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - started

        return timed_call

    def take(self) -> dict[str, float]:
        with self.lock:
            taken, self.seconds = self.seconds, {}
        return taken


class BarParser:
    """The Parley's parser, advancing a progress bar page by page as well as the Ingestor's own reporter."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.bar: tqdm | None = None
        self.lock = threading.Lock()  # the Ingestor parses several files at once

    def __getattr__(self, name: str) -> Any:  # concurrent_files and the like
        return getattr(self.inner, name)

    def parse(
        self,
        filename: str,
        data: bytes,
        options: ParseOptions = DEFAULT_OPTIONS,
        progress: PageProgress | None = None,
    ) -> ParsedDocument:
        reported = 0

        def advance(done: int, total: int) -> None:
            nonlocal reported
            if self.bar is not None:
                with self.lock:
                    self.bar.update(done - reported)
            reported = done
            if progress is not None:
                progress(done, total)

        parsed: ParsedDocument = self.inner.parse(filename, data, options, advance)
        return parsed


E2E_STAGES = ("parse", "chunk", "embed", "vectors", "read models")
E2E_BACKGROUND = ("sentences*",)


class TimedEmbedder:
    """One projection's view of the shared embedder, timing its ``embed`` calls under its own stage name."""

    def __init__(self, inner: Any, busy: Busy, stage: str) -> None:
        self.inner = inner
        self.embed = busy.wrap(stage, inner.embed)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@contextmanager
def instrumented_parley(data_dir: Path) -> Iterator[tuple[Any, Busy, BarParser]]:
    """A started Parley on ``data_dir`` whose stages report their busy time."""
    from api.bootstrap import bootstrap
    from api.settings import Settings
    from projections.read_model_projection import ReadModelProjection

    parley = bootstrap(Settings(data_dir=data_dir, admin_api_key="sk-bench"))
    parley.start()
    busy = Busy()
    parser = BarParser(parley.parser)
    parley.ingestor.parser = parser
    parser.inner.parse = busy.wrap("parse", parser.inner.parse)
    ingestion_globals = vars(sys.modules[type(parley.ingestor).__module__])  # the Ingestor's chunk_document
    original_chunk_document = ingestion_globals["chunk_document"]
    ingestion_globals["chunk_document"] = busy.wrap("chunk", original_chunk_document)
    parley.index.upsert = busy.wrap("vectors", parley.index.upsert)  # type: ignore[method-assign]
    for runner in parley.projections.runners:
        projection: Any = runner.projection
        if isinstance(projection, ReadModelProjection):
            projection.apply = busy.wrap("read models", projection.apply)
        elif hasattr(projection, "embedder"):  # the vector index (serving) and the sentence vectors (background)
            projection.embedder = TimedEmbedder(
                projection.embedder, busy, "embed" if projection.serving else "sentences*"
            )
    try:
        yield parley, busy, parser
    finally:
        ingestion_globals["chunk_document"] = original_chunk_document
        parley.close()


def run_end_to_end(corpus: Corpus, parley: Any, busy: Busy, parser: BarParser) -> Result:
    """Upload the files and start a job (not timed), then time ``Ingestor.run``: parse, chunk, record the events,
    and wait until both projections have applied them, i.e. until every document is searchable."""
    from domain import collection, job, upload
    from domain.service import stream_name

    collection_id = str(uuid.uuid4())
    parley.handler.execute(
        collection,
        stream_name("collection", collection_id),
        collection.CreateCollection(
            collection_id=collection_id, name=corpus.name, description="", embedding_model="all-MiniLM-L6-v2",
            owner="bench",
        ),
    )  # fmt: skip
    ids = []
    for filename, data in corpus.files:
        upload_id = str(uuid.uuid4())
        parley.handler.execute(
            upload,
            stream_name("upload", upload_id),
            upload.ReceiveUpload(
                upload_id=upload_id, filename=filename, size=len(data), content_hash=parley.blobs.put(data),
                owner="bench",
            ),
        )  # fmt: skip
        ids.append(upload_id)
    job_id = str(uuid.uuid4())
    start = job.StartJob(
        job_id=job_id, kind="ingest", name=corpus.name, collection_id=collection_id, items=tuple(ids), owner="bench"
    )
    parley.wait_for(parley.handler.execute(job, stream_name("job", job_id), start).commit_position)
    busy.take()
    with tqdm(total=corpus.pages, desc=f"{corpus.name} end to end", unit="page", leave=False) as bar:
        parser.bar = bar
        started = time.perf_counter()
        position = parley.ingestor.run(job_id, collection_id, ids, CollectionSettings(), "bench")
        wall = time.perf_counter() - started
        parser.bar = None
        bar.set_postfix_str("searchable; sentence vectors")
        parley.projections.wait_for_all(position)
        ready = time.perf_counter() - started
    spent = busy.take()
    row = parley.read_models.job(job_id)
    if row is None or row.items_failed:
        raise RuntimeError(f"{corpus.name}: {row and row.items_failed} file(s) failed to ingest")
    documents = parley.read_models.documents(0, len(ids) + 1, collection_id=collection_id)
    pages = sum(document.page_count for document in documents)
    collection = parley.read_models.collection(collection_id)
    chunks = collection.next_chunk_id - 1 if collection is not None else 0
    timings = [StageTiming(stage, spent.get(stage, 0.0)) for stage in E2E_STAGES]
    background = [StageTiming(stage, spent.get(stage, 0.0)) for stage in E2E_BACKGROUND]
    found = Corpus(corpus.name, corpus.files, pages, corpus.ocr)
    return Result(found, timings, background, chunks, wall=wall, ready_wall=ready)


# --- report -----------------------------------------------------------------------------------------------------


def print_table(title: str, results: Sequence[Result]) -> None:
    """Seconds and pages/s until searchable, and until ready (background sentence vectors done); then each
    stage's seconds and their share of the time until searchable."""
    stages = [timing.stage for timing in [*results[0].timings, *results[0].background]]
    header = (
        f"{'corpus':<29}{'files':>6}{'pages':>6}{'chunks':>7}{'search s':>9}{'pages/s':>8}{'ready s':>8}{'pages/s':>8}"
    )
    header += "".join(f"{stage + ' s':>{max(8, len(stage) + 3)}}{'%':>5}" for stage in stages)
    print(f"\n{title}")
    print(header)
    print("-" * len(header))
    for result in results:
        line = f"{result.corpus.name:<29}{len(result.corpus.files):>6}{result.corpus.pages:>6}{result.chunks:>7}"
        line += f"{result.seconds:>9.2f}{result.pages_per_second:>8.2f}"
        line += f"{result.ready_seconds:>8.2f}{result.corpus.pages / result.ready_seconds:>8.2f}"
        for timing in [*result.timings, *result.background]:
            width = max(8, len(timing.stage) + 3)
            line += f"{timing.seconds:>{width}.2f}{100 * timing.seconds / result.seconds:>4.0f}%"
        print(line)


def verdict(label: str, rate: float, goal: float) -> str:
    return f"{label}: {rate:.2f} pages/s (goal >= {goal:g}): {'met' if rate >= goal else 'NOT met'}"


def print_summary(stages: Sequence[Result], end_to_end: Sequence[Result]) -> None:
    by_name = {result.corpus.name: result for result in stages}
    text = next(result for result in stages if not result.corpus.ocr)
    scanned = next((result for result in stages if result.corpus.ocr), None)
    print("\nRatios")
    if scanned is not None:
        ocr_page, text_page = (result.seconds / result.corpus.pages for result in (scanned, text))
        print(f"  OCR page vs text page (stages): {ocr_page / text_page:.1f}x, {ocr_page:.3f} vs {text_page:.3f} s")
    for result in stages:
        shares = ", ".join(f"{timing.stage} {100 * timing.seconds / result.seconds:.0f}%" for timing in result.timings)
        sentences = sum(timing.seconds for timing in result.background)
        print(
            f"  {result.corpus.name}, time to searchable: {shares}; per page {result.chunks / result.corpus.pages:.1f}"
            f" chunks and {result.sentences / result.corpus.pages:.0f} sentences, the sentences' vectors taking"
            f" {sentences / result.seconds:.2f}x the time to searchable again"
        )
    concurrent = [name for name in by_name if name.endswith(" x2") or " x" in name]
    for name in concurrent:
        base = by_name[name.rsplit(" x", 1)[0]]
        print(f"  {name}: {by_name[name].pages_per_second / base.pages_per_second:.2f}x the pages/s of one at a time")
    if end_to_end:
        print("\nGoals (end to end, pages/s until searchable)")
        for result in end_to_end:
            goal = OCR_PAGES_PER_S_GOAL if result.corpus.ocr else TEXT_PAGES_PER_S_GOAL
            staged = by_name.get(result.corpus.name)
            extra = f"; stages alone {staged.pages_per_second:.2f} pages/s" if staged else ""
            ready = result.corpus.pages / result.ready_seconds
            print(f"  {verdict(result.corpus.name, result.pages_per_second, goal)}{extra}; ready {ready:.2f} pages/s")


def _spin(loops: int) -> float:
    started = time.perf_counter()
    total = 0
    for number in range(loops):
        total += number
    return time.perf_counter() - started


def effective_cores(loops: int = 10_000_000) -> tuple[int, float]:
    """(cores, how many of them a CPU-bound loop really gets when it runs on all at once): on a shared virtual
    machine the second core may be busy with a neighbour's work, which halves every parallel speed-up here."""
    import multiprocessing

    from adapters.parsers.ocr import available_cores

    cores = available_cores()
    alone = _spin(loops)
    with multiprocessing.get_context("fork").Pool(cores) as pool:  # before torch starts any thread
        together = pool.map(_spin, [loops] * cores)
    return cores, cores * alone / max(together)


@dataclass
class RawEmbedder:
    """The bare embedder's throughput (no cache, no storage, nothing else running) on the chunks of the text
    corpus: what ingestion could reach at best."""

    chunks: int
    one_core: float  # chunks/s, one thread
    every_core: float  # chunks/s, ParallelEmbedder over every core
    cores: int


def measure_raw_embedder(embedder: Any, texts: Sequence[str], cores: int, repeats: int = 2) -> RawEmbedder:
    """Best of ``repeats`` for each, alternating, so a neighbour's burst on the shared cores hits both alike."""
    from adapters.minilm import ParallelEmbedder

    parallel = ParallelEmbedder(embedder, cores)
    one, every = 0.0, 0.0
    for _ in range(repeats):
        for name, target in (("one", embedder), ("every", parallel)):
            started = time.perf_counter()
            target.embed(texts)
            rate = len(texts) / (time.perf_counter() - started)
            if name == "one":
                one = max(one, rate)
            else:
                every = max(every, rate)
    return RawEmbedder(len(texts), one, every, cores)


def print_raw_embedder(raw: RawEmbedder, end_to_end: Sequence[Result]) -> None:
    print(f"\nRaw embedder (MiniLM, {raw.chunks} chunks of the text corpus, no cache)")
    print(f"  1 core: {raw.one_core:.1f} chunks/s; {raw.cores} cores: {raw.every_core:.1f} chunks/s"
          f" ({raw.every_core / raw.one_core:.2f}x)")  # fmt: skip
    for result in end_to_end:
        if result.corpus.ocr:
            continue
        rate = result.chunks / result.seconds
        print(
            f"  {result.corpus.name} end to end: {rate:.1f} chunks/s until searchable ="
            f" {rate / raw.every_core:.2f}x the raw embedder on {raw.cores} cores"
            f" ({rate / raw.one_core:.2f}x on one); {result.chunks / result.corpus.pages:.2f} chunks a page"
        )


def timed(what: str, action: Callable[[], T]) -> T:
    started = time.perf_counter()
    value = action()
    print(f"{what}: {time.perf_counter() - started:.2f} s")
    return value


def main() -> None:
    options = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    options.add_argument("--text-pages", type=int, default=100)
    options.add_argument("--scanned-pages", type=int, default=8)
    options.add_argument("--pages-per-file", type=int, default=10)
    options.add_argument("--words-per-page", type=int, default=300, help="words of prose per page (scans too)")
    options.add_argument("--chunk-tokens", type=int, default=200)
    options.add_argument("--overlap-tokens", type=int, default=20)
    options.add_argument("--skip-end-to-end", action="store_true")
    options.add_argument("--raw-chunks", type=int, default=64, help="chunks for the raw-embedder measurement")
    options.add_argument("--only-text", action="store_true", help="text PDFs only (no OCR corpora)")
    options.add_argument(
        "--torch-threads", type=int, default=0, help="torch intra-op threads (default: torch's own, one per core)"
    )
    args = options.parse_args()

    cores, effective = effective_cores()
    print(f"CPU: {cores} cores; a CPU-bound loop on all of them at once gets {effective:.2f} cores' worth")

    from adapters.minilm import MiniLMEmbedder, MiniLMTokenizer  # Haystack and torch: ~10 s, not timed
    from api.bootstrap import configure_process

    configure_process()  # the server's environment: offline, OMP_THREAD_LIMIT=1, one BLAS thread
    import torch

    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)
    tokenizer = timed("load MiniLMTokenizer", MiniLMTokenizer)
    embedder = MiniLMEmbedder()
    timed("load MiniLMEmbedder", lambda: embedder.embed(["warm up", "the model and its first batch"]))
    workers = shared_workers()
    timed(f"start {workers.max_workers} OCR worker processes", workers.warm_up)
    parser = FileParser(workers)
    words = args.words_per_page
    corpora = [timed("generate text PDFs", lambda: text_pdf_corpus(args.text_pages, args.pages_per_file, words))]
    if not args.only_text:
        corpora += [
            timed("generate scanned PDFs", lambda: scanned_pdf_corpus(args.scanned_pages, args.pages_per_file, words)),
            timed("generate scanned PNGs", lambda: png_corpus(args.scanned_pages, words)),
        ]
    print(
        f"Tesseract {pytesseract.get_tesseract_version()}, {workers.max_workers} OCR workers, "
        f"{torch.get_num_threads()} torch threads, ~{words} words/page"
    )

    from adapters.parsers.ocr import available_cores

    sample = [
        chunk.text
        for chunks in chunk_stage(
            [FileParser().parse(name, data) for name, data in corpora[0].files[:4]],
            tokenizer,
            args.chunk_tokens,
            args.overlap_tokens,
        )[0]
        for chunk in chunks
    ][: args.raw_chunks]
    raw = timed("raw embedder", lambda: measure_raw_embedder(embedder, sample, available_cores()))
    stages = [run_stages(corpus, parser, tokenizer, embedder, args) for corpus in corpora]
    # The Ingestor parses as many files at once as there are OCR workers (FileParser.concurrent_files); the rows
    # above parse one at a time, which leaves all but one worker idle on single-page files:
    if not args.only_text:
        stages.append(run_stages(corpora[-1], parser, tokenizer, embedder, args, concurrent_files=workers.max_workers))
    end_to_end: list[Result] = []
    if not args.skip_end_to_end:
        with (
            tempfile.TemporaryDirectory(prefix="parley-bench-e2e-") as directory,
            instrumented_parley(Path(directory) / "data") as (parley, busy, bar_parser),
        ):
            end_to_end = [run_end_to_end(corpus, parley, busy, bar_parser) for corpus in corpora]
    print_table("Stages, one after another (s and share of their sum)", stages)
    if end_to_end:
        title = "End to end until searchable (busy s per stage and share of the wall time; they overlap)"
        print_table(title, end_to_end)
    print_summary(stages, end_to_end)
    print_raw_embedder(raw, end_to_end)
    workers.shutdown()


if __name__ == "__main__":  # the OCR workers (forkserver) import this module again: keep work behind the guard
    main()
