"""HaystackAnswerer: the answering pipelines, one per RAG mode, built once and reused for every question."""

from __future__ import annotations

import time
from typing import Any, cast

from haystack import Document, Pipeline
from haystack.dataclasses import ChatMessage

from adapters.rag.components import (
    ExtractiveGenerator,
    HybridRetriever,
    PromptAssembler,
    QueryEmbedder,
    QuestionRepairer,
    ReaderWeights,
)
from domain.answering import Answer, AnswerRequest
from domain.errors import InvalidCommand
from domain.events import Reference
from domain.ports import Tokenizer, VectorIndex
from projections.queries import ReadModels

# The prompt. The h2oGPTe prompt fields are variables, so whatever a user puts in them is inserted as plain text
# and never rendered as a template itself; the templates are rendered in Jinja's sandbox.
SYSTEM_TEMPLATE = "{{ system_prompt }}"
USER_TEMPLATE = """
{%- if documents %}{{ pre_prompt_query }}
\"\"\"
{% for document in documents -%}
[{{ loop.index }}] {{ document.meta.document_name }} (page {{ document.meta.pages }})
{{ document.content }}

{% endfor -%}
\"\"\"
{{ prompt_query }}{{ question }}
{%- else %}{{ question }}{% endif %}
"""
MODES = ("rag", "llm_only")


def render_prompt(messages: list[ChatMessage]) -> str:
    return "\n\n".join(f"<|{message.role.value}|>\n{message.text or ''}" for message in messages)


class HaystackAnswerer:
    """Answers questions with Haystack pipelines over the vector index and the extractive model."""

    def __init__(
        self,
        embedder: Any,
        index: VectorIndex,
        read_models: ReadModels,
        tokenizer: Tokenizer,
        reader: ReaderWeights | None = None,
    ) -> None:
        self.tokenizer = tokenizer
        self.embedder = embedder
        self.reader = reader or ReaderWeights()
        self._pipelines = {
            "rag": self._rag_pipeline(embedder, index, read_models),
            "llm_only": self._llm_only_pipeline(),
        }

    def generators(self) -> list[ExtractiveGenerator]:
        return [cast(ExtractiveGenerator, pipeline.get_component("llm")) for pipeline in self._pipelines.values()]

    def models(self) -> list[str]:
        return [ExtractiveGenerator.name]

    def _rag_pipeline(self, embedder: Any, index: VectorIndex, read_models: ReadModels) -> Pipeline:
        pipeline = Pipeline()
        pipeline.add_component("repairer", QuestionRepairer())
        pipeline.add_component("query_embedder", QueryEmbedder(embedder))
        pipeline.add_component("retriever", HybridRetriever(index, read_models))
        pipeline.add_component("prompt_builder", PromptAssembler(SYSTEM_TEMPLATE, USER_TEMPLATE))
        pipeline.add_component("llm", ExtractiveGenerator(embedder, self.reader))
        pipeline.connect("repairer.question", "llm.repaired_question")
        pipeline.connect("query_embedder.embedding", "llm.question_embedding")
        pipeline.connect("query_embedder.embedding", "retriever.query_embedding")
        pipeline.connect("retriever.documents", "prompt_builder.documents")
        pipeline.connect("retriever.documents", "llm.documents")
        pipeline.connect("prompt_builder.prompt", "llm.messages")
        return pipeline

    def _llm_only_pipeline(self) -> Pipeline:
        pipeline = Pipeline()
        pipeline.add_component("prompt_builder", PromptAssembler(SYSTEM_TEMPLATE, USER_TEMPLATE))
        pipeline.add_component("llm", ExtractiveGenerator(self.embedder, self.reader))
        pipeline.connect("prompt_builder.prompt", "llm.messages")
        return pipeline

    def answer(self, request: AnswerRequest) -> Answer:
        if request.llm not in self.models():
            raise InvalidCommand(f"unknown llm {request.llm!r}; available: {', '.join(self.models())}")
        mode = request.rag_type
        if mode not in MODES:
            raise InvalidCommand(f"rag_type {mode!r} is not available; Parley answers in {', '.join(MODES)}")
        if mode != "llm_only" and request.collection_id is None:
            mode = "llm_only"  # a session without a collection has nothing to retrieve from
        prompt_inputs = {
            "system_prompt": request.system_prompt,
            "history": [{"question": t.question, "answer": t.answer} for t in request.history],
            "pre_prompt_query": request.pre_prompt_query,
            "prompt_query": request.prompt_query,
            "question": request.question,
        }
        data: dict[str, Any] = {"prompt_builder": prompt_inputs}
        if mode == "rag":
            data["repairer"] = {"question": request.question}
            data["query_embedder"] = {"text": request.question}
            data["retriever"] = {
                "query": request.question,
                "collection_id": request.collection_id,
                "top_k": request.rag_max_chunks,
                "min_score": request.rag_min_chunk_score,
                "mode": request.retrieval,
                "fusion": request.fusion,
                "weight": request.fusion_weight,
            }
        data["llm"] = {"question": request.question}
        started = time.perf_counter()
        result = self._pipelines[mode].run(data, include_outputs_from={"prompt_builder", "retriever"})
        elapsed = time.perf_counter() - started
        documents: list[Document] = result.get("retriever", {}).get("documents", [])
        reply: ChatMessage = result["llm"]["replies"][0]
        prompt_raw = render_prompt(result["prompt_builder"]["prompt"])
        text = reply.text or ""
        references = tuple(_reference(document) for document in documents)
        usage = {
            "llm": ExtractiveGenerator.name,
            "rag_type": mode,
            "llm_calls": 1,
            "input_tokens": len(self.tokenizer.token_spans(prompt_raw)),
            "output_tokens": len(self.tokenizer.token_spans(text)),
            "response_time": round(elapsed, 4),
            "retrieval_time": round(result.get("retriever", {}).get("retrieval_time", 0.0), 4),
            "best_sentence_score": round(float(reply.meta.get("best_score", 0.0)), 4),
            "confidence": round(float(reply.meta.get("confidence", 0.0)), 4),
        }
        return Answer(
            text=text,
            references=references,
            prompt_raw=prompt_raw,
            llm=ExtractiveGenerator.name,
            rag_type=mode,
            usage=usage,
            timings={"total": elapsed},
        )


def _reference(document: Document) -> Reference:
    meta = document.meta
    return Reference(
        collection_id=meta["collection_id"],
        document_id=meta["document_id"],
        document_name=meta["document_name"],
        chunk_ordinal=int(meta["ordinal"]),
        chunk_id=int(meta["chunk_id"]),
        pages=tuple(int(page) for page in str(meta["pages"]).split(",") if page),
        score=float(document.score or 0.0),
        content=document.content or "",
    )
