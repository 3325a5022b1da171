"""The PDF text layer is read with pdfium and must read as pdfplumber reads it; only pages ruled like a table go
through pdfplumber's table finder."""

from __future__ import annotations

import io

import pdfplumber
from fpdf import FPDF

from adapters.parsers import FileParser
from adapters.parsers.pdf import survey_pages
from tests.documents import PROSE, table_pdf, text_pdf
from tests.parsers.test_pdf_tables import AFTER, BEFORE, ROWS


def plumber_texts(data: bytes) -> list[str]:
    with pdfplumber.open(io.BytesIO(data)) as pdf:
        return [(page.extract_text() or "").strip() for page in pdf.pages]


def ruled_page(text: str) -> bytes:
    """Prose between a header rule and a footer rule: lines, but nothing a table could be made of."""
    pdf = FPDF(format="A4")
    pdf.set_font("Helvetica", size=12)
    pdf.add_page()
    pdf.line(10, 15, 200, 15)
    pdf.line(10, 285, 200, 285)
    pdf.multi_cell(0, 7, text)
    return bytes(pdf.output())


def test_text_pages_read_as_pdfplumber_reads_them() -> None:
    data = text_pdf([PROSE, "Short second page.\nWith a second line.", PROSE.upper()])
    parsed = FileParser().parse("prose.pdf", data)
    assert [page.text for page in parsed.pages] == plumber_texts(data)


def test_a_word_hyphenated_across_lines_keeps_its_hyphen_and_break() -> None:
    data = text_pdf(["A long-winded exam-\nple with a hyph-\nenated break."])
    (page,) = FileParser().parse("hyphen.pdf", data).pages
    assert page.text == plumber_texts(data)[0] == "A long-winded exam-\nple with a hyph-\nenated break."


def test_header_and_footer_rules_do_not_send_a_page_to_the_table_finder() -> None:
    data = ruled_page(PROSE)
    (survey,) = survey_pages(data, 1) or []
    assert survey.drawn and not survey.ruled
    (page,) = FileParser().parse("ruled.pdf", data).pages
    assert page.text == plumber_texts(data)[0] and page.tables == ()


def test_only_the_page_with_a_table_is_ruled() -> None:
    surveys = survey_pages(table_pdf(BEFORE, ROWS, AFTER), 3)
    assert surveys is not None
    assert [survey.ruled for survey in surveys] == [False, True, False]


def test_a_page_count_pdfium_disagrees_with_falls_back_to_pdfplumber() -> None:
    assert survey_pages(text_pdf(["One.", "Two."]), 3) is None
