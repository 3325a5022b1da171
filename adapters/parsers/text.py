"""Plain text and Markdown: one page, decoded as UTF-8 (with a BOM or without)."""

from __future__ import annotations

from pathlib import PurePath

from domain.errors import DocumentUnreadable
from domain.ports import ParsedDocument, ParsedPage


class TextParser:
    def parse(self, filename: str, data: bytes) -> ParsedDocument:
        if b"\x00" in data[:8192]:
            raise DocumentUnreadable("the file holds binary data, not text; its bytes do not match its extension")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise DocumentUnreadable(f"the file is not valid UTF-8 text (byte {error.start})") from error
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        if not text.strip():
            raise DocumentUnreadable("the file holds no text")
        kind = "md" if PurePath(filename).suffix.lower() in (".md", ".markdown") else "txt"
        return ParsedDocument(type=kind, pages=(ParsedPage(1, text),))
