"""HaystackAnswerer: every h2oGPTe RAG mode, composed from two Haystack pipelines built once.

The *retrieval* pipeline repairs, embeds and retrieves (hybrid dense + BM25); each model has a *generation*
pipeline (prompt assembly, then the model). A mode is a small recipe over the two, and every run of a generation
pipeline is one model call, so ``usage_stats.llm_calls`` counts exactly what the h2oGPTe docs promise:

- ``llm_only``: one call without context.
- ``rag``: retrieve, then one call.
- ``hyde1``: a first pass without context (with ``hyde_no_rag_llm_prompt_extension``), retrieval with the
  question plus that text, then the answer: 2 calls. ``hyde2`` retrieves once more with hyde1's answer: 3 calls.
  The extractive model cannot write a hypothetical answer, so its first pass is pseudo-relevance feedback (the
  top sentences retrieved for the question), and the ``hyde1`` meta says so.
- ``rag+``: the retrieved chunks in document order with ``num_neighbor_chunks_to_include`` neighbours each
  side, summarised by recursive map-reduce within the model's context size.
- ``all_data``: every chunk of the collection through the same map-reduce, refused up front when it would need
  more than ``max_llm_calls`` calls.
- ``auto``: ``llm_only`` without documents, ``all_data`` (or ``rag+`` for a large collection) when the question
  asks for a summary or overview, else ``rag``; the choice and its reason go into ``usage_stats``.

Follow-up questions ("and when was it decommissioned?") are retrieved with the previous question prepended when
chat history is on, so the pronoun's subject takes part in retrieval; the model still answers the question as
asked, with the earlier turns in its prompt.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from haystack import Document, Pipeline
from haystack.core.errors import PipelineRuntimeError
from haystack.dataclasses import ChatMessage, StreamingChunk

from adapters.rag import prompts
from adapters.rag.components import (
    HybridRetriever,
    PromptAssembler,
    QueryEmbedder,
    QuestionRepairer,
    chunk_document,
)
from adapters.rag.extractive import ExtractiveGenerator, ReaderWeights
from adapters.rag.text import CITATION
from domain.answering import DECLINE, GUIDED_ARGS, Answer, AnswerRequest, is_follow_up, reflection_prompt
from domain.chunking import split_sentences
from domain.collection import RAG_TYPES
from domain.errors import InvalidCommand, ParleyError
from domain.events import Reference
from domain.ports import ChunkReads, LexicalIndex, Tokenizer, VectorIndex

MODES = tuple(mode for mode in RAG_TYPES if mode != "auto")  # auto chooses one of these
_SUMMARY_REQUEST = re.compile(
    r"\b(summari[sz]e|summary|overview|key points|main points|main ideas|gist|tl;?dr|outline|"
    r"all (the )?documents|every document|each document)\b",
    re.I,
)
_LIST_MARKER = re.compile(r"^\s*(?:[-*\u2022]|\d+[.)]|Q\d*[:.])\s*")


def render_prompt(messages: list[ChatMessage]) -> str:
    return "\n\n".join(f"<|{message.role.value}|>\n{message.text or ''}" for message in messages)


@dataclass
class ChatModel:
    """One model Parley can answer with: its generation pipeline and what map-reduce needs to know of it."""

    name: str
    pipeline: Pipeline
    context_size: int  # tokens, prompt and reply together
    generative: bool  # writes text of its own (an LLM), as opposed to selecting context sentences
    backend: str = "built-in"

    def check(self, llm_args: dict[str, Any]) -> None:
        """Refuses ``llm_args`` the model cannot honour (guided decoding and JSON output need a generative model on
        a backend that supports them)."""
        generator = self.pipeline.get_component("llm")
        if isinstance(generator, ExtractiveGenerator):
            refused = [key for key in GUIDED_ARGS if key in llm_args]
            if llm_args.get("response_format", "text") != "text":
                refused.append("response_format")
            if refused:
                raise InvalidCommand(
                    f"the extractive model only selects context sentences; it cannot honour {', '.join(refused)}"
                )
        elif hasattr(generator, "check"):
            generator.check(llm_args)


@dataclass
class _Run:
    """What one answer costs: model calls, tokens and retrieval time, added up over every call it makes."""

    request: AnswerRequest
    model: ChatModel
    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    retrieval_time: float = 0.0
    prompt_raw: str = ""
    context: list[Document] = field(default_factory=list)  # what the latest call's prompt held
    reply_meta: dict[str, Any] = field(default_factory=dict)  # what the latest call's model said of its reply
    on_delta: Callable[[str], None] | None = None  # receives the final call's text as it is made
    embeddings: dict[str, np.ndarray] = field(default_factory=dict)  # of each text retrieval searched with
    repaired: dict[str, str] = field(default_factory=dict)  # each such text with its disfluencies repaired
    best_score: float | None = None  # of the latest retrieval's candidates, before rag_min_chunk_score


class HaystackAnswerer:
    """Answers questions in every h2oGPTe RAG mode with Haystack pipelines over the vector and BM25 indexes."""

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
        self._retrieval = self._retrieval_pipeline(embedder, index, lexical, read_models)
        self._assembler = PromptAssembler()  # to measure prompts before a call
        self._models: dict[str, ChatModel] = {}
        self.add_model(
            ExtractiveGenerator.name,
            ExtractiveGenerator(embedder, self.reader),
            context_size=extractive_context_tokens,
            generative=False,
        )

    def add_model(self, name: str, generator: Any, **spec: Any) -> None:
        """Registers a model under ``name``: ``generator`` is a Haystack chat generator component."""
        pipeline = Pipeline()
        pipeline.add_component("prompt_builder", PromptAssembler())
        pipeline.add_component("llm", generator)
        pipeline.connect("prompt_builder.prompt", "llm.messages")
        self._models[name] = ChatModel(name=name, pipeline=pipeline, **spec)

    def models(self) -> list[str]:
        return list(self._models)

    def model_specs(self) -> list[ChatModel]:
        return list(self._models.values())

    def generators(self) -> list[ExtractiveGenerator]:
        return [
            model.pipeline.get_component("llm")  # type: ignore[misc]
            for model in self._models.values()
            if isinstance(model.pipeline.get_component("llm"), ExtractiveGenerator)
        ]

    @staticmethod
    def _retrieval_pipeline(
        embedder: Any, index: VectorIndex, lexical: LexicalIndex, read_models: ChunkReads
    ) -> Pipeline:
        pipeline = Pipeline()
        pipeline.add_component("repairer", QuestionRepairer())
        pipeline.add_component("query_embedder", QueryEmbedder(embedder))
        pipeline.add_component("retriever", HybridRetriever(index, lexical, read_models))
        pipeline.connect("query_embedder.embedding", "retriever.query_embedding")
        return pipeline

    # --- one answer -------------------------------------------------------------------------------------

    def check(self, request: AnswerRequest) -> ChatModel:
        """Refuses (InvalidCommand) a request naming a model that is not configured, or arguments its models cannot
        honour: before any work, and where a collection's chat settings are set."""
        model = self._model(request.llm)
        model.check(request.llm_args)
        if request.reflection is not None:
            self._model(request.reflection.llm).check(request.reflection.llm_args)
            reflection_prompt(request.reflection.prompt, "", "")
        return model

    def answer(self, request: AnswerRequest, on_delta: Callable[[str], None] | None = None) -> Answer:
        """Answers ``request``; ``on_delta`` receives the answer's text in pieces as it is made."""
        model = self.check(request)
        run = _Run(request=request, model=model, on_delta=on_delta)
        started = time.perf_counter()
        mode, reason = request.rag_type, None
        if mode == "auto":
            mode, reason = self._choose_mode(request, model)
        elif mode not in MODES:
            raise InvalidCommand(f"rag_type must be one of auto, {', '.join(MODES)}, got {mode!r}")
        if mode != "llm_only" and request.collection_id is None:
            mode = "llm_only"  # a session without a collection has nothing to retrieve from
        recipe: Callable[[_Run], tuple[str, list[Document], dict[str, str | None]]] = {
            "llm_only": self._llm_only,
            "rag": self._rag,
            "hyde1": self._hyde,
            "hyde2": self._hyde,
            "rag+": self._rag_plus,
            "all_data": self._all_data,
        }[mode]
        text, documents, meta = recipe(run)
        answer_calls = run.calls
        reflection = self._reflect(run, text, documents) if request.reflection is not None else None
        elapsed = time.perf_counter() - started
        usage: dict[str, Any] = {
            "llm": model.name,
            "rag_type": mode,
            "llm_calls": run.calls,
            "answer_llm_calls": answer_calls,
            "input_tokens": run.input_tokens,
            "output_tokens": run.output_tokens,
            "response_time": round(elapsed, 4),
            "retrieval_time": round(run.retrieval_time, 4),
        }
        if "confidence" in run.reply_meta:  # the extractive reader's, for tuning and auditing its declines
            usage["best_sentence_score"] = round(float(run.reply_meta["best_score"]), 4)
            usage["confidence"] = round(float(run.reply_meta["confidence"]), 4)
            if "answerable_probability" in run.reply_meta:  # the learned decline's verdict, and what it read
                usage["answerable_probability"] = round(float(run.reply_meta["answerable_probability"]), 4)
            usage["reader_signals"] = run.reply_meta.get("signals", {})
        if request.rag_type == "auto":
            usage.update(rag_type_requested="auto", auto_reason=reason)
        if request.reflection is not None:
            usage["self_reflection_llm"] = request.reflection.llm
        return Answer(
            text=text,
            references=tuple(_reference(document) for document in documents),
            prompt_raw=run.prompt_raw,
            llm=model.name,
            rag_type=mode,
            usage=usage,
            timings={"total": elapsed, "retrieval": run.retrieval_time},
            llm_only=meta.get("llm_only"),
            hyde1=meta.get("hyde1"),
            self_reflection=reflection,
        )

    def _model(self, name: str) -> ChatModel:
        model = self._models.get(name)
        if model is None:
            raise InvalidCommand(f"unknown llm {name!r}; available: {', '.join(self._models)}")
        return model

    def _choose_mode(self, request: AnswerRequest, model: ChatModel) -> tuple[str, str]:
        if request.collection_id is None:
            return "llm_only", "the chat session has no collection"
        chunks, tokens = self.read_models.chunk_totals(request.collection_id)
        if chunks == 0:
            return "llm_only", "the collection has no documents"
        if not _SUMMARY_REQUEST.search(request.question):
            return "rag", "a question about specific content"
        # all_data when its map-reduce would stay well within the call limit (half of it), else rag+.
        per_call = max(model.context_size - min(int(request.llm_args.get("max_new_tokens", 1024)),
                                                model.context_size // 4) - 512, 1)  # fmt: skip
        average = tokens / chunks + 16  # with its header
        every = -(-int(chunks * average) // per_call) + 1
        if every <= self.max_llm_calls // 2:
            return "all_data", f"the question asks for a summary; all {chunks} chunks take about {every} calls"
        nearby = min(chunks, request.rag_max_chunks * (1 + 2 * request.neighbour_chunks) + 5)
        some = -(-int(nearby * average) // per_call) + 1
        if some <= self.max_llm_calls // 2:
            return "rag+", f"the question asks for a summary; all {chunks} chunks would take about {every} calls"
        return "rag", f"the question asks for a summary, but even rag+ would take about {some} calls"

    # --- about documents, at ingestion (the DocumentEnricher port) ------------------------------------------

    def generates_text(self, llm: str) -> bool:
        model = self._models.get(llm)
        return model is not None and model.generative

    def summarize(self, llm: str, name: str, texts: Sequence[str]) -> str:
        """Map-reduce over the document's chunks with h2oGPTe's document-summary prompts; extractive with the
        extractive model (its salient sentences), written by an LLM otherwise."""
        request = AnswerRequest(
            question=f"Summarize {name}.",
            collection_id=None,
            rag_type="all_data",
            llm=llm,
            system_prompt=None,
            pre_prompt_summary=prompts.DOCUMENT_SUMMARY_PRE_PROMPT,
            prompt_summary=prompts.DOCUMENT_SUMMARY_PROMPT,
        )
        run = _Run(request=request, model=self._model(llm))
        try:
            summary = self._map_reduce(run, _texts_as_documents(name, texts))
        except InvalidCommand as error:
            raise InvalidCommand(f"{name} is too long to summarise: {error.message}") from error
        return CITATION.sub("", summary).strip()

    def suggest_questions(self, llm: str, name: str, texts: Sequence[str], count: int) -> list[str]:
        """Questions written by an LLM from as much of the document's start as fits its context."""
        model = self._model(llm)
        if not model.generative:
            raise InvalidCommand(f"model {llm!r} cannot write questions: it only selects sentences from documents")
        request = AnswerRequest(
            question="",
            collection_id=None,
            rag_type="llm_only",
            llm=llm,
            system_prompt=None,
            pre_prompt_summary=prompts.DOCUMENT_QUESTIONS_PRE_PROMPT,
            prompt_summary=prompts.DOCUMENT_QUESTIONS_PROMPT.format(count=count),
        )
        run = _Run(request=request, model=model)
        documents = _texts_as_documents(name, texts)
        reply = self._generate(run, "map", "", self._batches(run, documents)[0])
        lines = [_LIST_MARKER.sub("", line).strip() for line in (reply.text or "").splitlines()]
        questions = [line for line in lines if line.endswith("?")] or [line for line in lines if line]
        return questions[:count]

    # --- the modes ----------------------------------------------------------------------------------------

    def _llm_only(self, run: _Run) -> tuple[str, list[Document], dict[str, str | None]]:
        reply = self._generate(run, "answer", run.request.question, [], final=True)
        return reply.text or "", [], {"llm_only": reply.text}

    def _rag(self, run: _Run) -> tuple[str, list[Document], dict[str, str | None]]:
        documents = self._retrieve(run, self._retrieval_text(run.request))
        floor = run.request.rag_min_chunk_score
        if not documents and floor is not None and run.best_score is not None and not run.model.generative:
            # Nothing to select sentences from: say why, rather than that no documents were given.
            reason = f"no chunk scored at least rag_min_chunk_score={floor:g} (the best scored {run.best_score:.3f})"
            return f"{DECLINE} In this collection {reason}.", [], {}
        reply = self._generate(run, "answer", run.request.question, documents, final=True)
        return reply.text or "", run.context, {}

    def _hyde(self, run: _Run) -> tuple[str, list[Document], dict[str, str | None]]:
        request = run.request
        query = self._retrieval_text(request)
        meta: dict[str, str | None] = {}
        if run.model.generative:
            first = self._generate(run, "hyde", request.question, []).text or ""
            meta["llm_only"] = first
            meta["hyde1"] = first
        else:
            first = self._generate(run, "feedback", request.question, self._retrieve(run, query)).text or ""
            meta["hyde1"] = (
                "Pseudo-relevance feedback: the extractive model cannot write a hypothetical answer, so the top "
                f"sentences retrieved for the question stand in for it: {first}"
            )
        documents = self._retrieve(run, f"{query} {first}")
        hyde2 = request.rag_type == "hyde2"
        reply = self._generate(run, "answer", request.question, documents, final=not hyde2)
        if hyde2:
            second = reply.text or ""
            # A declined answer says nothing about the subject; retrieve with the first pass again instead.
            widening = first if second.startswith(DECLINE) else CITATION.sub("", second)
            documents = self._retrieve(run, f"{query} {widening}")
            reply = self._generate(run, "answer", request.question, documents, final=True)
        return reply.text or "", run.context, meta

    def _rag_plus(self, run: _Run) -> tuple[str, list[Document], dict[str, str | None]]:
        retrieved = self._retrieve(run, self._retrieval_text(run.request))
        documents = self._with_neighbours(retrieved, run.request.neighbour_chunks)
        return self._map_reduce(run, documents), documents, {}

    def _all_data(self, run: _Run) -> tuple[str, list[Document], dict[str, str | None]]:
        assert run.request.collection_id is not None
        started = time.perf_counter()
        limit = self.max_llm_calls * 200  # more chunks than any permitted number of calls could read
        rows = self.read_models.collection_chunks(run.request.collection_id, limit)
        run.retrieval_time += time.perf_counter() - started
        documents = [chunk_document(row, 1.0) for row in rows]
        batches = self._batches(run, documents)
        needed = len(batches) + (1 if len(batches) > 1 else 0) + (run.request.reflection is not None)
        if needed > self.max_llm_calls or len(rows) == limit:
            raise InvalidCommand(
                f"all_data would need at least {needed} model calls for this collection, above the limit of "
                f"{self.max_llm_calls} (PARLEY_MAX_LLM_CALLS); ask with rag_type rag+ or raise the limit"
            )
        return self._map_reduce(run, documents, batches), documents, {}

    # --- the steps ----------------------------------------------------------------------------------------

    @staticmethod
    def _retrieval_text(request: AnswerRequest) -> str:
        if request.history and is_follow_up(request.question):
            return f"{request.history[-1].question} {request.question}"
        return request.question

    def _retrieve(self, run: _Run, query: str) -> list[Document]:
        request = run.request
        result = _run_pipeline(
            self._retrieval,
            {
                "repairer": {"question": query},
                "query_embedder": {"text": query},
                "retriever": {
                    "query": query,
                    "collection_id": request.collection_id,
                    "top_k": request.rag_max_chunks,
                    "min_score": request.rag_min_chunk_score,
                    "mode": request.retrieval,
                    "fusion": request.fusion,
                    "weight": request.fusion_weight,
                },
            },
            {"query_embedder", "repairer"},
        )
        run.embeddings[query] = result["query_embedder"]["embedding"]
        run.repaired[query] = result["repairer"]["question"]
        run.retrieval_time += result["retriever"]["retrieval_time"]
        run.best_score = result["retriever"]["best_score"]
        documents: list[Document] = result["retriever"]["documents"]
        return documents

    def _generate(
        self,
        run: _Run,
        task: str,
        question: str,
        documents: list[Document],
        *,
        final: bool = False,
        model: ChatModel | None = None,
        **extra: Any,
    ) -> ChatMessage:
        """One model call: the prompt for ``task``, then the model; counted in ``run``.

        A generative model's prompt is fitted to its context (the lowest-ranked documents go first, and they are
        left out of the references too); the ``final`` call streams its text to ``run.on_delta``.
        """
        if run.calls >= self.max_llm_calls and task != "reflect":
            raise InvalidCommand(
                f"this answer needs more than {self.max_llm_calls} model calls (PARLEY_MAX_LLM_CALLS); "
                "ask with fewer chunks or another rag_type"
            )
        request = run.request
        model = model or run.model
        history = self._history(request, model) if task in prompts.HISTORY_TASKS else []
        prompt_inputs: dict[str, Any] = {
            "task": "answer" if task == "feedback" else task,
            "question": question,
            "documents": documents,
            "system_prompt": extra.pop("system_prompt", request.system_prompt),
            "pre_prompt_query": request.pre_prompt_query,
            "prompt_query": request.prompt_query,
            "pre_prompt_summary": request.pre_prompt_summary,
            "prompt_summary": request.prompt_summary,
            "hyde_extension": request.hyde_extension,
            "history": history,
        }
        stream = run.on_delta if final else None
        if model.generative:
            llm_args = extra.pop("llm_args", request.llm_args)
            documents, max_tokens = self._fit(model, prompt_inputs, llm_args)
            prompt_inputs["documents"] = documents
            model_inputs: dict[str, Any] = {"llm_args": llm_args, "max_tokens": max_tokens}
            if stream is not None:
                delta = stream  # a plain closure: the pipeline deep-copies its inputs

                def on_chunk(chunk: StreamingChunk) -> None:
                    if chunk.content:
                        delta(chunk.content)

                model_inputs["streaming_callback"] = on_chunk
        else:
            # The extractive model reads the structured context beside the prompt; a follow-up's embedding is of
            # the question as asked, the repaired text is of what retrieval searched with.
            model_inputs = {"question": question, "documents": documents, "task": task, **extra}
            if question in run.embeddings:
                model_inputs["question_embedding"] = run.embeddings[question]
                model_inputs["repaired_question"] = run.repaired.get(question, question)
        result = _run_pipeline(
            model.pipeline, {"prompt_builder": prompt_inputs, "llm": model_inputs}, {"prompt_builder"}
        )
        reply: ChatMessage = result["llm"]["replies"][0]
        if stream is not None and not model.generative:
            for start, end in split_sentences(reply.text or ""):  # the extractive model streams its sentences
                stream((" " if start else "") + (reply.text or "")[start:end])
        prompt = render_prompt(result["prompt_builder"]["prompt"])
        usage = reply.meta.get("usage") or {}
        run.calls += 1
        run.input_tokens += int(usage.get("prompt_tokens") or len(self.tokenizer.token_spans(prompt)))
        run.output_tokens += int(usage.get("completion_tokens") or len(self.tokenizer.token_spans(reply.text or "")))
        if task != "reflect":
            run.prompt_raw = prompt
            run.context = documents
            run.reply_meta = reply.meta
        return reply

    def _fit(
        self, model: ChatModel, prompt_inputs: dict[str, Any], llm_args: dict[str, Any]
    ) -> tuple[list[Document], int]:
        """The documents that fit ``model``'s context beside the rest of the prompt and the reply, and the reply's
        token budget: ``max_new_tokens`` (default 1024), shrunk to the room left but not below
        ``min_max_new_tokens`` (default 256)."""
        wanted = int(llm_args.get("max_new_tokens", 1024))
        floor = min(int(llm_args.get("min_max_new_tokens", 256)), wanted)
        documents = list(prompt_inputs["documents"])
        while True:
            messages = self._assembler.run(**{**prompt_inputs, "documents": documents})["prompt"]
            used = self._tokens(render_prompt(messages))
            room = model.context_size - used
            if room >= floor or not documents:
                break
            documents.pop()  # the lowest-ranked context goes first
        if room < floor:
            raise InvalidCommand(
                f"the prompt needs {used} tokens, more than model {model.name!r} has room for beside a reply of "
                f"{floor} tokens (context {model.context_size}); shorten the question, prompts or history"
            )
        return documents, min(wanted, room)

    def _tokens(self, text: str) -> int:
        """Tokens of ``text`` for context budgets: WordPiece's count, but at least one per four characters, since
        WordPiece reads any word over 100 characters as one unknown token where a model's BPE sees dozens."""
        return max(len(self.tokenizer.token_spans(text)), len(text) // 4)

    def _history(self, request: AnswerRequest, model: ChatModel) -> list[dict[str, str]]:
        """The latest turns that fit a quarter of the model's context, oldest first."""
        budget, turns = model.context_size // 4, []
        for turn in reversed(request.history):
            budget -= self._tokens(turn.question) + self._tokens(turn.answer)
            if budget < 0:
                break
            turns.append({"question": turn.question, "answer": turn.answer})
        return turns[::-1]

    def _with_neighbours(self, retrieved: list[Document], radius: int) -> list[Document]:
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

    def _batches(self, run: _Run, documents: list[Document]) -> list[list[Document]]:
        """Documents packed in order into batches whose prompt fits the model's context."""
        request = run.request
        fixed = " ".join(
            [request.system_prompt or "", request.pre_prompt_summary, request.prompt_summary, request.question]
        )
        reply = min(int(request.llm_args.get("max_new_tokens", 1024)), run.model.context_size // 4)
        reserve = reply if run.model.generative else 0
        budget = run.model.context_size - reserve - self._tokens(fixed) - 16  # and the template's own words
        batches: list[list[Document]] = [[]]
        used = 0
        for document in documents:
            header = (
                f"[{len(documents)}] {document.meta.get('document_name', '')} (page {document.meta.get('pages', '')})"
            )
            size = self._tokens(document.content or "") + self._tokens(header) + 2
            if batches[-1] and used + size > budget:
                batches.append([])
                used = 0
            batches[-1].append(document)
            used += size
        return [batch for batch in batches if batch]

    def _map_reduce(self, run: _Run, documents: list[Document], batches: list[list[Document]] | None = None) -> str:
        """Recursive summarisation: map every batch that fits the context, until one batch is left to reduce.
        ``batches``: the documents already packed, when the caller has packed them."""
        for citation, document in enumerate(documents, start=1):
            document.meta["citation"] = citation
        if not documents:
            return f"{DECLINE} The collection has no content to summarise."
        batches = batches or self._batches(run, documents)
        while len(batches) > 1:
            partials: list[Document] = []
            for number, batch in enumerate(batches, start=1):
                reply = self._generate(run, "map", run.request.question, batch)
                partials.extend(_partials(reply, batch, f"partial summary {number} of {len(batches)}"))
            shrunk = self._batches(run, partials)
            if len(shrunk) >= len(batches):
                raise InvalidCommand("the context does not shrink under summarisation; ask with fewer chunks")
            batches = shrunk
        return self._generate(run, "reduce", run.request.question, batches[0], final=True).text or ""

    def _reflect(self, run: _Run, answer: str, documents: list[Document]) -> str:
        """The judge's verdict; when judging fails (its backend is down, its context too small) the answer stands
        and the verdict says why there is none."""
        try:
            return self._judge(run, answer, documents)
        except ParleyError as error:
            return f"Self-reflection failed: {error.message}"

    def _judge(self, run: _Run, answer: str, documents: list[Document]) -> str:
        reflection = run.request.reflection
        assert reflection is not None
        judge = self._model(reflection.llm)
        shown = run.prompt_raw
        if judge.generative:  # the judged prompt may be longer than the judge's context: keep its head and tail
            rest = reflection_prompt(reflection.prompt, "", answer) + (reflection.system_prompt or "")
            room = max(judge.context_size - 256 - self._tokens(rest) - 32, 0)
            spans, keep = self.tokenizer.token_spans(shown), room
            while self._tokens(cut := _middle_cut(shown, spans, keep)) > room and keep > 0:
                keep = int(keep * 0.9)  # the budget also counts characters: cut until both measures fit
            shown = cut
        prompt = reflection_prompt(reflection.prompt, shown, answer)
        reply = self._generate(
            run,
            "reflect",
            prompt,
            documents,
            model=judge,
            system_prompt=reflection.system_prompt,
            **({"llm_args": reflection.llm_args} if judge.generative else {"answer": answer}),
        )
        return reply.text or ""


def _texts_as_documents(name: str, texts: Sequence[str]) -> list[Document]:
    """One document's chunk texts as context documents, cited [1], [2], ... in reading order."""
    return [
        Document(
            content=text,
            meta={"document_id": name, "document_name": name, "pages": "", "ordinal": ordinal, "citation": ordinal + 1},
        )
        for ordinal, text in enumerate(texts)
    ]


def _middle_cut(text: str, spans: list[tuple[int, int]], keep: int) -> str:
    """``text`` with tokens taken out of its middle so that ``keep`` of them are left, and a note of how many."""
    if len(spans) <= keep:
        return text
    head, tail = spans[: keep // 2], spans[len(spans) - (keep - keep // 2) :]
    start = head[-1][1] if head else 0
    end = tail[0][0] if tail else len(text)
    return f"{text[:start]} [... {len(spans) - keep} tokens omitted ...] {text[end:]}"


def _run_pipeline(pipeline: Pipeline, data: dict[str, Any], include: set[str]) -> dict[str, Any]:
    """Runs ``pipeline``, letting Parley's own errors (a refused argument, a backend down) through unwrapped."""
    try:
        return pipeline.run(data, include_outputs_from=include)
    except PipelineRuntimeError as error:
        if isinstance(error.__cause__, ParleyError):
            raise error.__cause__ from None
        raise


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
