"""Retrieval for the recipes: the retrieval graph over a collection's indexes, the neighbours ``rag+`` adds, and
every chunk for ``all_data``."""

from __future__ import annotations

import time
from typing import Any

from haystack import Document

from adapters.rag.answer_run import AnswerRun
from adapters.rag.components import chunk_document
from adapters.rag.graphs import retrieval_pipeline, run_pipeline
from domain.answering import AnswerRequest, is_follow_up
from domain.ports import ChunkReads, LexicalIndex, VectorIndex


class Retrieval:
    """Finds the chunks an answer reads, timing the search in the run."""

    def __init__(self, embedder: Any, index: VectorIndex, lexical: LexicalIndex, read_models: ChunkReads) -> None:
        self.read_models = read_models
        self.pipeline = retrieval_pipeline(embedder, index, lexical, read_models)

    @staticmethod
    def query_of(request: AnswerRequest) -> str:
        """What to search with: a follow-up question ("and when was it closed?") with the previous question
        before it, so that the pronoun's subject takes part; the model still answers the question as asked."""
        if request.history and is_follow_up(request.question):
            return f"{request.history[-1].question} {request.question}"
        return request.question

    def retrieve(self, run: AnswerRun, query: str) -> list[Document]:
        request = run.request
        result = run_pipeline(
            self.pipeline,
            {
                "repairer": {"question": query},
                "retriever": {
                    "collection_id": request.collection_id,
                    "top_k": request.rag_max_chunks,
                    "min_score": request.rag_min_chunk_score,
                    "mode": request.retrieval,
                    "fusion": request.fusion,
                    "weight": request.fusion_weight,
                },
            },
            {"query_embedder"},
        )
        run.embeddings[query] = result["query_embedder"]["embedding"]
        run.repaired[query] = result["repairer"]["repaired"]
        run.retrieval_time += result["retriever"]["retrieval_time"]
        run.best_score = result["retriever"]["best_score"]
        documents: list[Document] = result["retriever"]["documents"]
        return documents

    def with_neighbours(self, retrieved: list[Document], radius: int) -> list[Document]:
        """The retrieved chunks and ``radius`` neighbours each side, once each, in document and reading order."""
        scores = {(d.meta["document_id"], int(d.meta["ordinal"])): float(d.score or 0.0) for d in retrieved}
        wanted = {
            (document_id, ordinal + step)
            for document_id, ordinal in scores
            for step in range(-radius, radius + 1)
            if ordinal + step >= 0
        }
        rows = self.read_models.chunks_by_position(sorted(wanted))
        ordered = sorted(rows.values(), key=lambda row: (row.document_name, row.document_id, row.ordinal))
        documents = []
        for row in ordered:
            key = (row.document_id, row.ordinal)
            documents.append(chunk_document(row, scores.get(key, 0.0), neighbour=key not in scores))
        return documents

    def every_chunk(self, run: AnswerRun, limit: int) -> list[Document]:
        """Up to ``limit`` chunks of the run's collection, in document and reading order."""
        assert run.request.collection_id is not None
        started = time.perf_counter()
        rows = self.read_models.collection_chunks(run.request.collection_id, limit)
        run.retrieval_time += time.perf_counter() - started
        return [chunk_document(row, 1.0) for row in rows]
