"""PDF files: the text layer with pdfplumber (tables as Markdown), and OCR for pages that are scans.

Pages are read one after another in this process while their scanned siblings are OCR'd in worker processes
(see ``ocr.py``), so a mixed document costs about the time of its OCR pages divided by the cores.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import pdfplumber
from pdfminer.pdfdocument import PDFEncryptionError, PDFPasswordIncorrect
from pdfminer.pdfparser import PDFSyntaxError
from pdfplumber.page import Page
from pdfplumber.pdf import PDF
from pdfplumber.utils.exceptions import PdfminerException

from adapters.parsers.ocr import (
    OcrBatch,
    OcrWorkers,
    PageImage,
    check_language,
    clean_ocr_text,
    read_page,
    shared_workers,
    spooled,
)
from adapters.parsers.options import DEFAULT_OPTIONS, ocr_mode
from adapters.parsers.progress import ProgressReporter
from adapters.parsers.sniff import mismatch, sniff
from adapters.parsers.tables import page_text
from domain.errors import DocumentUnreadable
from domain.ports import PageProgress, ParsedDocument, ParsedPage, ParseOptions

ENCRYPTED = "the PDF is encrypted: it needs a password to open, and Parley cannot read it without one"


class PdfParser:
    """Reads a PDF page by page, page numbers kept. ``ocr_model``: auto OCRs the pages without a text layer,
    tesseract OCRs every page (its text replaces the text layer), off never OCRs (a scanned page is empty)."""

    def __init__(self, workers: OcrWorkers | None = None) -> None:
        self._workers = workers

    def parse(
        self, filename: str, data: bytes, options: ParseOptions = DEFAULT_OPTIONS, progress: PageProgress | None = None
    ) -> ParsedDocument:
        mode = ocr_mode(options)
        if sniff(data) != "pdf":
            raise mismatch(filename, data, "a PDF document")
        if b"%%EOF" not in data[-1024:]:
            raise DocumentUnreadable(
                "the PDF is truncated or corrupt: it lacks the end-of-file marker (%%EOF); the upload may be incomplete"
            )
        with _open(data) as pdf:
            return self._read(pdf, data, mode, options, ProgressReporter(progress))

    def _read(
        self, pdf: PDF, data: bytes, mode: str, options: ParseOptions, progress: ProgressReporter
    ) -> ParsedDocument:
        with _reading_page(None):
            pdf_pages = pdf.pages
        if not pdf_pages:
            raise DocumentUnreadable("the PDF has no pages")
        progress.total = len(pdf_pages)
        pages: dict[int, ParsedPage] = {}
        scans_not_read = 0
        with ExitStack() as temporary, OcrBatch(self._workers or shared_workers()) as batch:
            spooled_path: str | None = None
            for number, page in enumerate(pdf_pages, start=1):
                with _reading_page(number):
                    scanned = mode != "tesseract" and _is_scan(page)
                if mode == "tesseract" or (mode == "auto" and scanned):
                    if spooled_path is None:  # the first page to OCR: check the language, share the file
                        lang = check_language(options.tesseract_lang)
                        spooled_path = temporary.enter_context(spooled(data, ".pdf"))
                    batch.submit(number, read_page, PageImage(spooled_path, "pdf", number - 1, lang))
                else:
                    scans_not_read += scanned
                    with _reading_page(number):
                        text, tables = page_text(page)
                    pages[number] = ParsedPage(number, text, tables)
                    progress.page_done()
                page.close()  # pdfplumber caches every parsed object of a page until closed
                for ocr_number, text in batch.completed():
                    pages[ocr_number] = ParsedPage(ocr_number, clean_ocr_text(text), ocr=True)
                    progress.page_done()
            for ocr_number, text in batch.remaining():
                pages[ocr_number] = ParsedPage(ocr_number, clean_ocr_text(text), ocr=True)
                progress.page_done()
        parsed = tuple(pages[number] for number in sorted(pages))
        if not any(page.text for page in parsed):
            if scans_not_read:
                raise DocumentUnreadable(
                    "the PDF has no text layer (its pages are scanned images) and OCR is off (ocr_model=off); "
                    "ingest it with ocr_model auto or tesseract"
                )
            raise DocumentUnreadable("the PDF holds no text (no text layer, and OCR found none)")
        return ParsedDocument(type="pdf", pages=parsed)


@contextmanager
def _reading_page(number: int | None) -> Iterator[None]:
    """pdfminer's errors on a damaged page become DocumentUnreadable; only pdfplumber calls go in here, so an
    error of the progress callback or of OCR is not mistaken for a corrupt file."""
    try:
        yield
    except DocumentUnreadable:
        raise
    except Exception as error:  # pdfminer raises many ad-hoc types on damaged files
        where = f" at page {number}" if number else ""
        raise DocumentUnreadable(
            f"the PDF is corrupt or truncated and could not be read{where} ({type(error).__name__}: {error})"
        ) from error


@contextmanager
def _open(data: bytes) -> Iterator[PDF]:
    """pdfplumber's PDF, with its opening errors told apart: encrypted, corrupt."""
    try:
        pdf = pdfplumber.open(io.BytesIO(data))
    except PdfminerException as wrapped:
        error = wrapped.args[0] if wrapped.args else wrapped
        if isinstance(error, PDFPasswordIncorrect):
            raise DocumentUnreadable(ENCRYPTED) from error
        if isinstance(error, PDFEncryptionError):
            raise DocumentUnreadable(f"the PDF is encrypted with a method Parley cannot read ({error})") from error
        if isinstance(error, PDFSyntaxError):
            raise DocumentUnreadable(f"the PDF is corrupt or truncated ({error})") from error
        raise DocumentUnreadable(
            f"the PDF is corrupt or truncated and could not be opened ({type(error).__name__}: {error})"
        ) from error
    except Exception as error:  # pdfminer raises many ad-hoc types on damaged files
        raise DocumentUnreadable(
            f"the PDF is corrupt or truncated and could not be opened ({type(error).__name__}: {error})"
        ) from error
    with pdf:
        yield pdf


def _is_scan(page: Page) -> bool:
    """No text layer, but something drawn (a scanned image, or text turned into outlines): worth OCR.
    A page with nothing on it at all is blank and is not sent to Tesseract."""
    if any(char["text"].strip() for char in page.chars):
        return False
    return bool(page.images or page.curves or page.rects or page.lines)
