"""The built-in offline model: an extractive reader that answers, summarises and checks support with sentences
it finds in the context, and never writes text of its own."""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Any

import msgspec
import numpy as np
from haystack import Document, component
from haystack.dataclasses import ChatMessage

from adapters.rag.text import CITATION, WORD, content_words
from domain.answering import DECLINE
from domain.chunking import split_sentences

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


TASKS = ("answer", "feedback", "map", "reduce", "reflect")
SUMMARY_SENTENCES = 5  # a reduce keeps at most this many sentences, more only to cover every document (<= 10)
SUPPORTED = 0.85  # cosine similarity at which an answer sentence counts as found in the context


@component
class ExtractiveGenerator:
    """The built-in offline model: it generates nothing; it selects and stitches context sentences.

    It reads the same prompt messages as any chat model, but works from the structured inputs beside them
    (the context documents, the question and its embedding). What each ``task`` does:

    - ``answer``: each sentence of the context chunks is scored against the question (see ``ReaderWeights``):
      embedding similarity to the question as asked and as repaired (sentence vectors are precomputed at
      ingestion), IDF-weighted term overlap, answer-type cues, and the retrieval score of its chunk. The best one
      or two sentences form the answer, each followed by the citation marker of its chunk (``[1]`` is the first
      context chunk). Below the confidence threshold the answer starts with exactly ``Not found in the
      documents.``; with no context at all (``llm_only``) it always declines: it has no knowledge of its own.
    - ``feedback``: HyDE's first pass as pseudo-relevance feedback: the top three sentences, with no threshold,
      stand in for the hypothetical answer it cannot write.
    - ``map``: extractive summarisation of one batch of chunks: the most salient sentence of each chunk (two for
      long chunks), salience being similarity to the question and to the batch's centroid.
    - ``reduce``: the most salient of the mapped sentences, covering every document first (up to ten), without
      near-duplicates, in citation order.
    - ``reflect``: a support check: each sentence of ``answer`` is located in the context documents, with its
      similarity and source, and the verdict is a ``Score: n/10`` line (the share of supported sentences).

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
        question: str = "",
        documents: list[Document] | None = None,
        question_embedding: np.ndarray | None = None,
        repaired_question: str | None = None,
        task: str = "answer",
        answer: str = "",
    ) -> dict[str, Any]:
        documents = documents or []
        if task == "reflect":
            return {"replies": [self._reflect(answer, documents)]}
        if not documents:
            text = f"{DECLINE} The extractive model answers only from documents, and none were given."
            return {"replies": [ChatMessage.from_assistant(text, meta={"sentences": []})]}
        asked = (
            np.asarray(question_embedding, dtype=np.float32)
            if question_embedding is not None
            else self.embedder.embed([question])[0]
        )
        if task in ("map", "reduce"):
            return {"replies": [self._summarise(question, asked, documents, task)]}
        candidates = [
            (rank, float(document.score or 0.0), (document.content or "")[start:end])
            for rank, document in enumerate(documents)
            for start, end in split_sentences(document.content or "")
        ]
        repaired = repaired_question or question
        meant = asked if repaired == question else self.embedder.embed([repaired])[0]
        scores = self._score(repaired, meant, asked, candidates)
        order = sorted(range(len(candidates)), key=lambda i: -scores[i])
        if task == "feedback":
            top = list(dict.fromkeys(candidates[i][2].strip() for i in order))[:3]
            return {"replies": [ChatMessage.from_assistant(" ".join(top), meta={"pseudo_relevance_feedback": True})]}
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

    def _summarise(self, question: str, asked: np.ndarray, documents: list[Document], task: str) -> ChatMessage:
        """Salient sentences: per chunk for ``map``, across the mapped sentences for ``reduce``."""
        items = [
            (int(document.meta.get("citation", rank + 1)), str(document.meta.get("document_id", "")), sentence)
            for rank, document in enumerate(documents)
            for sentence in [(document.content or "")[s:e] for s, e in split_sentences(document.content or "")]
            if sentence.strip()
        ]
        if not items:
            return ChatMessage.from_assistant("", meta={"sentences": []})
        vectors = self.embedder.embed([sentence for _, _, sentence in items])
        centroid = vectors.mean(axis=0)
        centroid = centroid / (np.linalg.norm(centroid) or 1.0)
        wanted = set(content_words(question))
        overlap = [len(wanted & set(content_words(sentence))) / (len(wanted) or 1) for _, _, sentence in items]
        salience = 0.5 * (vectors @ asked) + 0.3 * (vectors @ centroid) + 0.2 * np.asarray(overlap)
        if task == "map":
            chosen = []
            for citation in dict.fromkeys(citation for citation, _, _ in items):
                own = [i for i, item in enumerate(items) if item[0] == citation]
                own.sort(key=lambda i: -salience[i])
                chosen.extend(own[: 2 if len(own) >= 6 else 1])
        else:
            chosen = self._cover(items, vectors, salience)
        chosen.sort(key=lambda i: (items[i][0], i))
        sentences = [
            {
                "citation": items[i][0],
                "document_id": items[i][1],
                "text": " ".join(items[i][2].split()),
                "score": float(salience[i]),
            }
            for i in chosen
        ]
        text = "\n".join(f"- {s['text']} [{s['citation']}]" for s in sentences)
        return ChatMessage.from_assistant(text, meta={"sentences": sentences})

    @staticmethod
    def _cover(items: list[tuple[int, str, str]], vectors: np.ndarray, salience: np.ndarray) -> list[int]:
        """The best sentence of each document first (up to ten documents), then the most salient others, up to
        ``SUMMARY_SENTENCES`` in all, never two near-duplicates."""
        order = sorted(range(len(items)), key=lambda i: -salience[i])
        chosen: list[int] = []

        def fresh(i: int) -> bool:
            return all(float(vectors[i] @ vectors[j]) < 0.9 for j in chosen)

        seen: set[str] = set()
        for i in order:
            if items[i][1] not in seen and len(seen) < 10 and fresh(i):
                seen.add(items[i][1])
                chosen.append(i)
        for i in order:
            if len(chosen) >= SUMMARY_SENTENCES:
                break
            if i not in chosen and fresh(i):
                chosen.append(i)
        return chosen

    def _reflect(self, answer: str, documents: list[Document]) -> ChatMessage:
        """Locates every sentence of ``answer`` in the context; the verdict is the share found."""
        pieces = (CITATION.sub("", answer[s:e]).strip().removeprefix("- ").strip() for s, e in split_sentences(answer))
        # A decline claims nothing: its second sentence only points at the closest passage.
        claims = [] if answer.startswith(DECLINE) else [piece for piece in pieces if len(piece) > 2]
        context = [
            (rank, (document.content or "")[s:e].strip())
            for rank, document in enumerate(documents)
            for s, e in split_sentences(document.content or "")
        ]
        header = (
            "Support check by the extractive model (it cannot judge quality; it looks for each answer sentence"
            " in the context):"
        )
        if not claims:
            text = f"{header}\nThe answer makes no claim to check (it declines).\nScore: 10/10"
            return ChatMessage.from_assistant(text, meta={"claims": 0, "supported": 0})
        lines, supported = [header], 0
        claim_vectors = self.embedder.embed(claims)
        context_vectors = self.embedder.embed([sentence for _, sentence in context]) if context else None
        flat = " ".join(" ".join(sentence.lower().split()) for _, sentence in context)
        for number, claim in enumerate(claims, start=1):
            if context_vectors is None:
                lines.append(f'{number}. "{claim}": NOT SUPPORTED (there is no context)')
                continue
            similarities = context_vectors @ claim_vectors[number - 1]
            best = int(np.argmax(similarities))
            score = 1.0 if " ".join(claim.lower().split()) in flat else float(similarities[best])
            rank, sentence = context[best]
            meta = documents[rank].meta
            source = f"[{rank + 1}] {meta.get('document_name', 'context')} (page {meta.get('pages', '?')})"
            if score >= SUPPORTED:
                supported += 1
                lines.append(f'{number}. "{claim}": supported ({score:.2f}) by {source}')
            else:
                lines.append(f'{number}. "{claim}": NOT SUPPORTED; closest ({score:.2f}) is {source}: "{sentence}"')
        lines.append(
            f"Score: {round(10 * supported / len(claims))}/10 ({supported} of {len(claims)} sentences supported)"
        )
        return ChatMessage.from_assistant("\n".join(lines), meta={"claims": len(claims), "supported": supported})

    def _doubt(self, question: str, sentence: str) -> float:
        """How much to distrust the best sentence: the question names things it does not mention (numbers,
        names), or asks about a negation the sentence does not make. Both are how an unanswerable question
        differs from an answerable one about the same passage."""
        lowered = sentence.lower()
        words = question.split()
        salient = [w for i, w in enumerate(words) if w[:1].isdigit() or (i > 0 and w[:1].isupper())]
        missing = sum(1 for word in salient if word.lower() not in lowered)
        negated = bool(_NEGATIONS & {w.lower() for w in words}) and not (_NEGATIONS & set(WORD.findall(lowered)))
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
        sentence_terms = [set(content_words(sentence)) for _, _, sentence in candidates]
        document_frequency: Counter[str] = Counter(term for terms in sentence_terms for term in terms)
        total = len(candidates)
        question_terms = set(content_words(question))
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
