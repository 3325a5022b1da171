"""Ingestion throughput: pages per second from file bytes to chunks, for text PDFs and for scanned pages.

Run from the repository root::

    python bench/ingest_bench.py --text-pages 100 --scanned-pages 8

Each stage is a function that returns its timing, so stages after chunking (embedding, indexing) can be added
as further functions and columns. Documents are generated on the fly (tests/documents.py): text PDFs with a
ruled table every fifth page, and 300-dpi scans of printed prose, as image-only PDFs and as PNG files.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.documents, when run as a script

import pytesseract
from tqdm import tqdm

from adapters.parsers import FileParser
from adapters.parsers.ocr import shared_workers
from domain.chunking import chunk_document
from domain.events import Chunk
from domain.ports import ParsedDocument, Tokenizer
from tests.documents import PROSE, image_bytes, scanned_pdf, table_pdf, text_image, text_pdf

T = TypeVar("T")


@dataclass
class Corpus:
    name: str
    files: list[tuple[str, bytes]]
    pages: int


@dataclass
class StageTiming:
    stage: str
    seconds: float


@dataclass
class Result:
    corpus: Corpus
    timings: list[StageTiming]
    chunks: int

    @property
    def seconds(self) -> float:
        return sum(timing.seconds for timing in self.timings)


def text_pdf_corpus(pages: int, pages_per_file: int) -> Corpus:
    """Text PDFs of ``pages_per_file`` pages; every fifth page carries a 12-row table."""
    files = []
    for first in range(0, pages, pages_per_file):
        count = min(pages_per_file, pages - first)
        texts = [f"Section {first + n + 1}. {PROSE} {PROSE}" for n in range(count)]
        if count >= 3 and (first // pages_per_file) % 5 == 0:
            rows = [["Item", "Quantity", "Price"]] + [[f"Part {n}", str(n * 3), f"{n * 1.5:.2f}"] for n in range(12)]
            data = table_pdf(texts[0], rows, texts[1], pages_before=count - 2)
        else:
            data = text_pdf(texts)
        files.append((f"text-{first // pages_per_file}.pdf", data))
    return Corpus(f"text PDF ({pages_per_file} p/file)", files, pages)


def scanned_pdf_corpus(pages: int, pages_per_file: int) -> Corpus:
    """Image-only PDFs of 300-dpi A4 scans of two paragraphs of prose each."""
    scan = text_image(PROSE + "\n" + PROSE)
    files = []
    for first in range(0, pages, pages_per_file):
        count = min(pages_per_file, pages - first)
        files.append((f"scan-{first // pages_per_file}.pdf", scanned_pdf([scan] * count)))
    return Corpus(f"scanned PDF ({pages_per_file} p/file)", files, pages)


def png_corpus(pages: int) -> Corpus:
    """One 300-dpi A4 scan per PNG file: OCR runs one page at a time unless files are parsed concurrently."""
    data = image_bytes(text_image(PROSE + "\n" + PROSE), "PNG")
    return Corpus("scanned PNG (1 p/file)", [(f"scan-{n}.png", data) for n in range(pages)], pages)


def parse_stage(
    corpus: Corpus, parser: FileParser, bar: tqdm, concurrent_files: int = 1
) -> tuple[list[ParsedDocument], StageTiming]:
    """Parse every file, in turn as the Ingestor does (``concurrent_files=1``) or several at once from threads,
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


def run(
    corpus: Corpus, parser: FileParser, tokenizer: Tokenizer, args: argparse.Namespace, concurrent_files: int = 1
) -> Result:
    name = corpus.name if concurrent_files == 1 else f"{corpus.name} x{concurrent_files}"
    with tqdm(total=corpus.pages, desc=name, unit="page", leave=False) as bar:
        documents, parsing = parse_stage(corpus, parser, bar, concurrent_files)
    chunks, chunking = chunk_stage(documents, tokenizer, args.chunk_tokens, args.overlap_tokens)
    # embed_stage(chunks, embedder) and index_stage(...) go here, each returning a StageTiming
    pages = sum(len(document.pages) for document in documents)  # a table may push text onto one more page
    return Result(Corpus(name, corpus.files, pages), [parsing, chunking], sum(len(found) for found in chunks))


def print_table(results: Sequence[Result]) -> None:
    stages = [timing.stage for timing in results[0].timings]
    header = f"{'corpus':<26}{'files':>6}{'pages':>7}{'chunks':>7}{'total s':>9}{'pages/s':>9}"
    header += "".join(f"{stage + ' s':>9}{stage + ' %':>9}" for stage in stages)
    print(header)
    print("-" * len(header))
    for result in results:
        line = f"{result.corpus.name:<26}{len(result.corpus.files):>6}{result.corpus.pages:>7}{result.chunks:>7}"
        line += f"{result.seconds:>9.2f}{result.corpus.pages / result.seconds:>9.2f}"
        for timing in result.timings:
            line += f"{timing.seconds:>9.2f}{100 * timing.seconds / result.seconds:>8.0f}%"
        print(line)


def timed(what: str, action: Callable[[], T]) -> T:
    started = time.perf_counter()
    value = action()
    print(f"{what}: {time.perf_counter() - started:.2f} s")
    return value


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--text-pages", type=int, default=100)
    options.add_argument("--scanned-pages", type=int, default=8)
    options.add_argument("--pages-per-file", type=int, default=10)
    options.add_argument("--chunk-tokens", type=int, default=200)
    options.add_argument("--overlap-tokens", type=int, default=20)
    args = options.parse_args()

    from adapters.minilm import MiniLMTokenizer  # imports Haystack and torch: ~10 s, not part of any timing

    tokenizer = timed("load MiniLMTokenizer", MiniLMTokenizer)
    workers = shared_workers()
    timed(f"start {workers.max_workers} OCR worker processes", workers.warm_up)
    parser = FileParser(workers)
    corpora = [
        timed("generate text PDFs", lambda: text_pdf_corpus(args.text_pages, args.pages_per_file)),
        timed("generate scanned PDFs", lambda: scanned_pdf_corpus(args.scanned_pages, args.pages_per_file)),
        timed("generate scanned PNGs", lambda: png_corpus(args.scanned_pages)),
    ]
    print(f"Tesseract {pytesseract.get_tesseract_version()}, {workers.max_workers} OCR workers\n")
    results = [run(corpus, parser, tokenizer, args) for corpus in corpora]
    # The Ingestor parses a job's files one by one; single-page files only use every OCR worker when files are
    # parsed concurrently:
    results.append(run(corpora[-1], parser, tokenizer, args, concurrent_files=workers.max_workers))
    print_table(results)
    workers.shutdown()


if __name__ == "__main__":  # the OCR workers (forkserver) import this module again: keep work behind the guard
    main()
