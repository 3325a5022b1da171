"""Tables of a PDF page as rows of text that each stand alone, placed in the page text where they stand.

pdfplumber finds a table by its ruling lines; those give the table's box and its columns. Its own cell text is
not used as is: on many real tables the ruling lines do not separate the rows (one "cell" holds five states and
the next one their five numbers), or a header cell spans several columns whose labels it runs together. So the
words inside the box are placed here: each word goes to the column its centre lies in and to a text line by its
top; a text line that fills two or more columns starts a record, one that fills a single column continues the
record above (a wrapped description). A band that the ruling lines draw as one cell across the whole table, with
at most two lines, is the table's title.

The leading records without a number are the header; group labels ("Pre-Pawn" over "Handgun / Long Gun") apply
to every column their cell spans. Each record becomes one line, ``Header: value; Header: value.``, so a row can
be understood (and retrieved, and quoted) alone. A table that starts with data on the page after a table with
the same columns continues it and keeps its headers (``TableContext``).

Words are read with ``x_tolerance`` 1 pt instead of pdfplumber's 3 pt on pages without space characters: there
the gaps between words are 2-3 pt, and 3 pt ran them together (``TRAINFAREFORSENHAWLEY``).

A listing printed in columns under rulers of dashes, without ruling lines, is read by ``listings.py``.

A box of a few wide columns with long text in each (a precinct bulletin, a newsletter layout) is not a data
table: its cells become text blocks, read column by column.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pdfplumber.page import Page

from adapters.parsers.columns import ColumnLayout
from adapters.parsers.listings import Layout, find_listings, may_hold_listing

Span = tuple[int, int]
BLOCK_SEPARATOR = "\n\n"  # a blank line: the chunker splits there
# pt between the letters of one word. pdfplumber's 3 pt runs words together on pages that have no space
# characters and leave 2-3 pt between words; on pages with spaces, the spaces split words and 3 pt keeps
# oddly spaced digits ("98452") whole.
X_TOLERANCE = 3.0
X_TOLERANCE_WITHOUT_SPACES = 1.0
LINE_TOLERANCE = 3.0  # pt: words whose tops differ by less are on one text line
_NUMBER = re.compile(r"[-+(]?[$€£]?\d[\d,./-]*%?\)?")  # 1,234  3.3%  ($5)  2027-01  05/03/2019


@dataclass
class TableContext:
    """What a table on the next page needs to know to continue the last table: its column count and headers."""

    columns: int = 0
    headers: list[str] = field(default_factory=list)
    listing: tuple[Layout, ...] = ()  # the header lines of a listing that ended the page before


@dataclass
class _Record:
    cells: dict[int, str]
    title: bool = False


def page_text(
    page: Page, context: TableContext | None = None, layout: ColumnLayout | None = None
) -> tuple[str, tuple[Span, ...]]:
    """The page's text in reading order with its tables as rows of text, and the span of each table in it. On
    a page set in columns (``layout``, as pdfium's text rectangles show them), the text is read column by
    column down to each table or band of lines across them."""
    context = context if context is not None else TableContext()
    if page.rotation or tuple(page.mediabox[:2]) != (0, 0):
        layout = None  # pdfium's coordinates and pdfplumber's agree only on an upright page with its origin at 0, 0
    tables = []
    for table in page.find_tables():
        rendered = render_table(page, table, context)
        if rendered is not None:
            tables.append((table.bbox, rendered))
    continued, context.listing = context.listing, ()
    if continued or may_hold_listing(page.chars):
        ruled = [bbox for bbox, _ in tables]
        rest = page.filter(lambda obj: not _inside_any(obj, ruled)) if tables else page
        words = rest.extract_words(x_tolerance=x_tolerance(page), y_tolerance=LINE_TOLERANCE)
        word_lines = _text_lines(words)
        listings = find_listings(word_lines, row_text, continued)
        tables.extend((listing.bbox, listing.text) for listing in listings)
        if listings and _ends_page(listings[-1].bbox, word_lines):
            context.listing = listings[-1].layouts
    if not tables and layout is None:
        return (page.extract_text(x_tolerance=x_tolerance(page)) or "").strip(), ()
    boxes = [bbox for bbox, _ in tables]
    outside = page.filter(lambda obj: obj.get("object_type") != "char" or not _inside_any(obj, boxes))
    if layout is None:
        lines = [
            ((line["top"],), line["text"])
            for line in outside.extract_text_lines(strip=True, x_tolerance=x_tolerance(page))
            if line["text"]
        ]
        return assemble(lines, [((bbox[1],), text) for bbox, text in tables])
    return assemble(*_in_columns(page, outside, tables, layout))


def _in_columns(
    page: Page, outside: Any, tables: list[tuple[Any, str]], layout: ColumnLayout
) -> tuple[list[tuple[tuple[float, ...], str]], list[tuple[tuple[float, ...], str]]]:
    """The lines of each column, of each spanning band, and the tables, keyed for reading order: (stretch,
    column, top), a stretch being the part of the page down to a table or band that spans the gutters."""
    gutters = layout.gutters
    height = float(page.height)
    bands = [(height - top, height - bottom) for bottom, top in layout.bands]  # pdfplumber's tops grow downwards

    def across_gutters(bbox: Any) -> bool:
        return any(bbox[0] < g < bbox[2] for g in gutters)

    across = sorted([bbox[1] for bbox, _ in tables if across_gutters(bbox)] + [b for b, _ in bands])

    def stretch(top: float) -> float:
        return float(sum(1 for start in across if start <= top))

    def column_of(x: float) -> float:
        return float(sum(1 for g in gutters if x >= g))

    def band_of(obj: dict[str, Any]) -> int | None:
        middle = (obj["top"] + obj["bottom"]) / 2
        return next((i for i, (top, bottom) in enumerate(bands) if top - 1 <= middle <= bottom + 1), None)

    def place(obj: dict[str, Any]) -> tuple[str, int]:
        """("band", its index) or ("column", its index): where a character is read."""
        band = band_of(obj)
        return ("band", band) if band is not None else ("column", int(column_of((obj["x0"] + obj["x1"]) / 2)))

    def read(where: tuple[str, int]) -> list[dict[str, Any]]:
        inside = outside.filter(lambda obj: obj.get("object_type") != "char" or place(obj) == where)
        return [line for line in inside.extract_text_lines(strip=True, x_tolerance=x_tolerance(page)) if line["text"]]

    lines: list[tuple[tuple[float, ...], str]] = []
    for index in range(len(layout.columns)):
        for line in read(("column", index)):
            lines.append(((stretch(line["top"]), float(index), line["top"]), line["text"]))
    for index, (top, _) in enumerate(bands):  # a band's lines are read whole, after the columns above it
        for line in read(("band", index)):
            lines.append(((stretch(top) - 1, float(len(layout.columns)), line["top"]), line["text"]))
    keyed_tables: list[tuple[tuple[float, ...], str]] = []
    for bbox, text in tables:
        if across_gutters(bbox):
            keyed_tables.append(((stretch(bbox[1]) - 1, float(len(layout.columns)), bbox[1]), text))
        else:
            keyed_tables.append(((stretch(bbox[1]), column_of((bbox[0] + bbox[2]) / 2), bbox[1]), text))
    return lines, keyed_tables


def render_table(page: Page, table: Any, context: TableContext) -> str | None:
    """A table's text: one line per record (with its headers), or its cells as blocks for a layout box; None
    for a box that holds no table (a frame around a paragraph, a single column)."""
    columns = _column_edges(table.cells)
    width = len(columns) - 1
    if width < 2:
        return None
    words = page.crop(table.bbox, strict=False).extract_words(x_tolerance=x_tolerance(page), y_tolerance=LINE_TOLERANCE)
    bands = [row for row in table.rows if any(cell is not None for cell in row.cells)]
    by_band: list[list[dict[str, Any]]] = [[] for _ in bands]
    stray: list[dict[str, Any]] = []  # inside the box but in no band: kept as text after the table
    for word in words:
        middle = (word["top"] + word["bottom"]) / 2
        for index, band in enumerate(bands):
            if band.bbox[1] - 1 <= middle <= band.bbox[3] + 1:
                by_band[index].append(word)
                break
        else:
            stray.append(word)
    if _is_layout_box(bands, by_band, width):
        blocks = []
        for band, band_words in zip(bands, by_band, strict=True):
            placed: set[int] = set()
            for cell in band.cells:
                if cell is None:
                    continue
                inside = [w for w in band_words if cell[0] - 1 <= (w["x0"] + w["x1"]) / 2 <= cell[2] + 1]
                placed.update(id(w) for w in inside)
                text = "\n".join(" ".join(w["text"] for w in line) for line in _text_lines(inside))
                if text:
                    blocks.append(text)
            stray.extend(w for w in band_words if id(w) not in placed)
        if stray:
            blocks.append("\n".join(" ".join(w["text"] for w in line) for line in _text_lines(stray)))
        return BLOCK_SEPARATOR.join(blocks) or None
    records: list[_Record] = []
    spans: dict[tuple[int, int], tuple[int, int]] = {}  # (record, column) -> the columns its label covers
    for band, band_words in zip(bands, by_band, strict=True):
        lines = _text_lines(band_words)
        cells = [cell for cell in band.cells if cell is not None]
        if len(cells) == 1 and _covers(cells[0], columns) >= width - 0 and len(lines) <= 2:
            title = " ".join(w["text"] for line in lines for w in line)
            if title:
                records.append(_Record({0: title}, title=True))
            continue
        current: _Record | None = None
        for line in lines:
            groups: dict[int, list[str]] = {}
            line_spans: dict[int, tuple[int, int]] = {}
            for cell_columns, phrases in _phrases(line, band.cells, columns):
                for phrase in phrases:
                    column = _column_of(phrase, columns)
                    groups.setdefault(column, []).append(phrase["text"])
                    first, last = cell_columns
                    if last > first and len(phrases) == 1:
                        line_spans[column] = cell_columns  # a label alone in a wide cell heads every column below
            if current is None or len(groups) >= 2:
                current = _Record({})
                records.append(current)
            for column, texts in groups.items():
                text = " ".join(texts)
                current.cells[column] = f"{current.cells[column]} {text}" if column in current.cells else text
                if column in line_spans:
                    spans[(len(records) - 1, column)] = line_spans[column]
    rows = [(index, record) for index, record in enumerate(records) if not record.title and record.cells]
    if len(rows) < 2 and not context.headers:
        return None
    header_rows: list[int] = []
    found_data = False
    for index, record in rows:
        if any(_NUMBER.fullmatch(value) for value in record.cells.values()):
            found_data = True
            break
        if len(header_rows) >= 4:
            break
        header_rows.append(index)
    if not found_data:  # no number in the first rows: only the first row can be told to be the header
        header_rows = header_rows[:1]
    if header_rows:
        headers = [""] * width
        for index in header_rows:
            for column, text in records[index].cells.items():
                first, last = spans.get((index, column), (column, column))
                for covered in range(first, last + 1):
                    headers[covered] = f"{headers[covered]} {text}".strip()
        context.columns, context.headers = width, headers
    elif context.columns == width:
        headers = context.headers  # the table continues from the page before: its headers still apply
    else:
        headers = [""] * width
        context.columns, context.headers = width, headers
    lines_out = []
    for index, record in enumerate(records):
        if record.title:
            lines_out.append(_sentence(record.cells[0]))
        elif index not in header_rows and record.cells:
            lines_out.append(row_text(headers, [record.cells.get(column, "") for column in range(width)]))
    if not any(not records[index].title for index in range(len(records)) if index not in header_rows):
        return None
    text = "\n".join(line for line in lines_out if line)
    if stray:  # a footnote drawn inside the table's frame
        text += BLOCK_SEPARATOR + "\n".join(" ".join(w["text"] for w in line) for line in _text_lines(stray))
    return text or None


def x_tolerance(page: Page) -> float:
    chars = page.chars
    spaces = sum(char["text"] == " " for char in chars)
    return X_TOLERANCE if spaces >= 0.02 * len(chars) else X_TOLERANCE_WITHOUT_SPACES


def row_text(headers: Sequence[str], values: Sequence[str]) -> str:
    """One record as a sentence that stands alone: ``State: Kentucky; Permit: 264,140; Totals: 295,891.``"""
    parts = []
    for header, value in zip(headers, values, strict=True):
        value = " ".join(value.split())
        if value:
            parts.append(f"{header}: {value}" if header else value)
    if not parts:
        return ""
    text = "; ".join(parts)
    return _sentence(text[:1].upper() + text[1:])  # capitalised, so the sentence splitter ends the row before


def _sentence(text: str) -> str:
    text = " ".join(text.split())
    return text if text[-1:] in ".!?" else f"{text}."


def _is_layout_box(bands: Sequence[Any], by_band: Sequence[list[dict[str, Any]]], width: int) -> bool:
    """A few wide columns whose cells mostly hold several lines of text: a page laid out in boxes (a bulletin,
    a price sheet beside its charts), not a table of records."""
    if width > 4:
        return False
    filled = tall = 0
    for band, band_words in zip(bands, by_band, strict=True):
        for cell in band.cells:
            if cell is None:
                continue
            inside = [w for w in band_words if cell[0] - 1 <= (w["x0"] + w["x1"]) / 2 <= cell[2] + 1]
            lines = len(_text_lines(inside))
            filled += lines > 0
            tall += lines >= 3
    return tall >= 2 and 2 * tall >= filled


def _phrases(
    line: Sequence[dict[str, Any]], cells: Sequence[Any], columns: Sequence[float]
) -> list[tuple[tuple[int, int], list[dict[str, Any]]]]:
    """The words of a text line as phrases, per ruled cell of its band: words closer than about a letter's
    height belong to one phrase; a phrase never crosses a ruling line."""
    by_cell: dict[tuple[int, int], list[dict[str, Any]]] = {}
    for word in line:
        middle = (word["x0"] + word["x1"]) / 2
        column = _column_index(middle, columns)
        cell = _cell_of(cells, columns, column) or (column, column)
        by_cell.setdefault(cell, []).append(word)
    result = []
    for cell, words in by_cell.items():
        phrases: list[dict[str, Any]] = []
        for word in sorted(words, key=lambda w: w["x0"]):
            height = word["bottom"] - word["top"]
            last = phrases[-1] if phrases else None
            if last is not None and word["x0"] - last["x1"] <= 0.8 * height:
                last.update(text=f"{last['text']} {word['text']}", x1=word["x1"])
            else:
                phrases.append({"text": word["text"], "x0": word["x0"], "x1": word["x1"]})
        result.append((cell, phrases))
    return result


def _column_edges(cells: Sequence[tuple[float, float, float, float]]) -> list[float]:
    edges: list[float] = []
    for x in sorted({cell[0] for cell in cells} | {cell[2] for cell in cells}):
        if not edges or x - edges[-1] > 2.0:
            edges.append(x)
    return edges


def _column_of(word: dict[str, Any], columns: Sequence[float]) -> int:
    middle = (word["x0"] + word["x1"]) / 2
    for index in range(len(columns) - 1):
        if middle < columns[index + 1]:
            return index
    return len(columns) - 2


def _cell_of(cells: Sequence[Any], columns: Sequence[float], column: int) -> tuple[int, int] | None:
    """The columns (first, last) of the band's cell that holds ``column``."""
    middle = (columns[column] + columns[column + 1]) / 2
    for cell in cells:
        if cell is not None and cell[0] - 1 <= middle <= cell[2] + 1:
            return _column_index(cell[0] + 1, columns), _column_index(cell[2] - 1, columns)
    return None


def _column_index(x: float, columns: Sequence[float]) -> int:
    for index in range(len(columns) - 1):
        if x < columns[index + 1]:
            return index
    return len(columns) - 2


def _covers(cell: tuple[float, float, float, float], columns: Sequence[float]) -> int:
    return _column_index(cell[2] - 1, columns) - _column_index(cell[0] + 1, columns) + 1


RUNNING_FOOTER_LINES = 3  # lines below a listing that still ends its page (a legend, a page number)


def _ends_page(bbox: tuple[float, float, float, float], lines: Sequence[Sequence[dict[str, Any]]]) -> bool:
    """Whether a listing is the last thing on its page but for a few footer lines: it may go on on the next."""
    return sum(1 for line in lines if line[0]["top"] > bbox[3]) <= RUNNING_FOOTER_LINES


def _text_lines(words: Sequence[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    lines: list[list[dict[str, Any]]] = []
    for word in sorted(words, key=lambda w: (w["top"], w["x0"])):
        if lines and abs(word["top"] - lines[-1][0]["top"]) <= LINE_TOLERANCE:
            lines[-1].append(word)
        else:
            lines.append([word])
    return [sorted(line, key=lambda w: w["x0"]) for line in lines]


def assemble(
    lines: Sequence[tuple[tuple[float, ...], str]], tables: Sequence[tuple[tuple[float, ...], str]]
) -> tuple[str, tuple[Span, ...]]:
    """Merge text lines and tables in the order of their keys (their top coordinate; on a page in columns,
    their stretch, column and top). Consecutive lines form one block; blocks are separated by a blank line. A
    line level with a table's top (beside it) follows the table."""
    items = sorted([(top, 1, text) for top, text in lines] + [(top, 0, text) for top, text in tables])
    blocks: list[tuple[str, bool]] = []
    for _, is_line, text in items:
        if is_line and blocks and not blocks[-1][1]:
            blocks[-1] = (blocks[-1][0] + "\n" + text, False)
        else:
            blocks.append((text, not is_line))
    parts: list[str] = []
    spans: list[Span] = []
    cursor = 0
    for text, is_table in blocks:
        if parts:
            parts.append(BLOCK_SEPARATOR)
            cursor += len(BLOCK_SEPARATOR)
        if is_table:
            spans.append((cursor, cursor + len(text)))
        parts.append(text)
        cursor += len(text)
    return "".join(parts), tuple(spans)


def _inside_any(obj: dict[str, Any], boxes: Sequence[tuple[float, float, float, float]]) -> bool:
    x = (obj["x0"] + obj["x1"]) / 2
    y = (obj["top"] + obj["bottom"]) / 2
    return any(x0 <= x <= x1 and top <= y <= bottom for x0, top, x1, bottom in boxes)
