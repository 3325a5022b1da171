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


def two_page_listing(second_page: list[str]) -> bytes:
    """The listing of ``listing_pdf`` with its records running on to a second page, which has no header."""
    pdf = FPDF(format="A4")
    pdf.set_font("Courier", size=9)
    pdf.add_page()
    text = ["PROPERTY ROOM - FIREARM SEARCH"]
    for widths, header in zip(WIDTHS, (("TYPE", "MAKE", "MODEL"), ("SERIAL", "TAG NUMBER")), strict=True):
        text += [line(header, widths), line(tuple("-" * width for width in widths), widths)]
    for first, second in RECORDS[:2]:
        text += [line(first, WIDTHS[0]), line(second, WIDTHS[1])]
    text.append("Page 1 of 2")
    for row in text:
        pdf.cell(0, 4, row, new_x="LMARGIN", new_y="NEXT")
    pdf.add_page()
    for row in second_page:
        pdf.cell(0, 4, row, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def test_a_listing_continued_on_the_next_page_keeps_its_headers() -> None:
    first, second = ("RIFLE", "SEARS ROEBUCK", "5"), ("63723", "SJ4172-1")  # each value within its column
    pages = (
        FileParser()
        .parse(
            "listing.pdf",
            two_page_listing(
                ["PROPERTY ROOM - FIREARM SEARCH (continued)", line(first, WIDTHS[0]), line(second, WIDTHS[1])]
            ),
        )
        .pages
    )
    assert [text for text in pages[0].text.split("\n") if text.startswith("TYPE: ")][-1].startswith(
        "TYPE: PISTOL; MAKE: SMITH AND WESSON"
    )
    assert pages[1].text.split("\n") == [
        "PROPERTY ROOM - FIREARM SEARCH (continued)",
        "",
        "TYPE: RIFLE; MAKE: SEARS ROEBUCK; MODEL: 5; SERIAL: 63723; TAG NUMBER: SJ4172-1.",
    ]
    assert len(pages[1].tables) == 1


def test_prose_after_a_listing_stays_prose() -> None:
    prose = ["The property room keeps every firearm until the case is closed and", "the owner has been told."]
    pages = FileParser().parse("listing.pdf", two_page_listing(prose)).pages
    assert " ".join(pages[1].text.split()) == " ".join(" ".join(prose).split())
    assert not pages[1].tables
