"""The two Haystack pipeline graphs of an answer, built once, and how to run one.

- *retrieval*: ``repairer`` -> ``query_embedder`` -> ``retriever`` (hybrid dense + BM25), the repairer handing
  the question on as asked; its outputs are the retrieved chunks with their timing, the repaired question and,
  asked for by name, the query's embedding (the extractive reader reuses both).
- *generation*, one per model: ``prompt_builder`` -> ``llm``. Every run of it is one model call.
"""

from __future__ import annotations

from typing import Any

from haystack import Pipeline
from haystack.core.errors import PipelineRuntimeError

from adapters.rag.components import HybridRetriever, PromptAssembler, QueryEmbedder, QuestionRepairer
from domain.errors import ParleyError
from domain.ports import ChunkReads, LexicalIndex, VectorIndex


def retrieval_pipeline(embedder: Any, index: VectorIndex, lexical: LexicalIndex, read_models: ChunkReads) -> Pipeline:
    pipeline = Pipeline()
    pipeline.add_component("repairer", QuestionRepairer())
    pipeline.add_component("query_embedder", QueryEmbedder(embedder))
    pipeline.add_component("retriever", HybridRetriever(index, lexical, read_models))
    pipeline.connect("repairer.asked", "query_embedder.text")
    pipeline.connect("repairer.asked", "retriever.query")
    pipeline.connect("query_embedder.embedding", "retriever.query_embedding")
    return pipeline


def generation_pipeline(generator: Any) -> Pipeline:
    """``generator``: a Haystack chat generator component (it takes ``messages``)."""
    pipeline = Pipeline()
    pipeline.add_component("prompt_builder", PromptAssembler())
    pipeline.add_component("llm", generator)
    pipeline.connect("prompt_builder.prompt", "llm.messages")
    return pipeline


def run_pipeline(pipeline: Pipeline, data: dict[str, Any], include: set[str]) -> dict[str, Any]:
    """Runs ``pipeline``, letting Parley's own errors (a refused argument, a backend down) through unwrapped."""
    try:
        return pipeline.run(data, include_outputs_from=include)
    except PipelineRuntimeError as error:
        if isinstance(error.__cause__, ParleyError):
            raise error.__cause__ from None
        raise
