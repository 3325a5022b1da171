"""HaystackAnswerer: every h2oGPTe RAG mode over two Haystack pipeline graphs built once, as a thin facade.

Where each part lives:

- ``models``: the model registry, each model with its generation pipeline, context size and ``Capabilities``;
- ``graphs``: the retrieval graph (repair, embed, hybrid retrieve) and the generation graph (prompt, model);
- ``budget``: the one context-budget policy (prompt, history and reply within a model's context);
- ``auto``: ``rag_type="auto"``'s choice, a pure function;
- ``recipes``: the modes (``llm_only``, ``rag``, ``hyde1``, ``hyde2``, ``rag+``, ``all_data``) over
  ``retrieval``, ``generation`` (one model call, streaming, usage) and ``map_reduce``;
- ``reflection``: self-reflection; ``references``: the answer's references; ``answer_run``: an answer's costs;
- ``enrichment``: document summaries and suggested questions (the ``DocumentEnricher`` port);
- ``components`` and ``prompts``: the Haystack components, and the templates the prompt assembler renders.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from adapters.rag.answer_run import AnswerRun
from adapters.rag.auto import CollectionSize, choose_mode
from adapters.rag.budget import ContextBudget
from adapters.rag.components import render_prompt
from adapters.rag.enrichment import HaystackDocumentEnricher
from adapters.rag.extractive import ExtractiveGenerator, ReaderWeights
from adapters.rag.generation import Generation
from adapters.rag.map_reduce import MapReduce
from adapters.rag.models import SENTENCE_SELECTOR, ChatModel, ModelRegistry
from adapters.rag.prompts import BUILT_IN, PromptTemplate
from adapters.rag.recipes import MODES, ModeRecipes
from adapters.rag.references import reference
from adapters.rag.reflection import SelfReflection
from adapters.rag.retrieval import Retrieval
from domain.answering import Answer, AnswerRequest, DocumentPrompts, PromptMessage, PromptPreview, reflection_prompt
from domain.errors import InvalidCommand
from domain.ports import ChunkReads, LexicalIndex, Tokenizer, VectorIndex

__all__ = ["MODES", "ChatModel", "HaystackAnswerer", "render_prompt"]


class HaystackAnswerer:
    """Answers questions in every h2oGPTe RAG mode with Haystack pipelines over the vector and BM25 indexes, and
    writes summaries and questions of documents (the ``Answerer`` and ``DocumentEnricher`` ports)."""

    def __init__(
        self,
        embedder: Any,
        index: VectorIndex,
        read_models: ChunkReads,
        tokenizer: Tokenizer,
        reader: ReaderWeights | None = None,
        *,
        lexical: LexicalIndex,
        max_llm_calls: int,
        extractive_context_tokens: int,
    ) -> None:
        self.tokenizer = tokenizer
        self.embedder = embedder
        self.read_models = read_models
        self.reader = reader or ReaderWeights()
        self.max_llm_calls = max_llm_calls
        self.registry = ModelRegistry()
        self.budget = ContextBudget(tokenizer)
        self.retrieval = Retrieval(embedder, index, lexical, read_models)
        self.generation = Generation(self.budget, max_llm_calls)
        self.map_reduce = MapReduce(self.generation, self.budget)
        self.recipes = ModeRecipes(self.retrieval, self.generation, self.map_reduce)
        self.reflection = SelfReflection(self.generation, self.budget, self.registry)
        self.enricher = HaystackDocumentEnricher(self.registry, self.generation, self.map_reduce)
        self.registry.add(
            ExtractiveGenerator.name,
            ExtractiveGenerator(embedder, self.reader),
            context_size=extractive_context_tokens,
            generative=False,
            capabilities=SENTENCE_SELECTOR,
        )

    # --- the models -------------------------------------------------------------------------------------

    def add_model(self, name: str, generator: Any, **spec: Any) -> None:
        """Registers a model under ``name``: ``generator`` is a Haystack chat generator component; ``spec``:
        ``context_size``, ``generative`` and optionally ``backend`` and ``capabilities``."""
        self.registry.add(name, generator, **spec)

    def models(self) -> list[str]:
        return self.registry.names()

    def model_specs(self) -> list[ChatModel]:
        return list(self.registry)

    def generators(self) -> list[ExtractiveGenerator]:
        """The extractive readers, whose weights and decline model the benchmarks tune."""
        return [model.generator for model in self.registry if isinstance(model.generator, ExtractiveGenerator)]

    # --- one answer -------------------------------------------------------------------------------------

    def check(self, request: AnswerRequest) -> ChatModel:
        """Refuses (InvalidCommand) a request naming a model that is not configured, or arguments its models cannot
        honour: before any work, and where a collection's chat settings are set."""
        model = self.registry.get(request.llm)
        model.check(request.llm_args)
        if request.reflection is not None:
            self.registry.get(request.reflection.llm).check(request.reflection.llm_args)
            reflection_prompt(request.reflection.prompt, "", "")
        return model

    def answer(
        self,
        request: AnswerRequest,
        on_delta: Callable[[str], None] | None = None,
        *,
        template: PromptTemplate | None = None,
    ) -> Answer:
        """Answers ``request``; ``on_delta`` receives the answer's text in pieces as it is made; ``template``: the
        prompt templates to render (by default the request's ``chat_template`` over the built-in ones)."""
        model = self.check(request)
        run = AnswerRun(request=request, model=model, template=template or _template_of(request), on_delta=on_delta)
        started = time.perf_counter()
        mode, reason = self._mode(request, model)
        text, documents, meta = self.recipes.run(mode, run)
        answer_calls = run.calls
        verdict = self.reflection.reflect(run, text, documents) if request.reflection is not None else None
        elapsed = time.perf_counter() - started
        return Answer(
            text=text,
            references=tuple(reference(document) for document in documents),
            prompt_raw=run.prompt_raw,
            llm=model.name,
            rag_type=mode,
            usage=run.usage_stats(mode, answer_calls, elapsed, reason),
            timings={"total": elapsed, "retrieval": run.retrieval_time},
            llm_only=meta.get("llm_only"),
            hyde1=meta.get("hyde1"),
            self_reflection=verdict,
        )

    def preview(self, request: AnswerRequest) -> PromptPreview:
        """The answering call's messages for ``request`` with the chunks retrieved for them, as ``answer`` would
        send them, without calling the model. Only modes whose answering prompt does not depend on an earlier
        model reply can be previewed: ``rag`` and ``llm_only`` (and ``auto`` when it chooses one of them)."""
        model = self.check(request)
        run = AnswerRun(request=request, model=model, template=_template_of(request))
        mode, _ = self._mode(request, model)
        if mode not in PREVIEWABLE:
            raise InvalidCommand(
                f"rag_type {mode} makes its answering prompt from earlier model replies, so it cannot be previewed "
                f"without calling the model; preview with rag_type {' or '.join(PREVIEWABLE)}"
            )
        documents = [] if mode == "llm_only" else self.retrieval.retrieve(run, self.retrieval.query_of(request))
        messages, documents = self.generation.preview(run, request.question, documents)
        return PromptPreview(
            messages=tuple(PromptMessage(role=m.role.value, content=m.text or "") for m in messages),
            prompt_raw=render_prompt(messages),
            references=tuple(reference(document) for document in documents),
            rag_type=mode,
            llm=model.name,
        )

    def _mode(self, request: AnswerRequest, model: ChatModel) -> tuple[str, str | None]:
        mode, reason = request.rag_type, None
        if mode == "auto":
            mode, reason = self._choose_mode(request, model)
        elif mode not in MODES:
            raise InvalidCommand(f"rag_type must be one of auto, {', '.join(MODES)}, got {mode!r}")
        if mode != "llm_only" and request.collection_id is None:
            mode = "llm_only"  # a session without a collection has nothing to retrieve from
        return mode, reason

    def _choose_mode(self, request: AnswerRequest, model: ChatModel) -> tuple[str, str]:
        size = None
        if request.collection_id is not None:
            size = CollectionSize(*self.read_models.chunk_totals(request.collection_id))
        return choose_mode(
            request.question,
            size,
            batch_tokens=self.budget.estimated_batch_room(model, request.llm_args),
            max_llm_calls=self.max_llm_calls,
            rag_max_chunks=request.rag_max_chunks,
            neighbour_chunks=request.neighbour_chunks,
        )

    # --- about documents, at ingestion (the DocumentEnricher port) ------------------------------------------

    def generates_text(self, llm: str) -> bool:
        return self.enricher.generates_text(llm)

    def summarize(self, llm: str, name: str, texts: Sequence[str], prompts: DocumentPrompts | None = None) -> str:
        return self.enricher.summarize(llm, name, texts, prompts)

    def suggest_questions(
        self, llm: str, name: str, texts: Sequence[str], count: int, prompts: DocumentPrompts | None = None
    ) -> list[str]:
        return self.enricher.suggest_questions(llm, name, texts, count, prompts)


PREVIEWABLE = ("rag", "llm_only")


def _template_of(request: AnswerRequest) -> PromptTemplate:
    """The request's chat template over the built-in texts (the h2oGPTe fields are in the request itself)."""
    if request.chat_template is None:
        return BUILT_IN
    return PromptTemplate(chat=request.chat_template, template_id=request.template_id, version=request.template_version)
