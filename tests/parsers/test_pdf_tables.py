"""PDF text layers with pdfplumber: page numbers, tables in place as one line per row with its column headers,
and tables kept whole by the chunker when asked."""

from __future__ import annotations

import pytest

from adapters.parsers import FileParser
from domain.chunking import chunk_document
from domain.ports import ParsedDocument, Tokenizer
from tests.documents import table_pdf, text_pdf

HEADER = ["Region", "Revenue", "Growth", "Manager"]
ROWS = [HEADER] + [
    [f"Zone{number}", f"{1000 + 37 * number} EUR", f"{number % 7}.{number % 10}%", f"Agent{number}"]
    for number in range(1, 15)
]
BEFORE = "Quarterly results by region follow. Sales grew in most places."
AFTER = "Closing remarks: the western zones need attention next quarter."


@pytest.fixture(scope="module")
def report() -> ParsedDocument:
    return FileParser().parse("report.pdf", table_pdf(BEFORE, ROWS, AFTER))


def test_every_page_has_its_number_and_only_the_table_page_has_a_table(report: ParsedDocument) -> None:
    assert report.type == "pdf"
    assert [page.number for page in report.pages] == [1, 2, 3]
    assert [len(page.tables) for page in report.pages] == [0, 1, 0]
    assert report.pages[0].text.startswith("Page 1.")
    assert report.pages[2].text.startswith("Closing page.")
    assert not any(page.ocr for page in report.pages)


def test_each_table_row_is_a_line_with_its_column_headers_on_the_right_page(report: ParsedDocument) -> None:
    page = report.pages[1]
    ((start, end),) = page.tables
    table = page.text[start:end]
    lines = table.split("\n")
    assert lines[0] == "Region: Zone1; Revenue: 1037 EUR; Growth: 1.1%; Manager: Agent1."
    assert "Region: Zone3; Revenue: 1111 EUR; Growth: 3.3%; Manager: Agent3." in lines
    assert len(lines) == len(ROWS) - 1  # the header row is in every line, not a line of its own


def test_table_words_are_not_repeated_in_the_running_text(report: ParsedDocument) -> None:
    page = report.pages[1]
    ((start, end),) = page.tables
    running_text = page.text[:start] + page.text[end:]
    for word in ("Zone7", "Agent14", "EUR"):
        assert word not in running_text
        assert page.text.count(word) == page.text[start:end].count(word)


def test_text_around_the_table_keeps_reading_order(report: ParsedDocument) -> None:
    page = report.pages[1]
    ((start, end),) = page.tables
    assert page.text.index("Quarterly results") < start < end < page.text.index("Closing remarks")
    assert page.text[start - 2 : start] == "\n\n" and page.text[end : end + 2] == "\n\n"


def test_keep_tables_makes_the_table_one_chunk_even_over_the_token_limit(
    report: ParsedDocument, tokenizer: Tokenizer
) -> None:
    chunks = chunk_document(report.pages, tokenizer, 64, 16, keep_tables=True)
    page = report.pages[1]
    ((start, end),) = page.tables
    tables = [chunk for chunk in chunks if chunk.text.startswith("Region: Zone1;")]
    assert len(tables) == 1
    table = tables[0]
    assert table.text == page.text[start:end]
    assert table.pages == (2,)
    assert table.token_count > 64  # whole although larger than a chunk may be
    others = [chunk for chunk in chunks if chunk is not table]
    assert all(chunk.end <= table.start or chunk.start >= table.end for chunk in others)
    assert all(chunk.token_count <= 64 for chunk in others)
    assert [chunk.ordinal for chunk in chunks] == list(range(len(chunks)))
    assert any("Quarterly results" in chunk.text for chunk in others)


def test_without_keep_tables_a_table_is_chunked_like_text(report: ParsedDocument, tokenizer: Tokenizer) -> None:
    chunks = chunk_document(report.pages, tokenizer, 64, 16)
    page_two_start = len(report.pages[0].text) + 2
    table_start = page_two_start + report.pages[1].tables[0][0]
    table_end = page_two_start + report.pages[1].tables[0][1]
    touching = [chunk for chunk in chunks if chunk.start < table_end and table_start < chunk.end]
    assert len(touching) > 1
    assert all(chunk.token_count <= 64 for chunk in chunks)


def test_keep_tables_respects_chunk_by_page(report: ParsedDocument, tokenizer: Tokenizer) -> None:
    chunks = chunk_document(report.pages, tokenizer, 64, 16, True, keep_tables=True)
    assert all(len(chunk.pages) == 1 for chunk in chunks)
    assert sum(chunk.text.startswith("Region: Zone1;") for chunk in chunks) == 1


def test_progress_counts_pages_as_they_are_read() -> None:
    calls: list[tuple[int, int]] = []
    FileParser().parse("two.pdf", text_pdf(["First page.", "Second page."]), progress=lambda *c: calls.append(c))
    assert calls == [(1, 2), (2, 2)]


def test_progress_for_a_text_file_is_one_page() -> None:
    calls: list[tuple[int, int]] = []
    parsed = FileParser().parse("notes.md", b"# Notes\n\nAbout %PDF- headers.", progress=lambda *c: calls.append(c))
    assert parsed.type == "md"
    assert calls == [(1, 1)]


def test_an_error_in_the_progress_callback_is_not_taken_for_a_corrupt_file() -> None:
    class Cancelled(Exception):
        pass

    def cancel(done: int, total: int) -> None:
        raise Cancelled

    with pytest.raises(Cancelled):
        FileParser().parse("two.pdf", text_pdf(["First page.", "Second page."]), progress=cancel)
