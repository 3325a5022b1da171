"""Tables and text of real public PDFs (``../shared/data/realdocs/pdfs``, from pdfplumber's test corpus): every
cell stays in its own column, every row reads alone with its headers, words keep their spaces, and a table that
continues on the next page keeps its headers."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pypdfium2 as pdfium
import pytest

from adapters.parsers import FileParser
from adapters.parsers.columns import page_layout
from domain.ports import ParsedDocument

PDFS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "realdocs" / "pdfs"

pytestmark = pytest.mark.skipif(not PDFS.is_dir(), reason="the shared realdocs data set is not beside the checkout")


@cache  # a 16-page table takes seconds to read; read each file once
def parse(name: str) -> ParsedDocument:
    return FileParser().parse(name, (PDFS / name).read_bytes())


def lines(document: ParsedDocument, page: int = 1) -> list[str]:
    return document.pages[page - 1].text.split("\n")


def test_a_wide_table_whose_rows_share_ruled_cells_keeps_one_value_per_cell() -> None:
    checks = parse("background-checks.pdf")
    (kentucky,) = [line for line in lines(checks) if line.startswith("State / Territory: Kentucky;")]
    assert "Permit: 264,140;" in kentucky and kentucky.endswith("Totals: 295,891.")
    (illinois,) = [line for line in lines(checks) if line.startswith("State / Territory: Illinois;")]
    assert "Permit: 87,190;" in illinois and "; Handgun: 24,412;" in illinois
    # group labels over several columns head each of them
    assert "Pre-Pawn Handgun: " in illinois and "Return to Seller - Private Sale Long Gun: " in illinois
    assert lines(checks)[0] == "NICS Firearm Background Checks November - 2015."  # the title, a line of its own
    states = [line for line in lines(checks) if line.startswith("State / Territory: ")]
    assert len(states) >= 55  # 50 states, DC and the territories, one line each


def test_words_keep_their_spaces_on_a_page_without_space_characters() -> None:
    text = parse("senate-expenditures.pdf").pages[0].text
    assert "TRAIN FARE FOR SEN HAWLEY WASHINGTON DC TO NEW YORK NY AND RETURN" in text
    assert "PAYEE NAME: ENGLERT, PAYTON A; DESCRIPTION: STAFF ASSISTANT; AMOUNT ($): 25,499.96." in text.split("\n")
    assert "TRAINFARE" not in text and "STAFFASSISTANT" not in text


def test_a_wrapped_cell_stays_in_its_row() -> None:
    text = parse("senate-expenditures.pdf").pages[0].text
    (row,) = [line for line in text.split("\n") if "DOCUMENT NO.: DHAW20190001;" in line]
    assert "DESCRIPTION: STAFF TRANSPORTATION AIRFARE FOR E JOHNSON KANSAS CITY TO WASHINGTON DC AND RETURN;" in row
    assert row.endswith("AMOUNT ($): 920.68.")


def test_a_table_continued_on_the_next_page_keeps_its_headers() -> None:
    warn = parse("ca-warn-report.pdf")
    for page in (2, 6, 15):
        rows = [line for line in lines(warn, page) if line.startswith("Notice Date: ")]
        assert len(rows) >= 10, page
        assert all("; Company: " in row and "; City: " in row for row in rows), page
    assert any("Company: Twitter, Inc.; City: San Francisco; No. Of: 240;" in row for row in lines(warn, 6))
    summary = [line for line in lines(warn, 16) if line.startswith("Summary by Month: ")]  # from page 15
    assert len(summary) >= 3 and all("; Employees Affected: " in row for row in summary)


def test_a_layout_in_boxes_is_read_as_text_column_by_column() -> None:
    bulletin = lines(parse("la-precinct-bulletin-2014-p1.pdf"))
    assert "JIM MCDONNELL 219" in bulletin and "1100 REGISTERED VOTERS" in bulletin
    sheriff = bulletin.index("SHERIFF")
    assert bulletin[sheriff + 1 : sheriff + 3] == ["JIM MCDONNELL 219", "PAUL TANAKA 61"]


def test_a_fixed_width_listing_of_two_line_records_gives_one_row_per_record() -> None:
    listing = lines(parse("san-jose-pd-firearm-sample.pdf"))
    records = [line for line in listing if line.startswith("TYPE: ")]
    assert len(records) == 12  # every record, the footer's legend none of them
    (taurus,) = [line for line in records if "MAKE: TAURUS FORJAS;" in line]
    assert "; SERIAL NUMBER: SZH77919; REPORT/TAG NUMBER: Tag#:SJ3360-1;" in taurus  # the line below, in its row
    assert taurus.startswith("TYPE: PISTOL; ITEM: SEMI-AUTOMATIC; MAKE: TAURUS FORJAS; MODEL: PT40 PRO MIL'NU;")
    assert listing[-1].startswith("Flags = e (evidence)")


def test_a_page_in_three_columns_is_read_column_by_column() -> None:
    register = parse("federal-register-2020-17221.pdf")
    # pdfium's line-by-line order ran across the columns: "... Board Report documenting the results of The FAA
    # estimates that this proposed" / "• Installing revised MDS software, the operational evaluation on pilot AD
    # affects 73 airplanes of U.S. registry."
    assert "Costs of Compliance\nThe FAA estimates that this proposed\nAD affects 73 airplanes of U.S. registry." in (
        register.pages[4].text
    )
    # the cost table across the columns at the foot of the page keeps each row on one line, after the columns
    (row,) = [line for line in lines(register, 5) if line.startswith("FCC OPS installation and verification")]
    assert "1 work-hour \u00d7 $85 per hour = $85" in row and "$6,205." in row  # \u00d7: the times sign
    assert register.pages[4].text.index("U.S. registry") < register.pages[4].text.index("FCC OPS installation")
    # a page read by pdfium alone: the signature follows the date it was issued on
    assert "Issued on August 3, 2020.\nLance T. Gant,\nDirector, Compliance & Airworthiness" in register.pages[14].text


@pytest.mark.parametrize(
    "name", ["scotus-transcript-p1.pdf", "senate-expenditures.pdf", "cupertino_usd_4-6-16.pdf", "ca-warn-report.pdf"]
)
def test_line_numbers_tables_and_forms_are_no_columns(name: str) -> None:
    # a transcript's line numbers, a table's cells and a form's labels would lose their rows read as columns
    document = pdfium.PdfDocument((PDFS / name).read_bytes())
    try:
        for index in range(len(document)):
            textpage = document[index].get_textpage()
            rects = [textpage.get_rect(i) for i in range(textpage.count_rects())]
            assert page_layout(rects) is None, f"page {index + 1}"
    finally:
        document.close()
