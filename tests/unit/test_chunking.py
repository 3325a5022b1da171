"""Chunking with the real MiniLM tokenizer: sizes, overlap, pages and offsets."""

from __future__ import annotations

import pytest

from adapters.minilm import MiniLMTokenizer
from domain.chunking import chunk_document, join_pages, split_sentences
from domain.ports import ParsedPage


@pytest.fixture(scope="module")
def tokenizer() -> MiniLMTokenizer:
    return MiniLMTokenizer()


def test_sentences_split_on_ends_and_blank_lines_not_on_decimals() -> None:
    text = "Pi is 3.14 roughly. Next one!\n\nA new paragraph e.g. this"
    assert [text[a:b] for a, b in split_sentences(text)] == [
        "Pi is 3.14 roughly.",
        "Next one!",
        "A new paragraph e.g. this",
    ]


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        (
            "Issued on July 31, 2020.\nLance T.\nGant, Director.",
            ["Issued on July 31, 2020.", "Lance T.\nGant, Director."],
        ),
        ("Knowles v. Mirzayance, No. 07-1315. Argued.", ["Knowles v. Mirzayance, No. 07-1315.", "Argued."]),
        ("He joined the U.S. Army. Dr. Watson left.", ["He joined the U.S. Army.", "Dr. Watson left."]),
        ("Washington, D.C.\nTuesday, January 13, 2009", ["Washington, D.C.", "Tuesday, January 13, 2009"]),
        ("It opens at 7:30 a.m. The board meets.", ["It opens at 7:30 a.m.", "The board meets."]),
        ("Plan B.\n\nA new paragraph.", ["Plan B.", "A new paragraph."]),
        ("A course by William P . Bell . It is", ["A course by William P . Bell .", "It is"]),
    ],
)
def test_no_sentence_ends_after_an_initial_or_an_abbreviation(text: str, sentences: list[str]) -> None:
    # a chunk cut after "Lance T." lost the signer's name: the next chunk began with "Gant, Director"
    assert [text[a:b] for a, b in split_sentences(text)] == sentences


def test_chunks_respect_the_token_budget_and_offsets(tokenizer: MiniLMTokenizer) -> None:
    pages = [ParsedPage(1, "The cat sat on the mat. " * 60)]
    chunks = chunk_document(pages, tokenizer, 64, 16)
    text, _ = join_pages(pages)
    assert len(chunks) > 3
    for chunk in chunks:
        assert chunk.token_count <= 64
        assert len(tokenizer.token_spans(chunk.text)) == chunk.token_count
        assert text[chunk.start : chunk.end] == chunk.text
    assert chunks[1].start < chunks[0].end, "consecutive chunks overlap"


def test_no_chunk_exceeds_the_embedder_window(tokenizer: MiniLMTokenizer) -> None:
    chunks = chunk_document([ParsedPage(1, "word " * 2000)], tokenizer, 4000, 0)
    assert max(chunk.token_count for chunk in chunks) <= tokenizer.max_tokens


def test_a_page_boundary_ends_a_chunk_that_has_enough_text(tokenizer: MiniLMTokenizer) -> None:
    pages = [ParsedPage(1, "Alpha beta gamma delta. " * 12), ParsedPage(2, "Second page sentence here. " * 12)]
    chunks = chunk_document(pages, tokenizer, 200, 20)
    assert [chunk.pages for chunk in chunks] == [(1,), (2,)]


def test_small_pages_are_joined_and_cite_every_page(tokenizer: MiniLMTokenizer) -> None:
    pages = [ParsedPage(1, "Slide one."), ParsedPage(2, "Slide two."), ParsedPage(3, "Slide three.")]
    (chunk,) = chunk_document(pages, tokenizer, 200, 20)
    assert chunk.pages == (1, 2, 3)


def test_chunk_by_page_never_crosses_a_page(tokenizer: MiniLMTokenizer) -> None:
    pages = [ParsedPage(1, "Slide one."), ParsedPage(2, "Slide two.")]
    assert [c.pages for c in chunk_document(pages, tokenizer, 200, 20, by_page=True)] == [(1,), (2,)]
