"""The ingest options parsers honour (``ParseOptions``), their default and their validation."""

from __future__ import annotations

from domain.collection import OCR_MODELS
from domain.errors import DocumentUnreadable
from domain.ports import ParseOptions

DEFAULT_OPTIONS = ParseOptions()  # one shared instance: a call in an argument default is evaluated once anyway


def ocr_mode(options: ParseOptions) -> str:
    """The validated ``ocr_model``: auto (OCR pages without a text layer), tesseract (OCR every page) or off."""
    if options.ocr_model not in OCR_MODELS:
        allowed = ", ".join(OCR_MODELS)
        raise DocumentUnreadable(f"unknown ocr_model {options.ocr_model!r}; it must be one of {allowed}")
    return options.ocr_model
