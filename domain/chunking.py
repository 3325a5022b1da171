"""Token-aware chunking of extracted text: pure functions over a Tokenizer port.

Sentences are packed into chunks of at most ``max_tokens`` tokens (as the embedder counts them, so a chunk
never overflows the embedder's window), and the last sentences of a chunk are carried into the next one up to
``overlap_tokens``. A sentence longer than a whole chunk is cut at token boundaries. Each chunk records the
character span it covers in the document text and the pages it lies on.

With ``keep_tables`` a table (a span a parser marked in ``ParsedPage.tables``) is a chunk of its own, whole
even when it has more than ``max_tokens`` tokens: a table cut in two loses the header that gives its rows
meaning. Text chunks then stop at a table and start again after it, with no overlap across it.
"""

from __future__ import annotations

import bisect
import hashlib
import re
from collections.abc import Sequence

from domain.events import Chunk
from domain.ports import ParsedPage, Tokenizer

PAGE_SEPARATOR = "\n\n"

# A sentence ends at . ! or ? followed by space and an upper-case letter, digit, quote or bracket; or at a
# blank line; each row of a Markdown table is a sentence of its own (so an answer quotes the row, not the
# table). Deliberately simple: it errs towards longer sentences, never splits inside "3.14" or "e.g. x".
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]?\s+(?=[A-Z0-9\"'(\[])|\n\s*\n|\n(?=\|)")
# A full stop after these ends no sentence: an initial ("Lance T. Gant", "Knowles v. Mirzayance"), a title or a
# label ("Dr. Watson", "No. 07-1315", "St. Louis"); in text tokenized with spaces too ("William P . Bell").
ABBREVIATIONS = frozenset(("no", "nos", "mr", "mrs", "ms", "dr", "st", "vs", "inc", "jr", "sr", "esq", "gen", "gov"))
_NO_END = re.compile(r"(?<![^\s(])(?:[A-Za-z]|(?i:" + "|".join(sorted(ABBREVIATIONS)) + r")) ?\.$")
# ... nor a dotted abbreviation within a line ("the U.S. Army"); one that ends a line mostly ends its sentence
# too ("Washington, D.C." above the date of a hearing).
_DOTTED = re.compile(r"(?<![^\s(])(?:[A-Z] ?\. ?)+[A-Z] ?\.$")


def split_sentences(text: str, offset: int = 0) -> list[tuple[int, int]]:
    """Character spans (start, end) of the sentences of ``text``, shifted by ``offset``, without blank ones."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        paragraph = match.group().count("\n") >= 2 or text.startswith("|", match.end())
        before = max(start, match.start() - 12)
        if not paragraph and (
            _NO_END.search(text, before, match.start())
            or ("\n" not in match.group() and _DOTTED.search(text, before, match.start()))
        ):
            continue
        spans.append((start, match.start()))
        start = match.end()
    spans.append((start, len(text)))
    result = []
    for begin, end in spans:
        piece = text[begin:end]
        stripped = piece.strip()
        if stripped:
            lead = len(piece) - len(piece.lstrip())
            result.append((offset + begin + lead, offset + begin + lead + len(stripped)))
    return result


def join_pages(pages: Sequence[ParsedPage]) -> tuple[str, list[tuple[int, int, int]]]:
    """The document text and the (start, end, page number) span of each page within it."""
    parts: list[str] = []
    spans: list[tuple[int, int, int]] = []
    cursor = 0
    for page in pages:
        if parts:
            parts.append(PAGE_SEPARATOR)
            cursor += len(PAGE_SEPARATOR)
        parts.append(page.text)
        spans.append((cursor, cursor + len(page.text), page.number))
        cursor += len(page.text)
    return "".join(parts), spans


def chunk_document(
    pages: Sequence[ParsedPage],
    tokenizer: Tokenizer,
    max_tokens: int,
    overlap_tokens: int,
    by_page: bool = False,
    *,
    keep_tables: bool = False,
) -> list[Chunk]:
    """Cut a document into chunks; with ``by_page`` no chunk crosses a page boundary, with ``keep_tables``
    each table is one chunk, never split nor joined with text."""
    max_tokens = max(8, min(max_tokens, tokenizer.max_tokens))
    overlap_tokens = max(0, min(overlap_tokens, max_tokens // 2))
    text, page_spans = join_pages(pages)
    regions = [(start, end) for start, end, _ in page_spans] if by_page else [(0, len(text))]
    tables = table_spans(pages, page_spans) if keep_tables else []
    spans: list[tuple[int, int, int]] = []  # (start, end, tokens) of each chunk
    for region_start, region_end in regions:
        for start, end, is_table in _segments(region_start, region_end, tables):
            if is_table:
                tokens = len(tokenizer.token_spans(text[start:end]))
                if tokens:
                    spans.append((start, end, tokens))
                continue
            pieces = _pieces(text[start:end], start, tokenizer, max_tokens)
            spans.extend(_pack(pieces, max_tokens, overlap_tokens, [s for s, _, _ in page_spans[1:]]))
    chunks = []
    for ordinal, (start, end, tokens) in enumerate(spans):
        body = text[start:end]
        pages_hit = tuple(number for p_start, p_end, number in page_spans if p_start < end and start < p_end)
        chunks.append(
            Chunk(
                ordinal=ordinal,
                text=body,
                pages=pages_hit or (page_spans[-1][2],),
                start=start,
                end=end,
                content_hash=hashlib.sha256(body.encode()).hexdigest(),
                token_count=tokens,
            )
        )
    return chunks


def table_spans(pages: Sequence[ParsedPage], page_spans: Sequence[tuple[int, int, int]]) -> list[tuple[int, int]]:
    """The tables' character spans in the document text, in order; spans outside their page or overlapping an
    earlier table are ignored rather than trusted."""
    spans: list[tuple[int, int]] = []
    for page, (page_start, _, _) in zip(pages, page_spans, strict=True):
        for start, end in sorted(page.tables):
            if 0 <= start < end <= len(page.text) and (not spans or page_start + start >= spans[-1][1]):
                spans.append((page_start + start, page_start + end))
    return spans


def _segments(start: int, end: int, tables: Sequence[tuple[int, int]]) -> list[tuple[int, int, bool]]:
    """The region [start, end) cut into (start, end, is_table) segments around the tables inside it."""
    segments: list[tuple[int, int, bool]] = []
    cursor = start
    for table_start, table_end in tables:
        if table_start < start or table_end > end:
            continue
        if cursor < table_start:
            segments.append((cursor, table_start, False))
        segments.append((table_start, table_end, True))
        cursor = table_end
    if cursor < end:
        segments.append((cursor, end, False))
    return segments


def _pieces(text: str, offset: int, tokenizer: Tokenizer, max_tokens: int) -> list[tuple[int, int, int]]:
    """Sentences as (start, end, tokens); a sentence over ``max_tokens`` is cut into token windows."""
    pieces = []
    for start, end in split_sentences(text, offset):
        token_spans = tokenizer.token_spans(text[start - offset : end - offset])
        if not token_spans:
            continue
        if len(token_spans) <= max_tokens:
            pieces.append((start, end, len(token_spans)))
            continue
        for first in range(0, len(token_spans), max_tokens):
            window = token_spans[first : first + max_tokens]
            pieces.append((start + window[0][0], start + window[-1][1], len(window)))
    return pieces


def _pack(
    pieces: list[tuple[int, int, int]], max_tokens: int, overlap: int, page_starts: Sequence[int] = ()
) -> list[tuple[int, int, int]]:
    """Pack sentences into chunks. A chunk a quarter full or more ends where a new page begins (with no overlap
    carried over), so that most chunks, and so most citations, name a single page."""
    chunks: list[tuple[int, int, int]] = []
    current: list[tuple[int, int, int]] = []
    tokens = 0
    for piece in pieces:
        if current and tokens * 4 >= max_tokens and _page_starts_between(page_starts, current[-1][1], piece[0]):
            chunks.append((current[0][0], current[-1][1], tokens))
            current, tokens = [], 0
        elif current and tokens + piece[2] > max_tokens:
            chunks.append((current[0][0], current[-1][1], tokens))
            carried: list[tuple[int, int, int]] = []
            carried_tokens = 0
            for previous in reversed(current):
                if carried_tokens + previous[2] > overlap or carried_tokens + previous[2] + piece[2] > max_tokens:
                    break
                carried.insert(0, previous)
                carried_tokens += previous[2]
            current, tokens = carried, carried_tokens
        current.append(piece)
        tokens += piece[2]
    if current:
        chunks.append((current[0][0], current[-1][1], tokens))
    return chunks


def _page_starts_between(page_starts: Sequence[int], end: int, start: int) -> bool:
    """Whether a page begins between the end of one piece and the start of the next."""
    index = bisect.bisect_right(page_starts, end)
    return index < len(page_starts) and page_starts[index] <= start
