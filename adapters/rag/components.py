"""Haystack components of Parley's answering pipelines."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from haystack import Document, component
from haystack.components.joiners import DocumentJoiner
from haystack.dataclasses import ChatMessage
from jinja2 import Template
from jinja2.sandbox import SandboxedEnvironment

from adapters.rag import prompts
from adapters.rag.chat_template import SandboxedChatTemplates
from adapters.rag.disfluency import repair
from adapters.rag.text import content_words
from domain.ports import ChunkReads, LexicalIndex, VectorIndex
from domain.views import ChunkView


@component
class QuestionRepairer:
    """Rebuilds a disfluent question from its correction ("when was or actually where was X" -> "where was X").

    The entry of the retrieval graph: it hands the question on as asked (``asked``, what retrieval searches with)
    and gives the repaired one (``repaired``, what the extractive reader also scores sentences against).

    Usage::

        QuestionRepairer().run(question="Who or rather when was it built?")["repaired"]  # "when was it built?"
    """

    @component.output_types(asked=str, repaired=str)
    def run(self, question: str) -> dict[str, Any]:
        return {"asked": question, "repaired": repair(question)}


MAX_COMPILED_TEMPLATES = 256  # per assembler; the built-in templates are five texts


@component
class PromptAssembler:
    """Renders the chat messages of one model call from Jinja2 templates, in Jinja's sandbox.

    ``template`` (a ``PromptTemplate``, the built-in one when None) is given at run time, so each answer can be
    made with a stored template; each distinct template text is compiled once. ``task`` picks its user template
    (see ``adapters.rag.prompts``); the h2oGPTe prompt fields and the question are template *variables*, inserted
    as plain text and never rendered as templates themselves. Earlier turns come before the question for the tasks
    that converse (``answer``, ``hyde``).

    Usage::

        PromptAssembler().run(task="answer", question="Why?", documents=docs, pre_prompt_query="...")["prompt"]
    """

    def __init__(self) -> None:
        self.environment = SandboxedEnvironment(autoescape=False, keep_trailing_newline=True)
        self._compiled: dict[str, Template] = {}
        self.chat_templates = SandboxedChatTemplates()

    def _compile(self, source: str) -> Template:
        compiled = self._compiled.get(source)
        if compiled is None:
            if len(self._compiled) >= MAX_COMPILED_TEMPLATES:
                self._compiled.clear()  # stored templates come and go by the version: forget the old ones
            compiled = self._compiled[source] = self.environment.from_string(source)
        return compiled

    @component.output_types(prompt=list[ChatMessage])
    def run(
        self,
        question: str,
        task: str = "answer",
        documents: list[Document] | None = None,
        system_prompt: str | None = None,
        pre_prompt_query: str = "",
        prompt_query: str = "",
        pre_prompt_summary: str = "",
        prompt_summary: str = "",
        hyde_extension: str = "",
        history: list[dict[str, str]] | None = None,
        template: prompts.PromptTemplate | None = None,
        collection: dict[str, str] | None = None,
        now: str = "",
        lang: str | None = None,
    ) -> dict[str, Any]:
        template = template or prompts.BUILT_IN
        if template.chat is not None and task == "answer":
            variables = {
                "question": question,
                "context": self._compile(prompts.CONTEXT).render(documents=documents or []).strip(),
                "documents": [_for_template(document, rank) for rank, document in enumerate(documents or [], 1)],
                "history": list(history or []),
                "collection": collection,
                "now": now,
                "system_prompt": system_prompt or "",
                "pre_prompt_query": pre_prompt_query,
                "prompt_query": prompt_query,
                "lang": lang,
            }
            rendered = self.chat_templates.render(template.chat, variables)
            return {"prompt": [_MESSAGE_OF[role](text) for role, text in rendered]}
        messages = []
        if system_prompt:
            system = self._compile(template.system).render(system_prompt=system_prompt)
            messages.append(ChatMessage.from_system(system))
        if task in prompts.HISTORY_TASKS:
            for turn in history or []:
                messages.append(ChatMessage.from_user(turn["question"]))
                messages.append(ChatMessage.from_assistant(turn["answer"]))
        user = self._compile(template.user[task]).render(
            question=question,
            documents=documents or [],
            pre_prompt_query=pre_prompt_query,
            prompt_query=prompt_query,
            pre_prompt_summary=pre_prompt_summary,
            prompt_summary=prompt_summary,
            hyde_extension=hyde_extension,
        )
        messages.append(ChatMessage.from_user(user.strip()))
        return {"prompt": messages}


_MESSAGE_OF = {
    "system": ChatMessage.from_system,
    "user": ChatMessage.from_user,
    "assistant": ChatMessage.from_assistant,
}


def _for_template(document: Document, rank: int) -> dict[str, Any]:
    """A context chunk as a chat template reads it; ``citation`` as the context cites it."""
    meta = document.meta
    return {
        "name": meta.get("document_name", ""),
        "page": str(meta.get("pages") or ""),
        "text": document.content or "",
        "score": float(document.score or 0.0),
        "citation": meta.get("citation") or rank,
    }


def render_prompt(messages: list[ChatMessage]) -> str:
    """A call's chat messages as one text: what ``prompt_raw`` records and what the context budget measures."""
    return "\n\n".join(f"<|{message.role.value}|>\n{message.text or ''}" for message in messages)


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

        retriever = HybridRetriever(index, lexical, read_models)
        retriever.run(query="who?", query_embedding=vec, collection_id=cid, top_k=5)["documents"]
    """

    def __init__(self, index: VectorIndex, lexical: LexicalIndex, read_models: ChunkReads) -> None:
        self.index = index
        self.lexical = lexical
        self.read_models = read_models

    @component.output_types(documents=list[Document], retrieval_time=float, best_score=float | None)
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
            terms = list(dict.fromkeys(content_words(query)))
            hits_bm25 = self.lexical.search(collection_id, terms, CANDIDATES)
            lists.append(_normalised([(h.document_id, h.ordinal, h.score) for h in hits_bm25], fusion == "score"))
            weights.append(1.0 - weight if mode == "hybrid" else 1.0)
        if len(lists) == 1:
            fused = lists[0]
        else:
            # A joiner per question: its weights are per request, and requests run in parallel.
            mode = "merge" if fusion == "score" else "reciprocal_rank_fusion"
            joiner = DocumentJoiner(join_mode=mode, weights=weights, sort_by_score=True)
            fused = joiner.run(documents=lists)["documents"]
        best_score = max((document.score or 0.0 for document in fused), default=None)
        if min_score is not None:
            fused = [document for document in fused if (document.score or 0.0) >= min_score]
        chosen = _widen_to_documents(fused, top_k, min_documents)
        rows = self.read_models.chunks_by_position([(d.meta["document_id"], d.meta["ordinal"]) for d in chosen])
        documents = []
        for candidate in chosen:
            row = rows.get((candidate.meta["document_id"], candidate.meta["ordinal"]))
            if row is None:
                continue  # removed from the read models after the index answered
            documents.append(chunk_document(row, float(candidate.score or 0.0)))
        return {"documents": documents, "retrieval_time": time.perf_counter() - started, "best_score": best_score}


def chunk_document(chunk: ChunkView, score: float, **meta: Any) -> Document:
    """A chunk of the read models (with its document's name) as a Haystack Document."""
    return Document(
        id=f"{chunk.document_id}:{chunk.ordinal}",
        content=chunk.text,
        score=score,
        meta={
            "collection_id": chunk.collection_id,
            "document_id": chunk.document_id,
            "document_name": chunk.document_name,
            "chunk_id": chunk.chunk_id,
            "ordinal": chunk.ordinal,
            "pages": chunk.pages,
            **meta,
        },
    )


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
