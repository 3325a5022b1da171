"""Document parsers: turn an uploaded file into page texts. ``FileParser`` picks one by file extension."""

from __future__ import annotations

from pathlib import PurePath

from adapters.parsers.image import IMAGE_FORMATS, ImageParser
from adapters.parsers.ocr import OcrWorkers, check_language, shared_workers
from adapters.parsers.options import DEFAULT_OPTIONS
from adapters.parsers.pdf import PdfParser
from adapters.parsers.text import TextParser
from domain.errors import DocumentUnreadable, InvalidCommand
from domain.ports import DocumentParser, PageProgress, ParsedDocument, ParseOptions


class FileParser:
    """Dispatches on the file extension and refuses what it cannot read, with a reason a person understands.

    Parsers that OCR share one pool of worker processes (``workers``; by default the process-wide one).
    """

    def __init__(self, workers: OcrWorkers | None = None) -> None:
        workers = workers or shared_workers()
        self.concurrent_files = workers.max_workers  # how many files an Ingestor should parse at once
        text = TextParser()
        images = ImageParser(workers)
        self._by_extension: dict[str, DocumentParser] = {
            ".txt": text,
            ".text": text,
            ".md": text,
            ".markdown": text,
            ".pdf": PdfParser(workers),
            **dict.fromkeys(IMAGE_FORMATS, images),
        }

    @property
    def extensions(self) -> list[str]:
        return sorted(self._by_extension)

    @staticmethod
    def check_language(tesseract_lang: str) -> None:
        """Refuses (InvalidCommand) an OCR language that Tesseract does not have here, before any file is read."""
        try:
            check_language(tesseract_lang)
        except DocumentUnreadable as error:
            raise InvalidCommand(error.message) from error

    def parse(
        self, filename: str, data: bytes, options: ParseOptions = DEFAULT_OPTIONS, progress: PageProgress | None = None
    ) -> ParsedDocument:
        extension = PurePath(filename).suffix.lower()
        parser = self._by_extension.get(extension)
        if parser is None:
            known = ", ".join(self.extensions)
            raise DocumentUnreadable(f"unsupported file type {extension or '(none)'}; Parley reads {known}")
        if not data:
            raise DocumentUnreadable("the file is empty (0 bytes)")
        return parser.parse(filename, data, options, progress)
