"""The Haystack graphs of an answer: every component connected, the retrieval graph's outputs as the recipes read
them (real MiniLM embedder, embedded Chroma, SQLite read models)."""

from __future__ import annotations

from pathlib import Path

import pytest
from haystack import Pipeline

from adapters.minilm import MiniLMEmbedder
from adapters.rag.extractive import ExtractiveGenerator
from adapters.rag.graphs import generation_pipeline, retrieval_pipeline
from api.bootstrap import read_side_of, vector_index_of
from api.settings import Settings


@pytest.fixture(scope="module")
def embedder() -> MiniLMEmbedder:
    embedder = MiniLMEmbedder()
    embedder.warm_up()
    return embedder


@pytest.fixture
def retrieval(tmp_path: Path, embedder: MiniLMEmbedder) -> Pipeline:
    settings = Settings(data_dir=tmp_path)
    read_side = read_side_of(settings)
    return retrieval_pipeline(embedder, vector_index_of(settings), read_side.lexical, read_side.queries)


def unconnected(pipeline: Pipeline) -> list[str]:
    return [name for name in pipeline.graph.nodes if pipeline.graph.degree(name) == 0]


def test_every_component_of_the_retrieval_graph_is_connected(retrieval: Pipeline) -> None:
    assert unconnected(retrieval) == []
    assert set(retrieval.graph.successors("repairer")) == {"query_embedder", "retriever"}


def test_every_component_of_the_generation_graph_is_connected(embedder: MiniLMEmbedder) -> None:
    assert unconnected(generation_pipeline(ExtractiveGenerator(embedder))) == []


def test_retrieval_gives_the_repaired_question_and_the_embedding_beside_the_chunks(retrieval: Pipeline) -> None:
    result = retrieval.run(
        {"repairer": {"question": "Who or rather when was it built?"}, "retriever": {"collection_id": "empty"}},
        include_outputs_from={"query_embedder"},
    )
    assert result["repairer"] == {"repaired": "when was it built?"}
    assert result["query_embedder"]["embedding"].shape == (384,)
    assert result["retriever"]["documents"] == []
