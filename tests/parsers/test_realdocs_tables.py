"""Tables and text of real public PDFs (``../shared/data/realdocs/pdfs``, from pdfplumber's test corpus): every
cell stays in its own column, every row reads alone with its headers, words keep their spaces, and a table that
continues on the next page keeps its headers."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from adapters.parsers import FileParser
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
