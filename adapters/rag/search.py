"""Search without an answer: the chunks the answerer's retrieval graph finds for a query (the ``ChunkSearch``
port), for OpenAI-style ``/v1/search``. The same repair, embedding, dense and BM25 search and fusion as an
answer's retrieval, so a search shows what a question in that collection would read."""

from __future__ import annotations

from adapters.rag.graphs import run_pipeline
from adapters.rag.references import reference
from adapters.rag.retrieval import Retrieval
from domain.events import Reference
from domain.ports import SearchQuery


class HaystackChunkSearch:
    def __init__(self, retrieval: Retrieval) -> None:
        self.retrieval = retrieval

    def search(self, collection_id: str, query: SearchQuery) -> list[Reference]:
        result = run_pipeline(
            self.retrieval.pipeline,
            {
                "repairer": {"question": query.text},
                "retriever": {
                    "collection_id": collection_id,
                    "top_k": query.top_k,
                    "min_score": query.min_score,
                    "mode": query.mode,
                    "fusion": query.fusion,
                    "weight": query.fusion_weight,
                },
            },
            set(),
        )
        return [reference(document) for document in result["retriever"]["documents"]]
