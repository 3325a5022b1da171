"""Plain text and Markdown: one page, decoded as UTF-8 (with a BOM or without)."""

from __future__ import annotations

from pathlib import PurePath

from adapters.parsers.options import DEFAULT_OPTIONS
from adapters.parsers.progress import ProgressReporter
from adapters.parsers.sniff import is_binary, mismatch
from domain.errors import DocumentUnreadable
from domain.ports import PageProgress, ParsedDocument, ParsedPage, ParseOptions


class TextParser:
    """Refuses binary files (a PDF or an image renamed .txt) instead of ingesting their bytes as text."""

    def parse(
        self, filename: str, data: bytes, options: ParseOptions = DEFAULT_OPTIONS, progress: PageProgress | None = None
    ) -> ParsedDocument:
        if is_binary(data):
            raise mismatch(filename, data, "text")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise DocumentUnreadable(f"the file is not valid UTF-8 text (byte {error.start})") from error
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        if not text.strip():
            raise DocumentUnreadable("the file holds no text")
        kind = "md" if PurePath(filename).suffix.lower() in (".md", ".markdown") else "txt"
        ProgressReporter(progress, total=1).page_done()
        return ParsedDocument(type=kind, pages=(ParsedPage(1, text),))
