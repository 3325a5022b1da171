"""Writing about a freshly ingested document (``gen_doc_summaries``, ``gen_doc_questions``): the
``DocumentEnricher`` port over the same models, map-reduce and context budget as answers."""

from __future__ import annotations

import re
from collections.abc import Sequence

from haystack import Document

from adapters.rag import prompts
from adapters.rag.answer_run import AnswerRun
from adapters.rag.generation import Generation
from adapters.rag.map_reduce import MapReduce
from adapters.rag.models import ModelRegistry
from adapters.rag.text import CITATION
from domain.answering import AnswerRequest, DocumentPrompts
from domain.errors import InvalidCommand

_LIST_MARKER = re.compile(r"^\s*(?:[-*\u2022]|\d+[.)]|Q\d*[:.])\s*")


class HaystackDocumentEnricher:
    """Summaries and suggested questions of one document, from its chunk texts in reading order.

    Usage::

        enricher = HaystackDocumentEnricher(models, generation, map_reduce)
        enricher.summarize("extractive", "report.pdf", ["First chunk.", "Second chunk."])
    """

    def __init__(self, models: ModelRegistry, generation: Generation, map_reduce: MapReduce) -> None:
        self.models = models
        self.generation = generation
        self.map_reduce = map_reduce

    def generates_text(self, llm: str) -> bool:
        model = self.models.find(llm)
        return model is not None and model.capabilities.generates_text

    def summarize(self, llm: str, name: str, texts: Sequence[str], written: DocumentPrompts | None = None) -> str:
        """Map-reduce over the document's chunks with the collection's template's document-summary prompts
        (``written``), else h2oGPTe's: the salient sentences of a model that selects them, written text of a model
        that writes."""
        written = written or DocumentPrompts()
        request = AnswerRequest(
            question=f"Summarize {name}.",
            collection_id=None,
            rag_type="all_data",
            llm=llm,
            system_prompt=None,
            pre_prompt_summary=_given(written.summary_pre_prompt, prompts.DOCUMENT_SUMMARY_PRE_PROMPT),
            prompt_summary=_given(written.summary_prompt, prompts.DOCUMENT_SUMMARY_PROMPT),
        )
        run = AnswerRun(request=request, model=self.models.get(llm))
        try:
            summary = self.map_reduce.summarise(run, _texts_as_documents(name, texts))
        except InvalidCommand as error:
            raise InvalidCommand(f"{name} is too long to summarise: {error.message}") from error
        return CITATION.sub("", summary).strip()

    def suggest_questions(
        self, llm: str, name: str, texts: Sequence[str], count: int, written: DocumentPrompts | None = None
    ) -> list[str]:
        """Questions written by a model that writes, from as much of the document's start as fits its context, as
        the collection's template asks for them (``auto_gen_document_sample_questions_prompt``), else as Parley
        does."""
        written = written or DocumentPrompts()
        model = self.models.get(llm)
        if not model.capabilities.generates_text:
            raise InvalidCommand(f"model {llm!r} cannot write questions: it only selects sentences from documents")
        request = AnswerRequest(
            question="",
            collection_id=None,
            rag_type="llm_only",
            llm=llm,
            system_prompt=None,
            pre_prompt_summary=prompts.DOCUMENT_QUESTIONS_PRE_PROMPT,
            prompt_summary=_given(written.questions_prompt, prompts.DOCUMENT_QUESTIONS_PROMPT.format(count=count)),
        )
        run = AnswerRun(request=request, model=model)
        documents = _texts_as_documents(name, texts)
        reply = self.generation.generate(run, "map", "", self.map_reduce.batches(run, documents)[0])
        lines = [_LIST_MARKER.sub("", line).strip() for line in (reply.text or "").splitlines()]
        questions = [line for line in lines if line.endswith("?")] or [line for line in lines if line]
        return questions[:count]


def _given(text: str | None, default: str) -> str:
    return default if text is None else text


def _texts_as_documents(name: str, texts: Sequence[str]) -> list[Document]:
    """One document's chunk texts as context documents, cited [1], [2], ... in reading order."""
    return [
        Document(
            content=text,
            meta={"document_id": name, "document_name": name, "pages": "", "ordinal": ordinal, "citation": ordinal + 1},
        )
        for ordinal, text in enumerate(texts)
    ]
