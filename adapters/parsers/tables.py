"""Tables of a PDF page as Markdown, placed in the page text where they stand.

pdfplumber finds tables by their ruling lines. Each becomes a Markdown table (first row as header); the words
inside a table's box are left out of the running text, so a table's words appear once. Text lines and tables
are ordered top to bottom, and the character span of each table in the page text is returned so the chunker
can keep a table whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pdfplumber.page import Page

Span = tuple[int, int]
BLOCK_SEPARATOR = "\n\n"  # a blank line: Markdown needs it around a table, and the chunker splits there


def page_text(page: Page) -> tuple[str, tuple[Span, ...]]:
    """The page's text in reading order with its tables as Markdown, and the span of each table in it."""
    tables = []
    for table in page.find_tables():
        markdown = markdown_table(table.extract())
        if markdown is not None:
            tables.append((table.bbox, markdown))
    if not tables:
        return (page.extract_text() or "").strip(), ()
    boxes = [bbox for bbox, _ in tables]
    outside = page.filter(lambda obj: obj.get("object_type") != "char" or not _inside_any(obj, boxes))
    lines = [(line["top"], line["text"]) for line in outside.extract_text_lines(strip=True) if line["text"]]
    return assemble(lines, [(bbox[1], markdown) for bbox, markdown in tables])


def assemble(lines: Sequence[tuple[float, str]], tables: Sequence[tuple[float, str]]) -> tuple[str, tuple[Span, ...]]:
    """Merge text lines and tables by their top coordinate. Consecutive lines form one block; blocks are
    separated by a blank line. A line level with a table's top (beside it) follows the table."""
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


def markdown_table(rows: Sequence[Sequence[str | None]]) -> str | None:
    """A Markdown table, or None for what is not worth one (fewer than two rows or columns, or no text):
    a box drawn around a paragraph is found as a 1x1 table and must stay plain text."""
    cells = [[_cell(cell) for cell in row] for row in rows]
    cells = [row for row in cells if any(row)]
    width = max((len(row) for row in cells), default=0)
    cells = [row + [""] * (width - len(row)) for row in cells]
    used_columns = [column for column in range(width) if any(row[column] for row in cells)]
    cells = [[row[column] for column in used_columns] for row in cells]
    if len(cells) < 2 or len(used_columns) < 2:
        return None
    header, *body = cells
    lines = [_row(header), _row(["---"] * len(header))] + [_row(row) for row in body]
    return "\n".join(lines)


def _cell(value: str | None) -> str:
    return " ".join((value or "").split()).replace("|", "\\|")


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _inside_any(obj: dict[str, Any], boxes: Sequence[tuple[float, float, float, float]]) -> bool:
    x = (obj["x0"] + obj["x1"]) / 2
    y = (obj["top"] + obj["bottom"]) / 2
    return any(x0 <= x <= x1 and top <= y <= bottom for x0, top, x1, bottom in boxes)
