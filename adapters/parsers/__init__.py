"""Document parsers: turn an uploaded file into page texts. ``FileParser`` picks one by file extension."""

from __future__ import annotations

from pathlib import PurePath

from adapters.parsers.pdf import PdfParser
from adapters.parsers.text import TextParser
from domain.errors import DocumentUnreadable
from domain.ports import DocumentParser, ParsedDocument


class FileParser:
    """Dispatches on the file extension and refuses what it cannot read, with a reason a person understands."""

    def __init__(self) -> None:
        text = TextParser()
        self._by_extension: dict[str, DocumentParser] = {
            ".txt": text,
            ".text": text,
            ".md": text,
            ".markdown": text,
            ".pdf": PdfParser(),
        }

    @property
    def extensions(self) -> list[str]:
        return sorted(self._by_extension)

    def parse(self, filename: str, data: bytes) -> ParsedDocument:
        extension = PurePath(filename).suffix.lower()
        parser = self._by_extension.get(extension)
        if parser is None:
            known = ", ".join(self.extensions)
            raise DocumentUnreadable(f"unsupported file type {extension or '(none)'}; Parley reads {known}")
        if not data:
            raise DocumentUnreadable("the file is empty (0 bytes)")
        return parser.parse(filename, data)
