"""Tesseract OCR (pytesseract) in a pool of worker processes, one page per task.

Why processes: Tesseract is CPU-bound and a page takes about 1.4 s, so pages of a scan are read in parallel, one
worker per core. Each worker runs Tesseract with ``OMP_THREAD_LIMIT=1``: Tesseract's own OpenMP threads
oversubscribe the cores and make a page about ten times slower. The pool is created on first use, shared by all
parsers of the process, and replaced when a worker dies, so a file that crashes a worker fails alone.

Workers start with ``forkserver`` (not ``fork``): the server calls parsers from worker threads, and forking a
process that has threads can copy a held lock into the child and hang it. Tasks are small: the file is written
once to a temporary file and each task names its path and a page, so the worker renders or decodes that page
itself (in parallel too) and no page image is pickled between processes.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import re
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any, Literal

import pytesseract
from PIL import Image, ImageOps

from domain.errors import DocumentUnreadable

# An A4 page at 300 dpi is 2480 x 3508 = 8.7 Mpx; 40 Mpx leaves room for A3 and large scans while refusing
# decompression bombs (a small file that decodes to gigabytes of pixels).
MAX_PIXELS = 40_000_000
OCR_DPI = 300
PAGE_TIMEOUT_S = 300  # Tesseract is killed after this long on one page
START_METHOD = "forkserver"

_LANGUAGE = re.compile(r"^[A-Za-z0-9_]+(\+[A-Za-z0-9_]+)*$")
_NOT_LANGUAGES = {"osd", "equ"}  # orientation/script detection and equations: not languages to read text in


def installed_languages() -> list[str]:
    """The languages Tesseract can read here (asked each time: a language package may be installed meanwhile)."""
    try:
        languages = pytesseract.get_languages()
    except pytesseract.TesseractNotFoundError as error:
        raise DocumentUnreadable(
            "OCR needs Tesseract, which is not installed (Debian: apt-get install tesseract-ocr tesseract-ocr-eng)"
        ) from error
    return sorted(language for language in languages if language not in _NOT_LANGUAGES)


def check_language(tesseract_lang: str) -> str:
    """``tesseract_lang`` (one language or several joined by +) if Tesseract has all of them, else a clear error."""
    if not _LANGUAGE.match(tesseract_lang):
        raise DocumentUnreadable(
            f"tesseract_lang {tesseract_lang!r} is not a Tesseract language code (e.g. eng, deu, eng+fra)"
        )
    installed = installed_languages()
    missing = [language for language in tesseract_lang.split("+") if language not in installed]
    if missing:
        packages = " ".join(f"tesseract-ocr-{language.lower().replace('_', '-')}" for language in missing)
        raise DocumentUnreadable(
            f"Tesseract has no language {', '.join(missing)} installed (installed: {', '.join(installed) or 'none'}); "
            f"install the Debian package {packages}"
        )
    return tesseract_lang


@dataclass(frozen=True)
class PageImage:
    """One page to OCR, as a worker finds it: a page of a PDF file, or a frame of an image file."""

    path: str
    kind: Literal["pdf", "image"]
    index: int  # 0-based page or frame
    lang: str


def read_page(page: PageImage) -> str:
    """Worker task: render or decode one page and OCR it. Every failure comes back as DocumentUnreadable,
    which pickles cleanly (some library exceptions do not)."""
    os.environ["OMP_THREAD_LIMIT"] = "1"
    number = page.index + 1
    try:
        if page.kind == "pdf":
            return _read_pdf_page(page)
        return _read_image_frame(page)
    except DocumentUnreadable:
        raise
    except RuntimeError as error:
        if "timeout" in str(error).lower():
            raise DocumentUnreadable(f"OCR of page {number} took longer than {PAGE_TIMEOUT_S} s") from None
        raise DocumentUnreadable(f"page {number} could not be read for OCR ({error})") from None
    except pytesseract.TesseractError as error:
        raise DocumentUnreadable(f"Tesseract failed on page {number}: {error.message.strip()}") from None
    except Image.DecompressionBombError as error:
        raise DocumentUnreadable(f"page {number} is too large to decode safely ({error})") from None
    except Exception as error:  # decoders raise many types on damaged files
        raise DocumentUnreadable(
            f"page {number} is corrupt or truncated and could not be decoded for OCR ({type(error).__name__}: {error})"
        ) from None


def _read_pdf_page(page: PageImage) -> str:
    import pypdfium2 as pdfium  # imported in the worker only; the parent never renders

    document = pdfium.PdfDocument(page.path)
    try:
        pdf_page = document[page.index]
        width, height = pdf_page.get_size()  # points, 1/72 inch
        scale = OCR_DPI / 72
        if width * height * scale * scale > MAX_PIXELS:  # a huge page: lower the resolution, not the memory limit
            scale = math.sqrt(MAX_PIXELS / (width * height))
        bitmap = pdf_page.render(scale=scale, grayscale=True)
        return _tesseract(bitmap.to_pil(), page.lang, round(scale * 72))
    finally:
        document.close()


def _read_image_frame(page: PageImage) -> str:
    with Image.open(page.path) as image:
        image.seek(page.index)
        dpi = image.info.get("dpi")
        frame = ImageOps.exif_transpose(image)  # phone photos are stored sideways with an orientation tag
        resolution = round(float(dpi[0])) if dpi and float(dpi[0]) >= 70 else None
        return _tesseract(frame, page.lang, resolution)


def _tesseract(image: Image.Image, lang: str, dpi: int | None) -> str:
    """OCR a PIL image. It goes to Tesseract as BMP: PNG encoding a 300-dpi page costs ~0.1 s for nothing."""
    if image.mode not in ("1", "L", "RGB"):
        if "A" in image.getbands() or "transparency" in image.info:
            rgba = image.convert("RGBA")
            background = Image.new("RGB", image.size, (255, 255, 255))
            background.paste(rgba, mask=rgba.getchannel("A"))
            image = background
        else:
            image = image.convert("RGB")
    image.format = "BMP"
    config = f"--dpi {dpi}" if dpi else ""
    text: str = pytesseract.image_to_string(image, lang=lang, config=config, timeout=PAGE_TIMEOUT_S)
    return text


def clean_ocr_text(text: str) -> str:
    """Tesseract ends a page with a form feed and pads some lines with spaces."""
    return "\n".join(line.rstrip() for line in text.replace("\f", "").strip().splitlines())


def _start_worker() -> None:
    os.environ["OMP_THREAD_LIMIT"] = "1"
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS  # this process is ours: Pillow may refuse bombs itself


def _ready(_: object) -> str:
    return ""


def available_cores() -> int:
    """Cores this process may run on (the affinity mask, not the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class OcrWorkers:
    """A lazily created pool of OCR worker processes, reused across files and replaced after a crash.

    Usage::

        workers = OcrWorkers()
        with OcrBatch(workers) as batch:
            batch.submit(1, read_page, PageImage("/tmp/scan.png", "image", 0, "eng"))
            texts = dict(batch.remaining())
    """

    def __init__(self, max_workers: int | None = None, start_method: str = START_METHOD) -> None:
        self.max_workers = max_workers or available_cores()
        self._context = multiprocessing.get_context(_usable_start_method(start_method))
        self._lock = threading.Lock()
        self._executor: ProcessPoolExecutor | None = None

    def submit(self, function: Callable[[Any], str], argument: Any) -> tuple[Future[str], ProcessPoolExecutor]:
        """Queue one task; a pool found broken (by another caller's crash) is replaced once."""
        for _attempt in range(2):
            executor = self._pool()
            try:
                return executor.submit(function, argument), executor
            except BrokenProcessPool:
                self.discard(executor)
        raise DocumentUnreadable("the OCR worker processes could not be started")

    def warm_up(self) -> None:
        """Start the worker processes now (about a second) instead of on the first page to OCR."""
        with OcrBatch(self) as batch:
            for number in range(self.max_workers):
                batch.submit(number, _ready, None)
            for _ in batch.remaining():
                pass

    def discard(self, executor: ProcessPoolExecutor) -> None:
        """Drop a broken pool so that the next task starts a fresh one."""
        with self._lock:
            if self._executor is executor:
                self._executor = None
        executor.shutdown(wait=False, cancel_futures=True)

    def shutdown(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)

    def _pool(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ProcessPoolExecutor(
                    max_workers=self.max_workers, mp_context=self._context, initializer=_start_worker
                )
            return self._executor


def _usable_start_method(start_method: str) -> str:
    """``forkserver`` and ``spawn`` re-import the main module in each worker; a main read from stdin has no
    file to import, so such a process (a script piped to python) falls back to ``fork``."""
    main_file = getattr(sys.modules.get("__main__"), "__file__", None)
    if start_method != "fork" and main_file is not None and not os.path.exists(main_file):
        return "fork"
    return start_method


_shared: OcrWorkers | None = None
_shared_lock = threading.Lock()


def shared_workers() -> OcrWorkers:
    """The process-wide pool: one set of OCR processes however many parsers and threads use it."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = OcrWorkers()
        return _shared


@dataclass
class _Task:
    number: int
    function: Callable[[Any], str]
    argument: Any
    executor: ProcessPoolExecutor
    attempt: int = 1


class OcrBatch:
    """The OCR tasks of one file. Results come back keyed by page number, in the calling thread, as they finish;
    leaving the ``with`` block cancels what has not started.

    A worker crash breaks the whole pool, so the pages of other files in flight fail with it: each page is
    therefore tried once more on a fresh pool, and only a page that crashes twice fails its file.
    """

    ATTEMPTS = 2

    def __init__(self, workers: OcrWorkers) -> None:
        self._workers = workers
        self._pending: dict[Future[str], _Task] = {}

    def __enter__(self) -> OcrBatch:
        return self

    def __exit__(self, *exc_info: object) -> None:
        for future in self._pending:
            future.cancel()
        self._pending.clear()

    def __len__(self) -> int:
        return len(self._pending)

    def submit(self, number: int, function: Callable[[Any], str], argument: Any) -> None:
        future, executor = self._workers.submit(function, argument)
        self._pending[future] = _Task(number, function, argument, executor)

    def completed(self) -> Iterator[tuple[int, str]]:
        """(page number, text) of the tasks finished so far, without waiting."""
        for future in [future for future in self._pending if future.done()]:
            result = self._collect(future)
            if result is not None:
                yield result

    def remaining(self) -> Iterator[tuple[int, str]]:
        """(page number, text) of every task still pending, each as soon as it finishes."""
        while self._pending:
            finished, _ = wait(self._pending, return_when="FIRST_COMPLETED")
            for future in finished:
                result = self._collect(future)
                if result is not None:
                    yield result

    def _collect(self, future: Future[str]) -> tuple[int, str] | None:
        """The task's (page number, text); None when it was queued again after a crash."""
        task = self._pending.pop(future)
        try:
            return task.number, future.result()
        except BrokenProcessPool as error:
            self._workers.discard(task.executor)
            if task.attempt < self.ATTEMPTS:
                retry, executor = self._workers.submit(task.function, task.argument)
                self._pending[retry] = _Task(task.number, task.function, task.argument, executor, task.attempt + 1)
                return None
            raise DocumentUnreadable(
                f"the OCR worker process crashed while reading page {task.number} (the file may be malformed)"
            ) from error
        except DocumentUnreadable:
            raise
        except Exception as error:  # whatever a task raised, this file fails alone
            raise DocumentUnreadable(f"OCR failed on page {task.number} ({type(error).__name__}: {error})") from error


@contextmanager
def spooled(data: bytes, suffix: str) -> Iterator[str]:
    """The bytes as a temporary file that worker processes can open by path; removed afterwards."""
    handle, path = tempfile.mkstemp(prefix="parley-ocr-", suffix=suffix)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        yield path
    finally:
        with suppress(FileNotFoundError):
            os.unlink(path)
