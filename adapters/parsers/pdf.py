"""PDF files: the text layer with pdfium, tables as Markdown with pdfplumber, and OCR for pages that are scans.

pdfium (``pypdfium2``) reads a page's text layer in 1-2 ms where pdfplumber takes 60-100 ms, so it reads every
page first, and says which pages are scans and which have enough ruling lines to hold a table. Only those go
through pdfplumber, whose table finder turns them into Markdown (``tables.py``). pdfplumber also opens the file,
so a damaged or encrypted one is refused with the same reasons as before; a file pdfium cannot read is read by
pdfplumber alone. A page set in columns is read column by column on either path (``columns.py``): pdfium's and
pdfplumber's own order runs across them.

Scanned pages are queued to the OCR worker processes (``ocr.py``) before any table page is read here, so a
mixed document costs about the time of its OCR pages divided by the cores.
"""

from __future__ import annotations

import ctypes
import io
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

import pdfplumber
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from pdfminer.pdfdocument import PDFEncryptionError, PDFPasswordIncorrect
from pdfminer.pdfparser import PDFSyntaxError
from pdfplumber.page import Page
from pdfplumber.pdf import PDF
from pdfplumber.utils.exceptions import PdfminerException

from adapters.parsers.columns import ColumnLayout, page_layout, reading_order
from adapters.parsers.listings import has_rulers
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
from adapters.parsers.tables import TableContext, page_text
from domain.errors import DocumentUnreadable
from domain.ports import PageProgress, ParsedDocument, ParsedPage, ParseOptions

ENCRYPTED = "the PDF is encrypted: it needs a password to open, and Parley cannot read it without one"

# pdfium is not thread-safe, not even across documents; the server parses from several threads.
_pdfium_lock = threading.Lock()

# pdfplumber snaps ruling lines closer than 3 pt into one and ignores edges shorter than 3 pt (its snap_tolerance
# and edge_min_length); a table of two rows and two columns needs three horizontal and three vertical edges.
THIN_PT = 3.0
MIN_EDGES = 3
MAX_FORM_DEPTH = 15


@dataclass(frozen=True)
class PageSurvey:
    """What pdfium saw on a page: its text layer, whether anything is drawn, whether it may hold a table."""

    text: str
    drawn: bool  # an image or vector graphics: without a text layer, a scan (or text turned into outlines)
    ruled: bool  # enough ruling lines or boxes for pdfplumber to find a table
    layout: ColumnLayout | None = None  # the columns of a page set in columns


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
        surveys = survey_pages(data, len(pdf_pages))
        pages: dict[int, ParsedPage] = {}
        scans_not_read = 0
        with ExitStack() as temporary, OcrBatch(self._workers or shared_workers()) as batch:
            spooled_path: str | None = None
            to_read: list[tuple[int, Page, PageSurvey | None]] = []
            for number, page in enumerate(pdf_pages, start=1):
                survey = surveys[number - 1] if surveys else None
                if mode == "tesseract":
                    scanned = False
                elif survey is not None:
                    scanned = survey.drawn and not survey.text
                else:
                    with _reading_page(number):
                        scanned = _is_scan(page)
                if mode == "tesseract" or (mode == "auto" and scanned):
                    if spooled_path is None:  # the first page to OCR: check the language, share the file
                        lang = check_language(options.tesseract_lang)
                        spooled_path = temporary.enter_context(spooled(data, ".pdf"))
                    batch.submit(number, read_page, PageImage(spooled_path, "pdf", number - 1, lang))
                else:
                    scans_not_read += scanned
                    to_read.append((number, page, survey))
            tables_so_far = TableContext()  # a table continued on the next page keeps its headers
            for number, page, survey in to_read:  # while the OCR workers read the scans
                continues = bool(tables_so_far.listing)  # a listing may go on without its header
                if survey is not None and not survey.ruled and not has_rulers(survey.text) and not continues:
                    pages[number] = ParsedPage(number, survey.text)
                    tables_so_far = TableContext()
                else:
                    with _reading_page(number):
                        text, tables = page_text(page, tables_so_far, survey.layout if survey else None)
                    pages[number] = ParsedPage(number, text, tables)
                    page.close()  # pdfplumber caches every parsed object of a page until closed
                progress.page_done()
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


def survey_pages(data: bytes, page_count: int) -> list[PageSurvey] | None:
    """Every page as pdfium sees it; None when pdfium cannot read the file as pdfplumber does (then pdfplumber
    reads every page, as it alone did before)."""
    with _pdfium_lock:
        try:
            document = pdfium.PdfDocument(data)
        except pdfium.PdfiumError:
            return None
        try:
            if len(document) != page_count:
                return None
            return [_survey_one(document[index]) for index in range(page_count)]
        except pdfium.PdfiumError:
            return None
        finally:
            document.close()


def _survey_one(page: pdfium.PdfPage) -> PageSurvey:
    try:
        textpage = page.get_textpage()
        try:
            rects = [textpage.get_rect(index) for index in range(textpage.count_rects())]
            layout = page_layout(rects)
            text = layer_text(
                reading_order(rects, layout, lambda box: textpage.get_text_bounded(*box))
                if layout is not None
                else textpage.get_text_bounded()
            )
        finally:
            textpage.close()
        drawn = False
        edges = _Edges()
        for obj, kind in _objects(page.raw):
            if kind == pdfium_c.FPDF_PAGEOBJ_IMAGE:
                drawn = True
            elif kind == pdfium_c.FPDF_PAGEOBJ_PATH:
                drawn = True
                edges.add(obj)
                if edges.ruled():  # decided: a drawing of many thousand paths need not be walked to the end
                    break
        return PageSurvey(text, drawn, edges.ruled(), layout)
    finally:
        page.close()


def layer_text(raw: str) -> str:
    """pdfium's page text as pdfplumber gives it: lines joined by a newline, no blank lines, no padding, and a
    word hyphenated across lines kept as printed (pdfium joins it with a \\x02 marker)."""
    text = raw.replace("\r\n", "\n").replace("\r", "\n").replace("\x02", "-\n")
    return "\n".join(line for line in (line.strip() for line in text.split("\n")) if line)


def _objects(parent: object, form: bool = False, depth: int = 0) -> Iterator[tuple[object, int]]:
    """(raw handle, type) of every page object, inside form XObjects too (pdfplumber reads those as well)."""
    count = pdfium_c.FPDFFormObj_CountObjects if form else pdfium_c.FPDFPage_CountObjects
    get = pdfium_c.FPDFFormObj_GetObject if form else pdfium_c.FPDFPage_GetObject
    for index in range(max(0, count(parent))):
        obj = get(parent, index)
        if not obj:
            continue
        kind = pdfium_c.FPDFPageObj_GetType(obj)
        yield obj, kind
        if kind == pdfium_c.FPDF_PAGEOBJ_FORM and depth < MAX_FORM_DEPTH:
            yield from _objects(obj, True, depth + 1)


class _Edges:
    """An upper bound on the horizontal and vertical ruling lines pdfplumber could find among a page's paths."""

    def __init__(self) -> None:
        self.horizontal = 0
        self.vertical = 0
        self._box = [ctypes.c_float() for _ in range(4)]

    def add(self, path: object) -> None:
        left, bottom, right, top = self._box
        if not pdfium_c.FPDFPageObj_GetBounds(path, left, bottom, right, top):
            self.horizontal += MIN_EDGES  # unknown extent: let pdfplumber look
            self.vertical += MIN_EDGES
            return
        wide = right.value - left.value > THIN_PT
        tall = top.value - bottom.value > THIN_PT
        if wide and tall:
            # A path of at most five segments (a rectangle, or a few connected lines) holds at most two lines
            # of each direction; a longer one may be a whole grid.
            segments = max(0, pdfium_c.FPDFPath_CountSegments(path))
            lines = 2 if segments <= 5 else segments
            self.horizontal += lines
            self.vertical += lines
        elif wide:
            self.horizontal += 1
        elif tall:
            self.vertical += 1

    def ruled(self) -> bool:
        return self.horizontal >= MIN_EDGES and self.vertical >= MIN_EDGES


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
