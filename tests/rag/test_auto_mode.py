"""``rag_type="auto"``: the choice is a pure function of the question and the collection's size."""

from __future__ import annotations

import pytest

from adapters.rag.auto import CollectionSize, choose_mode


def choose(question: str, collection: CollectionSize | None, **overrides: int) -> tuple[str, str]:
    settings = {"batch_tokens": 1000, "max_llm_calls": 20, "rag_max_chunks": 10, "neighbour_chunks": 1}
    return choose_mode(question, collection, **{**settings, **overrides})


def test_a_session_without_a_collection_asks_the_model_alone() -> None:
    assert choose("Summarize the documents", None) == ("llm_only", "the chat session has no collection")


def test_an_empty_collection_asks_the_model_alone() -> None:
    assert choose("What is it?", CollectionSize(chunks=0, tokens=0)) == ("llm_only", "the collection has no documents")


@pytest.mark.parametrize("question", ["Who built the lighthouse?", "When was the summit held?"])
def test_a_question_about_specific_content_is_retrieved_for(question: str) -> None:
    assert choose(question, CollectionSize(chunks=3, tokens=300)) == ("rag", "a question about specific content")


@pytest.mark.parametrize(
    "question",
    ["Summarise the report", "Give me an overview", "What are the key points?", "tl;dr", "Outline all documents"],
)
def test_a_small_collection_is_summarised_whole(question: str) -> None:
    # 3 chunks of 100 tokens and their headers fill one batch: one map call and the reduce.
    mode, reason = choose(question, CollectionSize(chunks=3, tokens=300))
    assert mode == "all_data"
    assert reason == "the question asks for a summary; all 3 chunks take about 2 calls"


def test_all_data_is_chosen_up_to_half_the_call_limit() -> None:
    # 90 chunks of 84 tokens with their 16-token headers: 9,000 tokens, 9 batches and the reduce = 10 calls.
    assert choose("summary please", CollectionSize(chunks=90, tokens=90 * 84))[0] == "all_data"
    assert choose("summary please", CollectionSize(chunks=100, tokens=100 * 84))[0] == "rag+"


def test_a_large_collection_is_summarised_around_the_retrieved_chunks() -> None:
    # rag+ reads at most 10 chunks with a neighbour each side and 5 more: 35 chunks, 4 batches and the reduce.
    mode, reason = choose("Summarize it", CollectionSize(chunks=1000, tokens=1000 * 84))
    assert mode == "rag+"
    assert reason == "the question asks for a summary; all 1000 chunks would take about 101 calls"


def test_when_even_rag_plus_is_too_dear_a_summary_is_retrieved_for() -> None:
    mode, reason = choose("Summarize it", CollectionSize(chunks=1000, tokens=1000 * 84), max_llm_calls=8)
    assert mode == "rag"
    assert reason == "the question asks for a summary, but even rag+ would take about 5 calls"


def test_rag_plus_never_counts_more_chunks_than_the_collection_has() -> None:
    # 30 chunks take 4 calls whole; rag+ would read the same 30, so with a limit of 6 neither fits half of it.
    assert choose("overview", CollectionSize(chunks=30, tokens=30 * 84), max_llm_calls=6)[0] == "rag"
