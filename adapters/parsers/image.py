"""Image files (PNG, JPEG, TIFF): their text is read by OCR; each frame of a multi-page TIFF is a page.

Only the header is decoded here, to refuse decompression bombs and count pages before any work is queued; the
pixels are decoded in the OCR worker processes.
"""

from __future__ import annotations

import io
import threading
import warnings
from pathlib import PurePath
from typing import NamedTuple

from PIL import Image, UnidentifiedImageError

from adapters.parsers.ocr import (
    MAX_PIXELS,
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
from domain.errors import DocumentUnreadable
from domain.ports import PageProgress, ParsedDocument, ParsedPage, ParseOptions


class ImageFormat(NamedTuple):
    kind: str  # as sniff() names it
    pillow: str  # Pillow's format name: only this decoder may open the file
    document_type: str  # ParsedDocument.type
    description: str


PNG = ImageFormat("png", "PNG", "png", "a PNG image")
JPEG = ImageFormat("jpeg", "JPEG", "jpg", "a JPEG image")
TIFF = ImageFormat("tiff", "TIFF", "tiff", "a TIFF image")
IMAGE_FORMATS = {".png": PNG, ".jpg": JPEG, ".jpeg": JPEG, ".tif": TIFF, ".tiff": TIFF}

# warnings.catch_warnings() swaps process-wide state; one header check at a time keeps it consistent.
_header_lock = threading.Lock()


class ImageParser:
    """OCRs image files, one page per frame, pages in parallel worker processes."""

    def __init__(self, workers: OcrWorkers | None = None) -> None:
        self._workers = workers

    def parse(
        self, filename: str, data: bytes, options: ParseOptions = DEFAULT_OPTIONS, progress: PageProgress | None = None
    ) -> ParsedDocument:
        mode = ocr_mode(options)
        extension = PurePath(filename).suffix.lower()
        image_format = IMAGE_FORMATS.get(extension)
        if image_format is None:
            raise DocumentUnreadable(f"unsupported image type {extension or '(none)'}")
        if sniff(data) != image_format.kind:
            raise mismatch(filename, data, image_format.description)
        if mode == "off":
            raise DocumentUnreadable(
                f"the file is {image_format.description}: its text can only be read by OCR, and OCR is off "
                "(ocr_model=off); ingest it with ocr_model auto or tesseract"
            )
        frames = count_pages(data, image_format)
        lang = check_language(options.tesseract_lang)
        reporter = ProgressReporter(progress, frames)
        texts: dict[int, str] = {}
        with spooled(data, extension) as path, OcrBatch(self._workers or shared_workers()) as batch:
            for index in range(frames):
                batch.submit(index + 1, read_page, PageImage(path, "image", index, lang))
            for number, text in batch.remaining():
                texts[number] = clean_ocr_text(text)
                reporter.page_done()
        pages = tuple(ParsedPage(number, texts[number], ocr=True) for number in sorted(texts))
        if not any(page.text for page in pages):
            raise DocumentUnreadable("OCR found no text in the image")
        return ParsedDocument(type=image_format.document_type, pages=pages)


def count_pages(data: bytes, image_format: ImageFormat) -> int:
    """Pages (frames) in the image, each checked against the pixel limit; only headers are read."""
    try:
        with _header_lock, warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[image_format.pillow]) as image:
                frames = int(getattr(image, "n_frames", 1)) if image_format is TIFF else 1
                for index in range(frames):
                    image.seek(index)
                    _check_size(image.size, index + 1 if frames > 1 else None)
                return frames
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise DocumentUnreadable(f"the image is refused as a possible decompression bomb ({error})") from error
    except UnidentifiedImageError as error:
        raise DocumentUnreadable(
            f"the file is not a readable {image_format.pillow} image (corrupt or truncated)"
        ) from error
    except DocumentUnreadable:
        raise
    except Exception as error:  # Pillow raises OSError, SyntaxError, struct.error... on damaged headers
        raise DocumentUnreadable(
            f"the {image_format.pillow} image is corrupt or truncated ({type(error).__name__}: {error})"
        ) from error


def _check_size(size: tuple[int, int], page: int | None) -> None:
    width, height = size
    if width * height > MAX_PIXELS:
        where = f" (page {page})" if page else ""
        raise DocumentUnreadable(
            f"the image{where} is {width}x{height} pixels ({width * height / 1e6:.0f} Mpx), over the limit of "
            f"{MAX_PIXELS / 1e6:.0f} Mpx: refused as a possible decompression bomb"
        )
