"""chunk_document's keep_tables on hand-made pages: a table span is one chunk, whatever surrounds it."""

from __future__ import annotations

from domain.chunking import chunk_document
from domain.ports import ParsedPage, Tokenizer

TABLE = "| Item | Price |\n| --- | --- |\n| Tea | 3 |\n| Cake | 5 |"


def page_with_table(number: int, before: str, after: str) -> ParsedPage:
    text = before + TABLE + after
    return ParsedPage(number, text, tables=((len(before), len(before) + len(TABLE)),))


def test_a_small_table_is_not_merged_with_the_text_around_it(tokenizer: Tokenizer) -> None:
    pages = [page_with_table(1, "Our menu is short.\n\n", "\n\nPrices include tax.")]
    merged = chunk_document(pages, tokenizer, 200, 20)
    kept = chunk_document(pages, tokenizer, 200, 20, keep_tables=True)
    assert len(merged) == 1  # everything fits one chunk when tables are plain text
    assert [chunk.text for chunk in kept] == ["Our menu is short.", TABLE, "Prices include tax."]
    assert [chunk.ordinal for chunk in kept] == [0, 1, 2]


def test_tables_at_the_edges_of_pages_and_documents(tokenizer: Tokenizer) -> None:
    pages = [page_with_table(1, "", ""), page_with_table(2, "Second page.\n\n", "")]
    chunks = chunk_document(pages, tokenizer, 200, 20, keep_tables=True)
    assert [(chunk.text, chunk.pages) for chunk in chunks] == [(TABLE, (1,)), ("Second page.", (2,)), (TABLE, (2,))]


def test_spans_that_do_not_fit_their_page_are_ignored(tokenizer: Tokenizer) -> None:
    page = ParsedPage(1, "Just a sentence.", tables=((5, 500),))
    chunks = chunk_document([page], tokenizer, 200, 20, keep_tables=True)
    assert [chunk.text for chunk in chunks] == ["Just a sentence."]


def test_overlap_does_not_reach_across_a_table(tokenizer: Tokenizer) -> None:
    before = " ".join(f"Sentence number {n} before the table." for n in range(12)) + "\n\n"
    after = "\n\n" + " ".join(f"Sentence number {n} after the table." for n in range(12))
    chunks = chunk_document([page_with_table(1, before, after)], tokenizer, 24, 8, keep_tables=True)
    table = next(chunk for chunk in chunks if chunk.text == TABLE)
    assert all(chunk.end <= table.start or chunk.start >= table.end for chunk in chunks if chunk is not table)
    first_after = next(chunk for chunk in chunks if chunk.start > table.start)
    assert "after the table" in first_after.text and "before" not in first_after.text
