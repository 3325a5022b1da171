"""The PDF text layer is read with pdfium and must read as pdfplumber reads it; only pages ruled like a table go
through pdfplumber's table finder."""

from __future__ import annotations

import io

import pdfplumber
from fpdf import FPDF

from adapters.parsers import FileParser
from adapters.parsers.pdf import survey_pages
from tests.documents import PROSE, columns_pdf, table_pdf, text_pdf
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


def test_a_page_in_two_columns_reads_each_column_whole() -> None:
    left = f"LEFT {PROSE} The left column ends here."
    right = "RIGHT " + PROSE.replace("committee", "board") + " The right column ends here."
    text = FileParser().parse("c.pdf", columns_pdf("Quarterly Newsletter of the Harbor Society", [left, right]))
    page = text.pages[0].text
    # line by line across the page, each line would hold half of each column
    assert page.startswith("Quarterly Newsletter of the Harbor Society\nLEFT The committee met")
    assert page.index("The\nleft column ends here.") < page.index("RIGHT The board met")
    assert " ".join(page.split("RIGHT")[0].split()).endswith("circulated by Friday. The left column ends here.")


def test_labels_beside_their_values_are_no_columns() -> None:
    pdf = FPDF(format="A4")
    pdf.set_font("Helvetica", size=11)
    pdf.add_page()
    for index in range(20):
        pdf.set_xy(15, 20 + index * 8)
        pdf.cell(40, 6, f"Field {index}:")
        pdf.set_xy(70, 20 + index * 8)
        pdf.cell(120, 6, f"the value of field number {index}, written out at some length to fill the line")
    lines = FileParser().parse("form.pdf", bytes(pdf.output())).pages[0].text.split("\n")
    assert lines[3] == "Field 3: the value of field number 3, written out at some length to fill the line"
