"""Row-aware extractive answers with the real MiniLM embedder: the row that holds the question's entities, the
cell of the column it asks for; never a title row; and the learned decline model's arithmetic."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from haystack import Document

from adapters.minilm import MiniLMEmbedder
from adapters.rag import rows
from adapters.rag.decline import FEATURES, DeclineModel, load_model
from adapters.rag.extractive import ExtractiveGenerator, ReaderWeights

TABLE = "\n".join(
    [
        "Firearm Background Checks November - 2015.",
        "State: Illinois; Permit: 87,190; Handgun: 24,412; Long Gun: 17,227; Totals: 134,245.",
        "State: Indiana; Permit: 81,935; Handgun: 25,519; Long Gun: 20,227; Totals: 136,564.",
        "State: Kentucky; Permit: 264,140; Handgun: 12,155; Long Gun: 14,847; Totals: 295,891.",
        "State: Texas; Permit: 33,010; Handgun: 56,941; Long Gun: 44,131; Totals: 141,210.",
    ]
)
LAYOFFS = "\n".join(
    [
        "Notice Date: 10/12/2015; Company: Twitter, Inc.; City: San Francisco; No. Of Employees: 240.",
        "Notice Date: 07/29/2015; Company: Molycorp Minerals LLC; City: Mountain Pass; No. Of Employees: 474.",
        "Notice Date: 07/17/2015; Company: Boeing Company; City: Long Beach; No. Of Employees: 113.",
    ]
)


@pytest.fixture(scope="module")
def model() -> Iterator[ExtractiveGenerator]:
    embedder = MiniLMEmbedder()
    embedder.warm_up()
    yield ExtractiveGenerator(embedder, ReaderWeights(threshold=0.0))  # answer always: these tests are of choice


def answer(model: ExtractiveGenerator, question: str, content: str) -> str:
    documents = [Document(content=content, score=0.9, meta={"document_name": "t.pdf", "pages": "1"})]
    return model.run(messages=[], question=question, documents=documents)["replies"][0].text or ""


def test_a_row_cell_is_answered_in_its_row(model: ExtractiveGenerator) -> None:
    assert answer(model, "How many permit checks did Illinois run in November 2015?", TABLE).startswith(
        "Permit: 87,190 (State: Illinois) [1]"
    )
    assert answer(model, "How many handgun checks did Texas have?", TABLE).startswith("Handgun: 56,941 (State: Texas)")


def test_the_row_must_hold_the_number_or_name_of_the_question(model: ExtractiveGenerator) -> None:
    assert "Mountain Pass" in answer(model, "In which city did Molycorp Minerals LLC lay off 474 workers?", LAYOFFS)
    assert "240" in answer(model, "How many employees did Twitter lay off in San Francisco?", LAYOFFS)


def test_a_title_row_is_never_the_answer(model: ExtractiveGenerator) -> None:
    text = answer(model, "How many permit checks did Kentucky run?", TABLE)
    assert "264,140" in text and "Firearm Background Checks" not in text


def test_rows_parse_into_cells_and_a_cell_is_chosen_by_its_header() -> None:
    cells = rows.parse_row("State: Kentucky; Permit: 264,140; Totals: 295,891.")
    assert cells == [("State", "Kentucky"), ("Permit", "264,140"), ("Totals", "295,891")]
    assert rows.choose_cell(cells, "What were the total checks in Kentucky?", None) == (2, [0])
    assert rows.parse_row("An ordinary sentence; with a semicolon.") is None


def test_the_decline_model_is_a_standardised_logistic_regression() -> None:
    fitted = load_model()
    assert fitted is not None and fitted.features == FEATURES and 0.0 < fitted.cutoff < 1.0
    toy = DeclineModel(features=("best",), mean=(0.5,), scale=(0.1,), coef=(2.0,), intercept=0.0, cutoff=0.5)
    assert toy.probability({"best": 0.5}) == pytest.approx(0.5)
    assert toy.probability({"best": 0.6}) == pytest.approx(1 / (1 + 2.718281828**-2.0))
