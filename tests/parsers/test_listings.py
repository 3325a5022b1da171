"""Fixed-width listings (a report printed in columns under rulers of dashes, no ruling lines): each record of
two or more lines becomes one row with its headers, where its text would put a serial number on the line
below its make, as near the next record's make."""

from __future__ import annotations

import pytest
from fpdf import FPDF

from adapters.parsers import FileParser
from domain.ports import ParsedPage

WIDTHS = ((10, 16, 22), (10, 14))  # each header line's columns, in characters


def line(values: tuple[str, ...], widths: tuple[int, ...]) -> str:
    return " ".join(value.ljust(width) for value, width in zip(values, widths, strict=True)).rstrip()


def listing_pdf(records: list[tuple[tuple[str, ...], tuple[str, ...]]], headers: int = 2) -> bytes:
    pdf = FPDF(format="A4")
    pdf.add_page()
    pdf.set_font("Courier", size=9)
    text = ["PROPERTY ROOM - FIREARM SEARCH", "NUMBER OF RECORDS RETURNED: 3"]
    names = (("TYPE", "MAKE", "MODEL"), ("SERIAL", "TAG NUMBER"))[:headers]
    for widths, header in zip(WIDTHS, names, strict=False):
        text += [line(header, widths), line(tuple("-" * width for width in widths), widths)]
    for first, second in records:
        text.append(line(first, WIDTHS[0]))
        if headers == 2:
            text.append(line(second, WIDTHS[1]))
    text.append("Flags = e (evidence) d (disposed)")
    for row in text:
        pdf.cell(0, 4, row, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


RECORDS = [
    (("PISTOL", "TAURUS FORJAS", "PT40"), ("SZH77919", "SJ3360-1")),
    (("PISTOL", "SMITH AND WESSON", "39"), ("85517", "SJ3686-1")),
    (("RIFLE", "SEARS ROEBUCK & CO.", "5"), ("63723", "SJ4172-1")),
]


@pytest.fixture(scope="module")
def page() -> ParsedPage:
    return FileParser().parse("listing.pdf", listing_pdf(RECORDS)).pages[0]


def test_each_record_of_two_lines_is_one_row_with_its_headers(page: ParsedPage) -> None:
    rows = [text for text in page.text.split("\n") if text.startswith("TYPE: ")]
    assert rows == [
        "TYPE: PISTOL; MAKE: TAURUS FORJAS; MODEL: PT40; SERIAL: SZH77919; TAG NUMBER: SJ3360-1.",
        "TYPE: PISTOL; MAKE: SMITH AND WESSON; MODEL: 39; SERIAL: 85517; TAG NUMBER: SJ3686-1.",
        "TYPE: RIFLE; MAKE: SEARS ROEBUCK & CO.; MODEL: 5; SERIAL: 63723; TAG NUMBER: SJ4172-1.",
    ]
    assert len(page.tables) == 1  # the listing's span, as a table's


def test_the_text_around_a_listing_stays_and_its_header_lines_are_in_its_rows(page: ParsedPage) -> None:
    assert page.text.startswith("PROPERTY ROOM - FIREARM SEARCH\nNUMBER OF RECORDS RETURNED: 3")
    assert page.text.rstrip().endswith("Flags = e (evidence) d (disposed)")  # free text ends the listing
    assert "----" not in page.text and "SERIAL TAG NUMBER" not in page.text


def test_a_header_of_one_line_over_rulers_stays_text() -> None:
    # one header line is too weak a sign: the legend below it would fit its columns as well as a record
    parsed = FileParser().parse("listing.pdf", listing_pdf(RECORDS, headers=1)).pages[0]
    assert "PISTOL TAURUS FORJAS PT40" in " ".join(parsed.text.split())
    assert not parsed.tables and "TYPE: " not in parsed.text
