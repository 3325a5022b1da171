"""The h2oGPTe RAG modes as recipes over retrieval and model calls; every model call is one run of a generation
pipeline, so ``usage_stats.llm_calls`` counts exactly what the h2oGPTe docs promise:

- ``llm_only``: one call without context.
- ``rag``: retrieve, then one call.
- ``hyde1``: a first pass without context (with ``hyde_no_rag_llm_prompt_extension``), retrieval with the
  question plus that text, then the answer: 2 calls. ``hyde2`` retrieves once more with hyde1's answer: 3 calls.
  A model that cannot write a hypothetical answer makes its first pass pseudo-relevance feedback (the top
  sentences retrieved for the question), and the ``hyde1`` meta says so.
- ``rag+``: the retrieved chunks in document order with ``num_neighbor_chunks_to_include`` neighbours each
  side, summarised by recursive map-reduce within the model's context size.
- ``all_data``: every chunk of the collection through the same map-reduce, refused up front when it would need
  more than ``max_llm_calls`` calls.
"""

from __future__ import annotations

from collections.abc import Callable

from haystack import Document

from adapters.rag.answer_run import AnswerRun
from adapters.rag.generation import Generation
from adapters.rag.map_reduce import MapReduce
from adapters.rag.retrieval import Retrieval
from adapters.rag.text import CITATION
from domain.answering import DECLINE
from domain.collection import RAG_TYPES
from domain.errors import InvalidCommand

MODES = tuple(mode for mode in RAG_TYPES if mode != "auto")  # auto chooses one of these
ALL_DATA_CHUNKS_PER_CALL = 200  # more chunks than any permitted number of calls could read

# The answer's text, the chunks it cites, and the llm_only / hyde1 meta.
Outcome = tuple[str, list[Document], dict[str, str | None]]


class ModeRecipes:
    def __init__(self, retrieval: Retrieval, generation: Generation, map_reduce: MapReduce) -> None:
        self.retrieval = retrieval
        self.generation = generation
        self.map_reduce = map_reduce
        self._recipes: dict[str, Callable[[AnswerRun], Outcome]] = {
            "llm_only": self.llm_only,
            "rag": self.rag,
            "hyde1": self.hyde,
            "hyde2": self.hyde,
            "rag+": self.rag_plus,
            "all_data": self.all_data,
        }

    def run(self, mode: str, run: AnswerRun) -> Outcome:
        """``mode``: one of ``MODES``."""
        return self._recipes[mode](run)

    def llm_only(self, run: AnswerRun) -> Outcome:
        reply = self.generation.generate(run, "answer", run.request.question, [], final=True)
        return reply.text or "", [], {"llm_only": reply.text}

    def rag(self, run: AnswerRun) -> Outcome:
        documents = self.retrieval.retrieve(run, self.retrieval.query_of(run.request))
        floor = run.request.rag_min_chunk_score
        selects = not run.model.capabilities.generates_text
        if not documents and floor is not None and run.best_score is not None and selects:
            # Nothing to select sentences from: say why, rather than that no documents were given.
            reason = f"no chunk scored at least rag_min_chunk_score={floor:g} (the best scored {run.best_score:.3f})"
            return f"{DECLINE} In this collection {reason}.", [], {}
        reply = self.generation.generate(run, "answer", run.request.question, documents, final=True)
        return reply.text or "", run.context, {}

    def hyde(self, run: AnswerRun) -> Outcome:
        request = run.request
        query = self.retrieval.query_of(request)
        meta: dict[str, str | None] = {}
        if run.model.capabilities.generates_text:
            first = self.generation.generate(run, "hyde", request.question, []).text or ""
            meta["llm_only"] = first
            meta["hyde1"] = first
        else:
            retrieved = self.retrieval.retrieve(run, query)
            first = self.generation.generate(run, "feedback", request.question, retrieved).text or ""
            meta["hyde1"] = (
                f"Pseudo-relevance feedback: the {run.model.name} model cannot write a hypothetical answer, so the "
                f"top sentences retrieved for the question stand in for it: {first}"
            )
        documents = self.retrieval.retrieve(run, f"{query} {first}")
        hyde2 = request.rag_type == "hyde2"
        reply = self.generation.generate(run, "answer", request.question, documents, final=not hyde2)
        if hyde2:
            second = reply.text or ""
            # A declined answer says nothing about the subject; retrieve with the first pass again instead.
            widening = first if second.startswith(DECLINE) else CITATION.sub("", second)
            documents = self.retrieval.retrieve(run, f"{query} {widening}")
            reply = self.generation.generate(run, "answer", request.question, documents, final=True)
        return reply.text or "", run.context, meta

    def rag_plus(self, run: AnswerRun) -> Outcome:
        retrieved = self.retrieval.retrieve(run, self.retrieval.query_of(run.request))
        documents = self.retrieval.with_neighbours(retrieved, run.request.neighbour_chunks)
        return self.map_reduce.summarise(run, documents), documents, {}

    def all_data(self, run: AnswerRun) -> Outcome:
        max_llm_calls = self.generation.max_llm_calls
        limit = max_llm_calls * ALL_DATA_CHUNKS_PER_CALL
        documents = self.retrieval.every_chunk(run, limit)
        batches = self.map_reduce.batches(run, documents)
        needed = len(batches) + (1 if len(batches) > 1 else 0) + (run.request.reflection is not None)
        if needed > max_llm_calls or len(documents) == limit:
            raise InvalidCommand(
                f"all_data would need at least {needed} model calls for this collection, above the limit of "
                f"{max_llm_calls} (PARLEY_MAX_LLM_CALLS); ask with rag_type rag+ or raise the limit"
            )
        return self.map_reduce.summarise(run, documents, batches), documents, {}
