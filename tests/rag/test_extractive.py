"""The extractive model's tasks with the real MiniLM embedder: support checks, summaries, pseudo-relevance feedback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from haystack import Document

from adapters.minilm import MiniLMEmbedder
from adapters.rag import extractive
from adapters.rag.extractive import ExtractiveGenerator
from adapters.rag.text import stem

CONTEXT = [
    Document(
        content="The Kestrel Point lighthouse was decommissioned in 1987. Its last keeper kept a logbook of ships.",
        meta={"document_name": "kestrel.pdf", "pages": "2", "document_id": "d1", "citation": 1},
    ),
    Document(
        content="Rye bread needs a sourdough starter. The dough rises overnight before baking.",
        meta={"document_name": "rye.txt", "pages": "1", "document_id": "d2", "citation": 2},
    ),
]


@pytest.fixture(scope="module")
def model() -> Iterator[ExtractiveGenerator]:
    embedder = MiniLMEmbedder()
    embedder.warm_up()
    yield ExtractiveGenerator(embedder)


def reflect(model: ExtractiveGenerator, answer: str) -> str:
    reply = model.run(messages=[], task="reflect", answer=answer, documents=CONTEXT)["replies"][0]
    return reply.text or ""


def test_reflection_passes_a_supported_answer(model: ExtractiveGenerator) -> None:
    verdict = reflect(model, "The Kestrel Point lighthouse was decommissioned in 1987. [1]")
    assert "supported (1.00) by [1] kestrel.pdf (page 2)" in verdict
    assert verdict.endswith("Score: 10/10 (1 of 1 sentences supported)")


def test_reflection_flags_a_sentence_that_is_not_in_the_context(model: ExtractiveGenerator) -> None:
    answer = (
        "The Kestrel Point lighthouse was decommissioned in 1987. [1] "
        "It was then converted into a luxury hotel by a Swiss investor."
    )
    verdict = reflect(model, answer)
    lines = verdict.splitlines()
    assert (
        lines[1].startswith('1. "The Kestrel Point lighthouse was decommissioned in 1987."') and "supported" in lines[1]
    )
    assert lines[2].startswith('2. "It was then converted into a luxury hotel by a Swiss investor."')
    assert "NOT SUPPORTED" in lines[2] and "kestrel.pdf" in lines[2]
    assert lines[-1] == "Score: 5/10 (1 of 2 sentences supported)"


def test_reflection_on_a_decline_has_no_claims(model: ExtractiveGenerator) -> None:
    verdict = reflect(model, "Not found in the documents. The closest passage is in rye.txt (page 1) [1], but no.")
    assert "no claim" in verdict and verdict.endswith("Score: 10/10")


def test_reduce_covers_every_document_before_adding_more(model: ExtractiveGenerator) -> None:
    reply = model.run(messages=[], question="Summarize the documents.", task="reduce", documents=CONTEXT)["replies"][0]
    assert {sentence["document_id"] for sentence in reply.meta["sentences"]} == {"d1", "d2"}
    assert all(line.startswith("- ") and line.endswith(("[1]", "[2]")) for line in (reply.text or "").splitlines())


def test_feedback_returns_the_top_sentences_without_declining(model: ExtractiveGenerator) -> None:
    reply = model.run(messages=[], question="Who kept the lighthouse?", task="feedback", documents=CONTEXT)
    text = reply["replies"][0].text or ""
    assert "keeper" in text and not text.startswith("Not found")


def doubt(model: ExtractiveGenerator, question: str) -> float:
    reply = model.run(messages=[], question=question, documents=CONTEXT)["replies"][0]
    return float(reply.meta["signals"]["doubt"])


@pytest.mark.parametrize(
    ("plain", "negated"),
    [
        ("Which lighthouse was decommissioned in 1987?", "Which lighthouse was not decommissioned in 1987?"),
        ("Which lighthouse was decommissioned in 1987?", "Which lighthouse wasn't decommissioned in 1987?"),
        ("Which lighthouse was decommissioned in 1987?", "Which lighthouse wasn\u2019t decommissioned in 1987?"),
        # text tokenised with spaces, as Disfl-QA's questions are
        ("Which lighthouse was decommissioned in 1987 ?", "Which lighthouse wasn ' t decommissioned in 1987 ?"),
    ],
)
def test_a_negation_the_sentence_does_not_make_is_doubted_contracted_or_not(
    model: ExtractiveGenerator, plain: str, negated: str
) -> None:
    assert doubt(model, negated) == pytest.approx(doubt(model, plain) + model.weights.negation)


def test_a_word_ending_in_nt_is_no_negation(model: ExtractiveGenerator) -> None:
    plain = doubt(model, "Which lighthouse was decommissioned in 1987?")
    assert doubt(model, "Which lighthouse at the point was decommissioned in 1987?") == pytest.approx(plain)


def one_page(content: str, name: str) -> list[Document]:
    """A retrieved chunk: one page of a document, the first reference."""
    return [
        Document(
            content=content, meta={"document_name": name, "pages": "1", "document_id": name, "citation": 1}, score=0.9
        )
    ]


def test_the_best_sentence_is_not_doubted_for_the_source_the_question_points_to(model: ExtractiveGenerator) -> None:
    report = one_page(
        "Bureau of Milwaukee Child Welfare 90-Day Report\n\nThe friend of the mother was charged with a felony count "
        "of reckless homicide.",
        "review.pdf",
    )
    asked = "In the Bureau of Milwaukee Child Welfare 90-day report, what was the friend of the mother charged with?"
    plain = "What was the friend of the mother charged with?"
    signals = [
        model.run(messages=[], question=q, documents=report)["replies"][0].meta["signals"] for q in (asked, plain)
    ]
    assert "charged with a felony" in model.run(messages=[], question=asked, documents=report)["replies"][0].text
    # the sentence is read as for the question without its pointer; the context still has to hold the source
    for name in ("missing_salient", "doubt", "coverage", "focus_missing_sentence", "numbers_missing"):
        assert signals[0][name] == signals[1][name], name
    assert signals[0]["missing_salient_context"] == 0.0


def test_how_many_is_answered_by_a_number_of_what_it_counts(model: ExtractiveGenerator) -> None:
    # the summary names the fleet with the question's own words; the count sits in a plainer sentence
    notice = one_page(
        "SUMMARY: The agency proposes to supersede Directive 2018-23-51, which applies to all Model 737-8 and 737-9 "
        "(737 MAX) airplanes of the fleet.\n\nCosts of Compliance\n\nThe agency estimates that this proposed rule "
        "affects 73 airplanes of U.S. registry.",
        "register.pdf",
    )
    question = "How many airplanes of U.S. registry does the agency's proposed 737 MAX directive affect?"
    reply = model.run(messages=[], question=question, documents=notice)["replies"][0]
    assert "73 airplanes" in (reply.text or "").split("[1]")[0]
    # a number the question gives ("737") is no count of airplanes
    assert not extractive._counts("9 (737 MAX) airplanes; 737 airplanes", stem("airplanes"), {"737"})


def test_a_street_address_is_answered_with_a_line_that_has_the_shape_of_one(model: ExtractiveGenerator) -> None:
    office = one_page(
        "Weekly Grain Report Fri, Mar 3, 2023 Harbor County Seed & Feed Market Office\n\n"
        "412 Linden Avenue, Suite 9 Email: office@harborseed.example\n\n"
        "Harbor County Seed & Feed Market Office\n\nPort Ellis, Oregon 97001",
        "grain.pdf",
    )
    question = "What is the street address of the Harbor County Seed & Feed Market Office?"
    reply = model.run(messages=[], question=question, documents=office)["replies"][0]
    assert (reply.text or "").startswith("412 Linden Avenue, Suite 9")
