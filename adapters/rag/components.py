"""Haystack components of Parley's answering pipelines."""

from __future__ import annotations

import math
import re
import time
from collections import Counter
from typing import Any

import msgspec
import numpy as np
from haystack import Document, component
from haystack.components.joiners import DocumentJoiner
from haystack.dataclasses import ChatMessage
from jinja2.sandbox import SandboxedEnvironment

from adapters.rag.disfluency import repair
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


_NEGATIONS = frozenset({"not", "never", "no", "none", "neither", "nor", "without"})
_TIME_QUESTION = re.compile(r"\b(when|what year|which year|what century|what decade|what date|what month)\b", re.I)
_COUNT_QUESTION = re.compile(
    r"\bhow (many|much|long|far|old|large|big|high|tall|often)\b|\bwhat (percentage|percent|number|amount)\b", re.I
)
_PERSON_QUESTION = re.compile(r"\b(who|whom|whose)\b", re.I)
_PLACE_QUESTION = re.compile(r"\bwhere\b", re.I)
_TIME = re.compile(
    r"\b(1\d{3}|20\d{2}|\d{1,2}(st|nd|rd|th) century|january|february|march|april|may|june|july|august|"
    r"september|october|november|december|bc|ad|centur(y|ies)|decade)\b",
    re.I,
)
_COUNT = re.compile(r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|hundred|thousand|million|billion)\b", re.I)
_NAME = re.compile(r"(?<!^)(?<![.!?] )\b[A-Z][a-z]+")


def _answer_type(question: str) -> str | None:
    """The kind of answer a question asks for, when its wording says so."""
    if _TIME_QUESTION.search(question):
        return "time"
    if _COUNT_QUESTION.search(question):
        return "count"
    if _PERSON_QUESTION.search(question):
        return "name"
    if _PLACE_QUESTION.search(question):
        return "name"
    return None


def _has_answer_type(kind: str, sentence: str, question_terms: set[str]) -> bool:
    if kind == "time":
        return bool(_TIME.search(sentence))
    if kind == "count":
        return bool(_COUNT.search(sentence))
    return any(name.lower() not in question_terms for name in _NAME.findall(sentence))


@component
class QuestionRepairer:
    """Rebuilds a disfluent question from its correction ("when was or actually where was X" -> "where was X").

    Usage::

        QuestionRepairer().run(question="Who or rather when was it built?")["question"]  # "when was it built?"
    """

    @component.output_types(question=str)
    def run(self, question: str) -> dict[str, Any]:
        return {"question": repair(question)}


@component
class PromptAssembler:
    """Renders the prompt from Jinja2 templates compiled once, in Jinja's sandbox.

    The h2oGPTe prompt fields (system prompt, pre- and post-query text) and the question are template
    *variables*: whatever a user writes in them is inserted as plain text and never rendered as a template.

    Usage::

        PromptAssembler().run(question="Why?", documents=docs, pre_prompt_query="...", prompt_query="...")
    """

    def __init__(self, system_template: str, user_template: str) -> None:
        environment = SandboxedEnvironment(autoescape=False, keep_trailing_newline=True)
        self.system = environment.from_string(system_template)
        self.user = environment.from_string(user_template)

    @component.output_types(prompt=list[ChatMessage])
    def run(
        self,
        question: str,
        documents: list[Document] | None = None,
        system_prompt: str | None = None,
        pre_prompt_query: str = "",
        prompt_query: str = "",
        history: list[dict[str, str]] | None = None,
    ) -> dict[str, Any]:
        messages = []
        if system_prompt:
            messages.append(ChatMessage.from_system(self.system.render(system_prompt=system_prompt)))
        for turn in history or []:
            messages.append(ChatMessage.from_user(turn["question"]))
            messages.append(ChatMessage.from_assistant(turn["answer"]))
        user = self.user.render(
            question=question, documents=documents or [], pre_prompt_query=pre_prompt_query, prompt_query=prompt_query
        )
        messages.append(ChatMessage.from_user(user.strip()))
        return {"prompt": messages}


@component
class QueryEmbedder:
    """Embeds the question with the collection's embedder.

    Usage::

        QueryEmbedder(embedder).run(text="Who wrote it?")["embedding"]  # (384,) float32 array
    """

    def __init__(self, embedder: Any) -> None:
        self.embedder = embedder

    # An array, not list[float]: the pipeline deep-copies every input, and 384 floats cost 384 copies.
    @component.output_types(embedding=np.ndarray)
    def run(self, text: str) -> dict[str, Any]:
        return {"embedding": self.embedder.embed([text])[0]}


CANDIDATES = 50  # each retriever's pool before fusion


@component
class HybridRetriever:
    """Dense (vector index) and lexical (BM25 over the read models) retrieval of a collection's chunks, fused.

    ``fusion="score"`` min-max normalises each retriever's top 50 and adds them, weighted (``weight`` is the
    dense share); ``fusion="rrf"`` is reciprocal rank fusion. The fused list is cut to ``top_k`` chunks, widened
    until it spans ``min_documents`` distinct documents when the collection has them, and hydrated from the
    read models.

    Usage::

        retriever = HybridRetriever(index, read_models)
        retriever.run(query="who?", query_embedding=vec, collection_id=cid, top_k=5)["documents"]
    """

    def __init__(self, index: VectorIndex, read_models: ReadModels) -> None:
        self.index = index
        self.read_models = read_models
        self._joiners = {
            "score": DocumentJoiner(join_mode="merge", sort_by_score=True),
            "rrf": DocumentJoiner(join_mode="reciprocal_rank_fusion", sort_by_score=True),
        }

    @component.output_types(documents=list[Document], retrieval_time=float)
    def run(
        self,
        query: str,
        query_embedding: np.ndarray,
        collection_id: str,
        top_k: int = 10,
        min_score: float | None = None,
        mode: str = "hybrid",
        fusion: str = "score",
        weight: float = 0.5,
        min_documents: int = 5,
    ) -> dict[str, Any]:
        started = time.perf_counter()
        lists: list[list[Document]] = []
        weights: list[float] = []
        if mode in ("hybrid", "dense"):
            hits = self.index.query(collection_id, query_embedding, CANDIDATES)
            lists.append(_normalised([(h.document_id, h.ordinal, h.score) for h in hits], fusion == "score"))
            weights.append(weight)
        if mode in ("hybrid", "bm25"):
            hits_bm25 = self.read_models.bm25(collection_id, list(dict.fromkeys(_terms(query))), CANDIDATES)
            lists.append(_normalised(hits_bm25, fusion == "score"))
            weights.append(1.0 - weight if mode == "hybrid" else 1.0)
        if len(lists) == 1:
            fused = lists[0]
        else:
            joiner = self._joiners[fusion]
            joiner.weights = weights
            fused = joiner.run(documents=lists)["documents"]
        if min_score is not None:
            fused = [document for document in fused if (document.score or 0.0) >= min_score]
        chosen = _widen_to_documents(fused, top_k, min_documents)
        rows = self.read_models.chunks_by_position([(d.meta["document_id"], d.meta["ordinal"]) for d in chosen])
        documents = []
        for candidate in chosen:
            row = rows.get((candidate.meta["document_id"], candidate.meta["ordinal"]))
            if row is None:
                continue  # removed from the read models after the index answered
            documents.append(
                Document(
                    id=candidate.id,
                    content=row["text"],
                    score=candidate.score,
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


def _normalised(hits: list[tuple[str, int, float]], min_max: bool) -> list[Document]:
    """Hits as bare Documents (id = document:ordinal), scores min-max scaled to 0..1 when asked."""
    if not hits:
        return []
    scores = [score for _, _, score in hits]
    low, high = min(scores), max(scores)
    span = high - low
    return [
        Document(
            id=f"{document_id}:{ordinal}",
            score=((score - low) / span if span > 0 else 1.0) if min_max else score,
            meta={"document_id": document_id, "ordinal": ordinal},
        )
        for document_id, ordinal, score in hits
    ]


def _widen_to_documents(ranked: list[Document], top_k: int, min_documents: int) -> list[Document]:
    """The first ``top_k`` chunks, plus the next best chunks of unseen documents until ``min_documents``."""
    chosen = ranked[:top_k]
    seen = {document.meta["document_id"] for document in chosen}
    for document in ranked[top_k:]:
        if len(seen) >= min_documents:
            break
        if document.meta["document_id"] not in seen:
            chosen.append(document)
            seen.add(document.meta["document_id"])
    return chosen


class ReaderWeights(msgspec.Struct, frozen=True):
    """How the extractive reader scores a context sentence, and when it declines.

    Chosen on the Disfl-QA dev questions (``bench/tune_reader.py``): with these values 86% of answerable
    questions are answered, 82% of those answers contain a gold span, and 32% of unanswerable questions are
    declined. The threshold assumes score fusion (chunk scores in 0..1).
    """

    dense: float = 0.5  # cosine similarity to the repaired question
    dense_original: float = 0.2  # cosine similarity to the question as asked
    overlap: float = 0.5  # IDF-weighted share of the question's terms in the sentence
    answer_type: float = 0.02  # the sentence holds what the question asks for (a date for "when", ...)
    restatement: float = 0.08  # penalty: the sentence only repeats the question's words
    chunk_score: float = 0.3  # the retrieval score of the sentence's chunk
    chunk_rank: float = 0.01  # penalty per rank of the sentence's chunk
    missing_name: float = 0.1  # doubt per number or name of the question missing from the sentence (at most 2)
    negation: float = 0.3  # doubt when the question negates and the sentence does not
    threshold: float = 0.746  # decline below this confidence
    second_ratio: float = 0.9  # add the runner-up sentence when it scores this close to the best


@component
class ExtractiveGenerator:
    """The built-in offline model: it generates nothing; it selects and stitches context sentences.

    Each sentence of the context chunks is scored against the question (see ``ReaderWeights``): embedding
    similarity to the question as asked and as repaired (sentence vectors are precomputed at ingestion),
    IDF-weighted term overlap, answer-type cues, and the retrieval score of its chunk. The best one or two
    sentences form the answer, each followed by the citation marker of its chunk (``[1]`` is the first context
    chunk). When the best sentence's confidence is below the threshold the answer starts with exactly
    ``Not found in the documents.``; with no context at all (``llm_only``) it always declines, since it has no
    knowledge of its own.

    Usage::

        gen = ExtractiveGenerator(embedder)
        gen.run(messages=prompt, question="Who?", documents=docs, question_embedding=vec)["replies"][0].text
    """

    name = "extractive"

    def __init__(self, embedder: Any, weights: ReaderWeights | None = None) -> None:
        self.embedder = embedder
        self.weights = weights or ReaderWeights()

    @component.output_types(replies=list[ChatMessage])
    def run(
        self,
        messages: list[ChatMessage],
        question: str,
        documents: list[Document] | None = None,
        question_embedding: np.ndarray | None = None,
        repaired_question: str | None = None,
    ) -> dict[str, Any]:
        documents = documents or []
        if not documents:
            text = f"{DECLINE} The extractive model answers only from documents, and none were given."
            return {"replies": [ChatMessage.from_assistant(text, meta={"sentences": []})]}
        candidates = [
            (rank, float(document.score or 0.0), (document.content or "")[start:end])
            for rank, document in enumerate(documents)
            for start, end in split_sentences(document.content or "")
        ]
        repaired = repaired_question or question
        asked = (
            np.asarray(question_embedding, dtype=np.float32)
            if question_embedding is not None
            else self.embedder.embed([question])[0]
        )
        meant = asked if repaired == question else self.embedder.embed([repaired])[0]
        scores = self._score(repaired, meant, asked, candidates)
        order = sorted(range(len(candidates)), key=lambda i: -scores[i])
        best = order[0] if order else None
        best_score = scores[best] if best is not None else 0.0
        confidence = best_score - self._doubt(repaired, candidates[best][2]) if best is not None else 0.0
        if best is None or confidence < self.weights.threshold:
            closest = documents[0].meta
            text = (
                f"{DECLINE} The closest passage is in {closest.get('document_name')}"
                f" (page {closest.get('pages')}) [1], but it does not answer the question."
            )
            meta = {"sentences": [], "best_score": best_score, "confidence": confidence}
            return {"replies": [ChatMessage.from_assistant(text, meta=meta)]}
        chosen = [best]
        for other in order[1:3]:
            close = scores[other] >= self.weights.second_ratio * scores[best]
            if close and candidates[other][2] != candidates[best][2]:
                chosen.append(other)
                break
        chosen.sort(key=lambda i: (candidates[i][0], i))  # keep document order for readability
        text = " ".join(f"{candidates[i][2].strip()} [{candidates[i][0] + 1}]" for i in chosen)
        meta = {
            "sentences": [{"chunk": candidates[i][0], "score": round(scores[i], 4)} for i in chosen],
            "best_score": best_score,
            "confidence": confidence,
        }
        return {"replies": [ChatMessage.from_assistant(text, meta=meta)]}

    def _doubt(self, question: str, sentence: str) -> float:
        """How much to distrust the best sentence: the question names things it does not mention (numbers,
        names), or asks about a negation the sentence does not make. Both are how an unanswerable question
        differs from an answerable one about the same passage."""
        lowered = sentence.lower()
        words = question.split()
        salient = [w for i, w in enumerate(words) if w[:1].isdigit() or (i > 0 and w[:1].isupper())]
        missing = sum(1 for word in salient if word.lower() not in lowered)
        negated = bool(_NEGATIONS & {w.lower() for w in words}) and not (_NEGATIONS & set(_WORD.findall(lowered)))
        return self.weights.missing_name * min(missing, 2) + self.weights.negation * negated

    def _score(
        self, question: str, meant: np.ndarray, asked: np.ndarray, candidates: list[tuple[int, float, str]]
    ) -> list[float]:
        if not candidates:
            return []
        w = self.weights
        vectors = self.embedder.embed([sentence for _, _, sentence in candidates])
        dense = vectors @ meant
        dense_asked = dense if asked is meant else vectors @ asked
        sentence_terms = [set(_terms(sentence)) for _, _, sentence in candidates]
        document_frequency: Counter[str] = Counter(term for terms in sentence_terms for term in terms)
        total = len(candidates)
        question_terms = set(_terms(question))
        idf = {term: math.log(1 + total / (1 + document_frequency[term])) for term in question_terms}
        weight = sum(idf.values()) or 1.0
        wants = _answer_type(question)
        scores = []
        for index, terms in enumerate(sentence_terms):
            rank, chunk_score, sentence = candidates[index]
            overlap = sum(idf[term] for term in question_terms & terms) / weight
            cue = w.answer_type if wants and _has_answer_type(wants, sentence, question_terms) else 0.0
            restates = 0.0 if terms - question_terms else w.restatement
            scores.append(
                float(
                    w.dense * dense[index]
                    + w.dense_original * dense_asked[index]
                    + w.overlap * overlap
                    + cue
                    - restates
                    + w.chunk_score * chunk_score
                    - w.chunk_rank * rank
                )
            )
        return scores
