"""Recursive map-reduce summarisation (``rag+``, ``all_data``, document summaries): the documents packed into
batches that fit the model's context, each batch summarised, the partial summaries packed again, until one batch
is left to reduce."""

from __future__ import annotations

from haystack import Document
from haystack.dataclasses import ChatMessage

from adapters.rag.answer_run import AnswerRun
from adapters.rag.budget import ContextBudget
from adapters.rag.generation import Generation
from domain.answering import DECLINE
from domain.errors import InvalidCommand


class MapReduce:
    def __init__(self, generation: Generation, budget: ContextBudget) -> None:
        self.generation = generation
        self.budget = budget

    def batches(self, run: AnswerRun, documents: list[Document]) -> list[list[Document]]:
        """Documents packed in order into batches whose prompt fits the model's context."""
        request = run.request
        fixed = " ".join(
            [request.system_prompt or "", request.pre_prompt_summary, request.prompt_summary, request.question]
        )
        room = self.budget.batch_room(run.model, request.llm_args, fixed)
        batches: list[list[Document]] = [[]]
        used = 0
        for document in documents:
            header = (
                f"[{len(documents)}] {document.meta.get('document_name', '')} (page {document.meta.get('pages', '')})"
            )
            size = self.budget.tokens(document.content or "") + self.budget.tokens(header) + 2
            if batches[-1] and used + size > room:
                batches.append([])
                used = 0
            batches[-1].append(document)
            used += size
        return [batch for batch in batches if batch]

    def summarise(self, run: AnswerRun, documents: list[Document], batches: list[list[Document]] | None = None) -> str:
        """The summary of ``documents``, cited [1], [2], ... in their order; ``batches``: the documents already
        packed, when the caller has packed them (to count the calls first)."""
        for citation, document in enumerate(documents, start=1):
            document.meta["citation"] = citation
        if not documents:
            return f"{DECLINE} The collection has no content to summarise."
        batches = batches or self.batches(run, documents)
        while len(batches) > 1:
            partials: list[Document] = []
            for number, batch in enumerate(batches, start=1):
                reply = self.generation.generate(run, "map", run.request.question, batch)
                partials.extend(_partials(reply, batch, f"partial summary {number} of {len(batches)}"))
            shrunk = self.batches(run, partials)
            if len(shrunk) >= len(batches):
                raise InvalidCommand("the context does not shrink under summarisation; ask with fewer chunks")
            batches = shrunk
        return self.generation.generate(run, "reduce", run.request.question, batches[0], final=True).text or ""


def _partials(reply: ChatMessage, batch: list[Document], label: str) -> list[Document]:
    """A map call's output as documents for the next level: the extractive model's sentences keep their chunk's
    citation and source; a generative model's text is one unnumbered document, ``label`` (the citations are the
    markers in its text)."""
    sentences = reply.meta.get("sentences")
    if sentences is None:
        return [Document(content=reply.text or "", meta={"document_name": label, "partial": True})]
    by_citation = {document.meta["citation"]: document.meta for document in batch}
    return [
        Document(content=sentence["text"], meta={**by_citation[sentence["citation"]]})
        for sentence in sentences
        if sentence["citation"] in by_citation
    ]
