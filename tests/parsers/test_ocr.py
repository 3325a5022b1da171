"""OCR with Tesseract: image files, scanned PDF pages, the ocr_model and tesseract_lang options, and the
worker processes (parallel, usable from any thread, replaced after a crash)."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import pytest

from adapters.parsers import FileParser
from adapters.parsers.ocr import OcrBatch, shared_workers
from domain.errors import DocumentUnreadable
from domain.ports import ParsedDocument, ParseOptions
from tests.documents import (
    PROSE,
    image_bytes,
    mixed_pdf,
    multipage_tiff,
    scanned_pdf,
    text_image,
    text_pdf,
)

SMALL = (2480, 700)  # a strip of an A4 page at 300 dpi: a few lines, quick to OCR
SCANNED_WORDS = "Invoice number 4471 was paid in full on the third of March."
TEXT_LAYER = "This first page has a real text layer about quarterly planning."


def normalise(text: str) -> str:
    return " ".join(text.split())


def levenshtein(a: str, b: str) -> int:
    """Edit distance (insertions, deletions, substitutions), one row at a time."""
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, start=1):
        current = [i]
        for j, char_b in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b)))
        previous = current
    return previous[-1]


def character_error_rate(truth: str, read: str) -> float:
    truth, read = normalise(truth), normalise(read)
    return levenshtein(truth, read) / len(truth)


@pytest.fixture(scope="module")
def parser() -> FileParser:
    return FileParser()


@pytest.fixture(scope="module")
def mixed(parser: FileParser) -> tuple[ParsedDocument, list[tuple[int, int]]]:
    calls: list[tuple[int, int]] = []
    data = mixed_pdf(TEXT_LAYER, text_image(SCANNED_WORDS, SMALL))
    return parser.parse("mixed.pdf", data, progress=lambda *call: calls.append(call)), calls


def test_clean_300_dpi_page_is_read_with_under_2_percent_character_errors(parser: FileParser) -> None:
    truth = PROSE + "\n" + PROSE.upper()
    parsed = parser.parse("scan.png", image_bytes(text_image(truth), "PNG"))
    assert parsed.type == "png"
    assert [(page.number, page.ocr) for page in parsed.pages] == [(1, True)]
    assert character_error_rate(truth, parsed.pages[0].text) < 0.02


def test_jpeg_is_read_from_a_thread_that_is_not_the_main_one(parser: FileParser) -> None:
    data = image_bytes(text_image(SCANNED_WORDS, SMALL, mode="RGB"), "JPEG")
    with ThreadPoolExecutor(1) as server_thread:
        parsed = server_thread.submit(parser.parse, "photo.jpeg", data).result()
    assert parsed.type == "jpg"
    assert normalise(parsed.pages[0].text) == SCANNED_WORDS


def test_multipage_tiff_gives_one_page_per_frame_with_progress(parser: FileParser) -> None:
    frames = [text_image(f"Frame {word} of the scanned letter.", SMALL) for word in ("one", "two")]
    calls: list[tuple[int, int]] = []
    parsed = parser.parse("letter.tif", multipage_tiff(frames), progress=lambda *call: calls.append(call))
    assert parsed.type == "tiff"
    assert [(page.number, page.ocr) for page in parsed.pages] == [(1, True), (2, True)]
    assert "Frame one" in parsed.pages[0].text and "Frame two" in parsed.pages[1].text
    assert calls == [(1, 2), (2, 2)]


def test_auto_reads_the_text_layer_and_ocrs_only_the_scanned_page(
    mixed: tuple[ParsedDocument, list[tuple[int, int]]],
) -> None:
    parsed, calls = mixed
    first, second = parsed.pages
    assert (first.number, first.ocr, normalise(first.text)) == (1, False, TEXT_LAYER)
    assert (second.number, second.ocr) == (2, True)
    assert normalise(second.text) == SCANNED_WORDS
    assert calls == [(1, 2), (2, 2)]


def test_off_leaves_a_scanned_page_empty(parser: FileParser) -> None:
    data = mixed_pdf(TEXT_LAYER, text_image(SCANNED_WORDS, SMALL))
    parsed = parser.parse("mixed.pdf", data, ParseOptions(ocr_model="off"))
    first, second = parsed.pages
    assert normalise(first.text) == TEXT_LAYER and not first.ocr
    assert (second.number, second.text, second.ocr) == (2, "", False)


def test_off_refuses_a_fully_scanned_pdf_and_an_image(parser: FileParser) -> None:
    scan = text_image(SCANNED_WORDS, SMALL)
    with pytest.raises(DocumentUnreadable, match=r"no text layer.*OCR is off"):
        parser.parse("scan.pdf", scanned_pdf([scan]), ParseOptions(ocr_model="off"))
    with pytest.raises(DocumentUnreadable, match="OCR is off"):
        parser.parse("scan.png", image_bytes(scan, "PNG"), ParseOptions(ocr_model="off"))


def test_tesseract_replaces_the_text_layer_of_every_page(parser: FileParser) -> None:
    sentence = "Tesseract reads this rendered page again."
    parsed = parser.parse("text.pdf", text_pdf([sentence]), ParseOptions(ocr_model="tesseract"))
    assert [(page.number, page.ocr) for page in parsed.pages] == [(1, True)]
    assert normalise(parsed.pages[0].text) == sentence


def test_unknown_ocr_model_names_the_allowed_values(parser: FileParser) -> None:
    with pytest.raises(DocumentUnreadable, match="auto, tesseract, off"):
        parser.parse("text.pdf", text_pdf(["Hello."]), ParseOptions(ocr_model="abbyy"))


def test_language_that_is_not_installed_names_the_installed_ones_and_the_package(parser: FileParser) -> None:
    data = image_bytes(text_image(SCANNED_WORDS, SMALL), "PNG")
    with pytest.raises(DocumentUnreadable, match=r"no language xyz installed \(installed: eng\).*tesseract-ocr-xyz"):
        parser.parse("scan.png", data, ParseOptions(tesseract_lang="xyz"))
    with pytest.raises(DocumentUnreadable, match="tesseract-ocr-chi-sim"):
        parser.parse("scan.png", data, ParseOptions(tesseract_lang="eng+chi_sim"))
    with pytest.raises(DocumentUnreadable, match="not a Tesseract language code"):
        parser.parse("scan.png", data, ParseOptions(tesseract_lang="eng --psm 0"))


def test_the_language_matters_only_when_a_page_needs_ocr(parser: FileParser) -> None:
    parsed = parser.parse("text.pdf", text_pdf(["Plain text."]), ParseOptions(tesseract_lang="xyz"))
    assert parsed.pages[0].text == "Plain text."


def test_a_crashed_worker_fails_its_file_alone_and_the_pool_is_replaced(parser: FileParser) -> None:
    with OcrBatch(shared_workers()) as batch, pytest.raises(DocumentUnreadable, match="crashed"):
        batch.submit(1, os._exit, 3)  # the worker process dies as a segfaulting decoder would
        list(batch.remaining())
    parsed = parser.parse("after.png", image_bytes(text_image(SCANNED_WORDS, SMALL), "PNG"))
    assert normalise(parsed.pages[0].text) == SCANNED_WORDS
