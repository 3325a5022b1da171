"""Reading order of a page set in columns (the Federal Register's three, a paper's two).

pdfium's page text runs line by line across the whole page: on a page in columns it interleaves them, and a
sentence becomes half of each ("Costs of Compliance" / "27-1318, Revision 1, dated June 24, Boeing 737 Flight
Standardization" / "2020. Board Report documenting the results of The FAA estimates that this proposed").
Here the page's text rectangles (pdfium's runs of text on one line, about 200 on a page, read in under 1 ms)
show the gutters: vertical bands of at least ``MIN_GUTTER`` points that no text crosses but for a few lines that
span the page (its running head, a table across the columns). The page is then read in bands from the top: a
band of lines that span the gutters is read whole, and between two such bands each column is read in turn,
top to bottom.

Only columns of running text count: each at least ``MIN_COLUMN`` points wide, with at least ``MIN_LINES`` lines
that fill most of its width. A table's columns are narrower or hold short cells, a transcript's line numbers
are a narrow column of their own, and a form's labels do not fill their column: all of those keep the line by
line order, in which a row or a label stays with its values.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np

MIN_GUTTER = 6.0  # points of white between two columns (a word space is 2-3 points)
MIN_COLUMN = 90.0  # points: a newspaper column is about 100 wide, a table's column mostly much less
MIN_LINES = 8  # lines filling at least ``FILLED`` of the column's width, in each column
FILLED = 0.6
CROSSING = 2.0  # points a line must reach past a gutter's line on both sides to span it
SPANNING_SHARE = 0.08  # at most this share of the page's text rectangles may cross a gutter (its head, a table)

Box = tuple[float, float, float, float]  # left, bottom, right, top, in PDF points (y grows upwards)


def _text_rects(rects: Sequence[Box]) -> list[Box]:
    """The rectangles wider than a point: a space or an empty run holds no text to place."""
    return [rect for rect in rects if rect[2] - rect[0] > 1.0]


def _column_bounds(rects: Sequence[Box]) -> list[tuple[float, float]]:
    """The (left, right) of each column of running text on the page, left to right; [] for a page that is not
    set in columns. ``rects`` are the page's text rectangles (``_text_rects``)."""
    if len(rects) < 2 * MIN_LINES:
        return []
    left = min(rect[0] for rect in rects)
    right = max(rect[2] for rect in rects)
    # how many rectangles cover each point across the page
    steps = np.zeros(int(right - left) + 3, dtype=np.int32)
    np.add.at(steps, np.array([int(rect[0] - left) for rect in rects]), 1)
    np.add.at(steps, np.array([int(rect[2] - left) + 1 for rect in rects]), -1)
    coverage = np.cumsum(steps)[:-1].tolist()
    allowed = max(2, int(SPANNING_SHARE * len(rects)))
    gutters: list[float] = []
    start = None
    for x, count in enumerate(coverage):
        if count <= allowed and start is None:
            start = x
        elif count > allowed and start is not None:
            if x - start >= MIN_GUTTER and start > 0:
                gutters.append(left + _emptiest(coverage, start, x))
            start = None
    edges = [left, *gutters, right]
    columns = list(itertools.pairwise(edges))
    # A narrow or sparse column (line numbers, a table's cells) is no column: it joins its neighbour.
    while len(columns) > 1:
        weak = next((i for i, column in enumerate(columns) if not _running_text(column, rects)), None)
        if weak is None:
            return columns
        other = weak + 1 if weak + 1 < len(columns) else weak - 1
        low, high = sorted((weak, other))
        columns[low : high + 1] = [(columns[low][0], columns[high][1])]
    return []


def _emptiest(coverage: list[int], start: int, end: int) -> float:
    """The middle of the longest run of least coverage in ``coverage[start:end]``: the gutter's line, which the
    lines of a column that reach into the gutter do not cross."""
    least = min(coverage[start:end])
    best = (0, start)
    run = 0
    for x in range(start, end + 1):
        if x < end and coverage[x] == least:
            run += 1
            continue
        if run > best[0]:
            best = (run, x - run)
        run = 0
    return best[1] + best[0] / 2


def _running_text(column: tuple[float, float], rects: Sequence[Box]) -> bool:
    left, right = column
    width = right - left
    if width < MIN_COLUMN:
        return False
    filled = sum(
        1 for rect in rects if rect[0] >= left - 1 and rect[2] <= right + 1 and rect[2] - rect[0] >= FILLED * width
    )
    return filled >= MIN_LINES


class ColumnLayout(NamedTuple):
    """A page set in columns: their (left, right), and the (bottom, top) of each band of lines that span the
    gutters (a running head, a table across the columns), from the top; PDF points, y growing upwards."""

    columns: tuple[tuple[float, float], ...]
    bands: tuple[tuple[float, float], ...]

    def spans(self, rect: Box) -> bool:
        return any(rect[0] < g - CROSSING and rect[2] > g + CROSSING for g in self.gutters)

    @property
    def gutters(self) -> list[float]:
        return [column[1] for column in self.columns[:-1]]


def page_layout(rects: Sequence[Box]) -> ColumnLayout | None:
    """The page's columns and spanning bands; None for a page that is not set in columns."""
    rects = _text_rects(rects)
    columns = _column_bounds(rects)
    if not columns:
        return None
    layout = ColumnLayout(tuple(columns), ())
    bands: list[tuple[float, float]] = []
    for rect in sorted(filter(layout.spans, rects), key=lambda rect: -rect[3]):
        if bands and rect[3] >= bands[-1][0] - 1.0:
            bands[-1] = (min(bands[-1][0], rect[1]), bands[-1][1])
        else:
            bands.append((rect[1], rect[3]))
    return layout._replace(bands=tuple(bands))


def reading_order(rects: Sequence[Box], layout: ColumnLayout, read: Callable[[Box], str]) -> str:
    """The page's text in reading order, through ``read`` (the text inside a box, here one text rectangle):
    from the top, each column in turn down to the next band of spanning lines, then that band."""
    # Each rectangle goes to one place: a band (where its middle lies in one) or a column of the stretch
    # above a band (slot 2 * band + column / columns); the text is read in the order of the places.
    places: dict[float, list[Box]] = {}
    bands = layout.bands
    for rect in _text_rects(rects):
        middle = (rect[1] + rect[3]) / 2
        band = next((i for i, (bottom, _) in enumerate(bands) if middle >= bottom), len(bands))
        if (band < len(bands) and middle <= bands[band][1]) or layout.spans(rect):
            place = 2.0 * band + 1
        else:
            place = 2.0 * band + sum(rect[0] + rect[2] > 2 * g for g in layout.gutters) / len(layout.columns)
        places.setdefault(place, []).append(rect)
    return "\n".join(_lines(places[place], read) for place in sorted(places))


def _lines(rects: list[Box], read: Callable[[Box], str]) -> str:
    """The rectangles' text, top to bottom, those on one line (a bullet and its text) joined left to right."""
    lines: list[list[Box]] = []
    for rect in sorted(rects, key=lambda rect: -rect[3]):
        line = lines[-1] if lines else None
        if line is not None and rect[3] > line[0][1] + 0.5 * (line[0][3] - line[0][1]):
            line.append(rect)
        else:
            lines.append([rect])
    return "\n".join(" ".join(read(rect).strip() for rect in sorted(line)) for line in lines)
