"""Haystack components of Parley's answering pipelines."""

from __future__ import annotations

import math
import re
import time
from collections import Counter
from typing import Any

import numpy as np
from haystack import Document, component
from haystack.dataclasses import ChatMessage

from domain.answering import DECLINE
from domain.chunking import split_sentences
from domain.ports import VectorIndex
from projections.queries import ReadModels

_WORD = re.compile(r"\w+", re.UNICODE)
_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "did",
        "do",
        "does",
        "for",
        "from",
        "had",
        "has",
        "have",
        "how",
        "i",
        "in",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "that",
        "the",
        "their",
        "there",
        "this",
        "to",
        "was",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "whom",
        "whose",
        "why",
        "will",
        "with",
        "you",
        "your",
    ]
)


def _terms(text: str) -> list[str]:
    return [word for word in _WORD.findall(text.lower()) if word not in _STOPWORDS]


@component
class QueryEmbedder:
    """Embeds the question with the collection's embedder.

    Usage::

        QueryEmbedder(embedder).run(text="Who wrote it?")["embedding"]  # list[float]
    """

    def __init__(self, embedder: Any) -> None:
        self.embedder = embedder

    @component.output_types(embedding=list[float])
    def run(self, text: str) -> dict[str, Any]:
        return {"embedding": self.embedder.embed([text])[0].tolist()}


@component
class ChunkRetriever:
    """Dense retrieval of a collection's chunks from the vector index, hydrated from the read models.

    Usage::

        ChunkRetriever(index, read_models).run(query_embedding=vec, collection_id=cid, top_k=5)["documents"]
    """

    def __init__(self, index: VectorIndex, read_models: ReadModels) -> None:
        self.index = index
        self.read_models = read_models

    @component.output_types(documents=list[Document], retrieval_time=float)
    def run(
        self, query_embedding: list[float], collection_id: str, top_k: int = 10, min_score: float | None = None
    ) -> dict[str, Any]:
        started = time.perf_counter()
        hits = self.index.query(collection_id, query_embedding, top_k)
        if min_score is not None:
            hits = [hit for hit in hits if hit.score >= min_score]
        rows = self.read_models.chunks_by_position([(hit.document_id, hit.ordinal) for hit in hits])
        documents = []
        for hit in hits:
            row = rows.get((hit.document_id, hit.ordinal))
            if row is None:
                continue  # removed from the read models after the index answered
            documents.append(
                Document(
                    content=row["text"],
                    score=hit.score,
                    meta={
                        "collection_id": row["collection_id"],
                        "document_id": row["document_id"],
                        "document_name": row["document_name"],
                        "chunk_id": row["chunk_id"],
                        "ordinal": row["ordinal"],
                        "pages": row["pages"],
                    },
                )
            )
        return {"documents": documents, "retrieval_time": time.perf_counter() - started}


@component
class ExtractiveGenerator:
    """The built-in offline model: it generates nothing; it selects and stitches context sentences.

    Each sentence of the context chunks is scored against the question by embedding similarity (vectors are
    precomputed at ingestion) plus IDF-weighted term overlap. The best one or two sentences form the answer,
    each followed by the citation marker of its chunk (``[1]`` is the first context chunk). When no sentence
    scores above ``threshold`` the answer starts with exactly ``Not found in the documents.``; with no
    context at all (``llm_only``) it always declines, since it has no knowledge of its own.

    Usage::

        gen = ExtractiveGenerator(embedder)
        gen.run(messages=prompt, question="Who?", documents=docs, question_embedding=vec)["replies"][0].text
    """

    name = "extractive"

    def __init__(self, embedder: Any, threshold: float = 0.45, second_ratio: float = 0.9) -> None:
        self.embedder = embedder
        self.threshold = threshold
        self.second_ratio = second_ratio

    @component.output_types(replies=list[ChatMessage])
    def run(
        self,
        messages: list[ChatMessage],
        question: str,
        documents: list[Document] | None = None,
        question_embedding: list[float] | None = None,
    ) -> dict[str, Any]:
        documents = documents or []
        if not documents:
            text = f"{DECLINE} The extractive model answers only from documents, and none were given."
            return {"replies": [ChatMessage.from_assistant(text, meta={"sentences": []})]}
        candidates = [
            (rank, (document.content or "")[start:end])
            for rank, document in enumerate(documents)
            for start, end in split_sentences(document.content or "")
        ]
        if question_embedding is None:
            question_embedding = self.embedder.embed([question])[0].tolist()
        scores = self._score(question, np.asarray(question_embedding, dtype=np.float32), candidates)
        order = sorted(range(len(candidates)), key=lambda i: -scores[i])
        best = order[0] if order else None
        if best is None or scores[best] < self.threshold:
            closest = documents[0].meta
            text = (
                f"{DECLINE} The closest passage is in {closest.get('document_name')}"
                f" (page {closest.get('pages')}) [1], but it does not answer the question."
            )
            return {"replies": [ChatMessage.from_assistant(text, meta={"sentences": []})]}
        chosen = [best]
        for other in order[1:3]:
            if scores[other] >= self.second_ratio * scores[best] and candidates[other][1] != candidates[best][1]:
                chosen.append(other)
                break
        chosen.sort(key=lambda i: (candidates[i][0], i))  # keep document order for readability
        text = " ".join(f"{candidates[i][1].strip()} [{candidates[i][0] + 1}]" for i in chosen)
        meta = {"sentences": [{"chunk": candidates[i][0], "score": round(scores[i], 4)} for i in chosen]}
        return {"replies": [ChatMessage.from_assistant(text, meta=meta)]}

    def _score(self, question: str, query: np.ndarray, candidates: list[tuple[int, str]]) -> list[float]:
        if not candidates:
            return []
        vectors = self.embedder.embed([sentence for _, sentence in candidates])
        dense = vectors @ query
        sentence_terms = [set(_terms(sentence)) for _, sentence in candidates]
        document_frequency: Counter[str] = Counter(term for terms in sentence_terms for term in terms)
        total = len(candidates)
        question_terms = set(_terms(question))
        idf = {term: math.log(1 + total / (1 + document_frequency[term])) for term in question_terms}
        weight = sum(idf.values()) or 1.0
        scores = []
        for index, terms in enumerate(sentence_terms):
            overlap = sum(idf[term] for term in question_terms & terms) / weight
            scores.append(float(0.6 * dense[index] + 0.4 * overlap))
        return scores
