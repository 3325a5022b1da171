"""Table rows for the extractive reader: a row as the PDF parser writes it (``State: Kentucky; Permit: 264,140;
Totals: 295,891.``) is parsed into (header, value) cells, and the cell a question asks for is chosen: the row
holds the question's entities in some cells, and the wanted cell is the one whose header the question names
(and whose value is the kind of thing asked: a number for "how many", a name for "who")."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from adapters.rag.text import content_words, find_word

_PAIR = re.compile(r"^([^:;]{1,80}): (.+)$")
_NUMERIC = re.compile(r"^[-+(]?[$€£]?\d[\d,. ]*%?\)?$")


def parse_row(sentence: str) -> list[tuple[str, str]] | None:
    """The (header, value) cells of a table row, or None when ``sentence`` is not one (two cells at least)."""
    text = sentence.strip()
    if text.endswith("."):
        text = text[:-1]
    if text.count("; ") < 1:
        return None
    cells = []
    for part in text.split("; "):
        match = _PAIR.match(part.strip())
        if match is None:
            return None
        cells.append((match.group(1).strip(), match.group(2).strip()))
    return cells if len(cells) >= 2 else None


def _stem(word: str) -> str:
    return word[:5]


# Header words that name what a question's wording asks for, when it does not name the column itself.
_ASKED_FOR = (
    (re.compile(r"\bhow much\b|\bprice\b|\bcost\b", re.I), ("amount", "price", "cost", "total", "value", "fare")),
    (re.compile(r"\bhow many\b|\bnumber of\b", re.I), ("number", "no", "total", "count")),
    (re.compile(r"\bwho\b|\bwhom\b", re.I), ("name", "payee", "candidate", "person")),
    (re.compile(r"\bwhere\b|\bcity\b", re.I), ("city", "location", "place", "address")),
    (re.compile(r"\bwhen\b|\bdate\b", re.I), ("date", "posted", "effective")),
    (re.compile(r"\b(company|agency|employer)\b", re.I), ("company", "agency", "employer", "payee", "name")),
)


def choose_cell(
    cells: Sequence[tuple[str, str]], question: str, fits: Callable[[str], bool] | None
) -> tuple[int, list[int]] | None:
    """(the wanted cell, the cells that hold the question's entities), or None when no header is asked for."""
    wanted = {_stem(word) for word in content_words(question)}
    for cue, headers in _ASKED_FOR:
        if cue.search(question):
            wanted |= {_stem(word) for word in headers}
    lowered = question.lower()
    entity = [i for i, (header, value) in enumerate(cells) if _named(value, lowered) or _matches(value, header, wanted)]
    best, best_score = None, 0.0
    for index, (header, value) in enumerate(cells):
        if index in entity or not value:
            continue
        header_words = {_stem(word) for word in content_words(header)}
        if not header_words:
            continue
        score = len(header_words & wanted) / len(header_words)
        score += 0.01 * len(header_words & wanted)  # "Pre-Pawn Handgun" over "Handgun" when both are asked
        if fits is not None and not fits(value):
            continue
        if score > best_score:
            best, best_score = index, score
    if best is None or best_score < 0.3:
        return None  # the question names no column of this row
    return best, entity


def _named(value: str, question: str) -> bool:
    """The question names this value as a whole ("Illinois", "474"), not as part of another ("0" in "2015")."""
    value = value.lower()
    return len(value) >= 2 and find_word(question, value) >= 0


def _matches(value: str, header: str, wanted: set[str]) -> bool:
    """Most words of the value are the question's, leaving out those that repeat its header: "Shelf 5" under
    "Shelf" is the answer to "on which shelf", not an entity the question names."""
    words = {_stem(word) for word in content_words(value)} - {_stem(word) for word in content_words(header)}
    return bool(words) and len(words & wanted) / len(words) >= 0.5 and not _NUMERIC.match(value)


def cell_answer(cells: Sequence[tuple[str, str]], chosen: int, entity: Sequence[int]) -> str:
    """The wanted cell first, then the cells that identify the row: ``Permit: 87,190 (State / Territory:
    Illinois)``."""
    header, value = cells[chosen]
    keys = "; ".join(f"{cells[i][0]}: {cells[i][1]}" for i in entity if i != chosen)
    return f"{header}: {value} ({keys})" if keys else f"{header}: {value}"


def is_numeric(value: str) -> bool:
    return bool(_NUMERIC.match(value.strip()))
