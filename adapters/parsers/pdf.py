"""PDF text with pdfplumber, page by page, page numbers kept."""

from __future__ import annotations

import io

import pdfplumber
from pdfminer.pdfdocument import PDFEncryptionError, PDFPasswordIncorrect
from pdfminer.pdfparser import PDFSyntaxError

from domain.errors import DocumentUnreadable
from domain.ports import ParsedDocument, ParsedPage


class PdfParser:
    def parse(self, filename: str, data: bytes) -> ParsedDocument:
        if not data.lstrip()[:5].startswith(b"%PDF-"):
            raise DocumentUnreadable("the file does not start like a PDF; its bytes do not match its extension")
        try:
            with pdfplumber.open(io.BytesIO(data)) as pdf:
                if getattr(pdf.doc, "encryption", None):
                    raise DocumentUnreadable("the PDF is encrypted (password protected)")
                pages = tuple(
                    ParsedPage(number, (page.extract_text() or "").strip())
                    for number, page in enumerate(pdf.pages, start=1)
                )
        except DocumentUnreadable:
            raise
        except (PDFPasswordIncorrect, PDFEncryptionError) as error:
            raise DocumentUnreadable("the PDF is encrypted (password protected)") from error
        except PDFSyntaxError as error:
            raise DocumentUnreadable(f"the PDF is corrupt or truncated ({error})") from error
        except Exception as error:  # noqa: BLE001 - pdfminer raises many ad-hoc types on damaged files
            raise DocumentUnreadable(f"the PDF could not be read: corrupt or truncated ({type(error).__name__})") from error
        if not pages:
            raise DocumentUnreadable("the PDF has no pages")
        if not any(page.text for page in pages):
            raise DocumentUnreadable("the PDF has no text layer (scanned pages need OCR)")
        return ParsedDocument(type="pdf", pages=pages)
