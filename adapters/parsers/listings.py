"""Fixed-width listings: reports printed in columns of a monospaced font, each header underlined by a ruler of
dashes (``TYPE  ITEM  MAKE`` over ``----- ----- -----``), as databases and mainframes print them.

No ruling lines are drawn, so pdfplumber finds no table there, and its text gives each record as loose lines.
The rulers give each column's extent; each word of a record goes to the column it starts in, and the record
becomes one line with its headers, like a table row. When the header is two or more lines, each over a ruler of
its own, a record is as many lines (the firearm listing's ``TYPE ITEM MAKE ...`` then ``SERIAL NUMBER
REPORT/TAG NUMBER ...``): read as text, a serial number is on the line below its make, as near the next
record's make; as a row it is with its make (``TYPE: PISTOL; ...; MAKE: TAURUS FORJAS; ...; SERIAL NUMBER:
SZH77919; ...``).

The listing ends at the first record that does not fit: a line with a word outside every column, or too few
lines. A header of one line over its rulers is left as text: free text below it (a legend, a footer) can fall
inside its columns as well as a record does, where a record of two lines or more, each fitting its own
header line, is no accident. A listing continued on the next page without its header (a report runs on from
page to page in the same columns) keeps the headers of the page before: its records are read from the first
lines of the page that fit them, after at most a few lines of running header.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

Word = dict[str, Any]
_RULER = re.compile(r"[-=_]{3,}")
TOLERANCE = 2.0  # pt: a column starts where its ruler does, give or take


@dataclass(frozen=True)
class Listing:
    """A listing found on a page: its box (x0, top, x1, bottom) and its records as lines of text."""

    bbox: tuple[float, float, float, float]
    text: str
    layouts: tuple[Layout, ...] = ()  # its header lines, for a listing that continues on the next page


@dataclass(frozen=True)
class Layout:
    """One header line over its ruler: the columns' (x0, x1) extents and their names."""

    extents: tuple[tuple[float, float], ...]
    names: tuple[str, ...]


_RULER_LINE = re.compile(r"^[ \t]*[-=_]{3,}([ \t]+[-=_]{3,})+[ \t]*$", re.M)


def has_rulers(text: str) -> bool:
    """Whether a page's plain text has a line of two rulers or more: a listing's header may be above it."""
    return _RULER_LINE.search(text) is not None


def may_hold_listing(chars: Sequence[dict[str, Any]]) -> bool:
    """A cheap first look: rulers need dashes (a listing of k columns has at least 3k of them)."""
    return sum(1 for char in chars if char["text"] in "-=_") >= 12


RUNNING_HEADER_LINES = 3  # lines above a continued listing's first record on its page (a title, a page number)


def find_listings(
    lines: Sequence[Sequence[Word]],
    render: Callable[[Sequence[str], Sequence[str]], str],
    continued: Sequence[Layout] = (),
) -> list[Listing]:
    """The listings among a page's text ``lines`` (each a list of pdfplumber words in reading order, top to
    bottom); ``render(headers, values)`` writes one record as a line of text. ``continued``: the header lines
    of a listing the page before ended with, whose records may go on at the top of this page."""
    listings: list[Listing] = []
    index = 0
    if continued:
        for start in range(min(RUNNING_HEADER_LINES + 1, len(lines))):
            end, records = _records(lines, start, continued, render, strict=True)
            if records:
                listings.append(Listing(_bbox(lines[start:end]), "\n".join(records), tuple(continued)))
                index = end
                break
    while index < len(lines):
        layouts = _layouts_at(lines, index)
        if len(layouts) < 2:
            index += 1
            continue
        start = index
        index, records = _records(lines, index + 2 * len(layouts), layouts, render)
        if records:
            listings.append(Listing(_bbox(lines[start:index]), "\n".join(records), tuple(layouts)))
    return listings


def _records(
    lines: Sequence[Sequence[Word]],
    index: int,
    layouts: Sequence[Layout],
    render: Callable[[Sequence[str], Sequence[str]], str],
    strict: bool = False,
) -> tuple[int, list[str]]:
    """The records from ``lines[index]`` on, until one does not fit: where they end, and each as text. ``strict``
    (no header just above to vouch for them): each value starts where its column does."""
    headers = [name for layout in layouts for name in layout.names]
    records: list[str] = []
    fit = _fit_aligned if strict else _fit
    while index + len(layouts) <= len(lines):
        fitted = [fit(lines[index + offset], layout) for offset, layout in enumerate(layouts)]
        cells = [line for line in fitted if line is not None]
        if len(cells) < len(layouts) or len(cells[0]) < 2:
            break
        values = [
            line.get(column, "")
            for line, layout in zip(cells, layouts, strict=True)
            for column in range(len(layout.names))
        ]
        records.append(render(headers, values))
        index += len(layouts)
    return index, records


def _bbox(lines: Sequence[Sequence[Word]]) -> tuple[float, float, float, float]:
    words = [word for line in lines for word in line]
    return (
        min(word["x0"] for word in words),
        min(word["top"] for word in words),
        max(word["x1"] for word in words),
        max(word["bottom"] for word in words),
    )


def _layouts_at(lines: Sequence[Sequence[Word]], index: int) -> list[Layout]:
    """The header lines over rulers that start at ``lines[index]``, in order."""
    layouts: list[Layout] = []
    while index + 1 < len(lines):
        layout = _layout(lines[index], lines[index + 1])
        if layout is None:
            break
        layouts.append(layout)
        index += 2
    return layouts


def _layout(header: Sequence[Word], ruler: Sequence[Word]) -> Layout | None:
    if len(ruler) < 2 or not all(_RULER.fullmatch(word["text"]) for word in ruler):
        return None
    if any(_RULER.fullmatch(word["text"]) for word in header):
        return None
    extents = tuple((word["x0"], word["x1"]) for word in ruler)
    names: list[list[str]] = [[] for _ in extents]
    for word in header:
        column = _column(word["x0"], extents)
        if column is None:
            return None  # a header word outside every ruler: not a header
        names[column].append(word["text"])
    if sum(1 for name in names if name) < 2:
        return None
    return Layout(extents, tuple(" ".join(name) for name in names))


def _fit(line: Sequence[Word], layout: Layout) -> dict[int, str] | None:
    """The line's words by column, or None when a word starts outside every column and does not run on from
    the word before it (a value longer than its ruler runs into the gap after it)."""
    cells: dict[int, list[str]] = {}
    previous: tuple[int, float] | None = None  # the last word's column and right edge
    for word in line:
        column = _column(word["x0"], layout.extents)
        if column is None:
            space = (word["x1"] - word["x0"]) / max(1, len(word["text"]))  # a monospaced letter's width
            if previous is None or word["x0"] - previous[1] > 1.5 * space:
                return None
            column = previous[0]
        cells.setdefault(column, []).append(word["text"])
        previous = (column, word["x1"])
    return {column: " ".join(texts) for column, texts in cells.items()}


def _fit_aligned(line: Sequence[Word], layout: Layout) -> dict[int, str] | None:
    """The line's words by column when it reads as a record without a header above it: each column's value
    starts at the column's left edge, where the words of monospaced prose or a title fall anywhere."""
    cells = _fit(line, layout)
    if cells is None:
        return None
    starts = [left for left, _ in layout.extents]
    for column in cells:
        first = next(word for word in line if _column(word["x0"], layout.extents) == column)
        if abs(first["x0"] - starts[column]) > TOLERANCE:
            return None
    return cells


def _column(x0: float, extents: Sequence[tuple[float, float]]) -> int | None:
    for column, (left, right) in enumerate(extents):
        if left - TOLERANCE <= x0 <= right + TOLERANCE:
            return column
    return None
