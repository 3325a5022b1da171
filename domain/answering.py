"""What the answering pipeline is asked and what it gives back; the Answerer port."""

from __future__ import annotations

from typing import Any, Protocol

import msgspec

from domain.events import Reference

DECLINE = "Not found in the documents."
RETRIEVAL_MODES = ("hybrid", "dense", "bm25")  # the first is the default
FUSION_MODES = ("score", "rrf")

# h2oGPTe's default prompt pieces. The 1.7.5 client always sends its own copies of the two query strings,
# with a generator artefact (literal backslashes before the n); those exact strings mean "use the default".
DEFAULT_SYSTEM_PROMPT = (
    "You are Parley, a question-answering assistant. Answer only from the documents in the context, "
    "cite the sources you use, and say plainly when they do not contain the answer."
)
DEFAULT_PRE_PROMPT_QUERY = (
    "Pay attention and remember the information below, which will help to answer the question or imperative "
    "after the context ends.\n"
)
DEFAULT_PROMPT_QUERY = "According to only the information in the document sources provided within the context above, "
CLIENT_DEFAULT_PRE_PROMPT_QUERY = DEFAULT_PRE_PROMPT_QUERY.replace("\n", "\\" * 4 + "n")
CLIENT_DEFAULT_PROMPT_QUERY = DEFAULT_PROMPT_QUERY.rstrip()


class Turn(msgspec.Struct, frozen=True):
    """One earlier question and its answer, for chat history."""

    question: str
    answer: str


class AnswerRequest(msgspec.Struct, frozen=True, kw_only=True):
    question: str
    collection_id: str | None
    rag_type: str
    llm: str
    llm_args: dict[str, Any] = {}
    system_prompt: str | None = DEFAULT_SYSTEM_PROMPT
    pre_prompt_query: str = DEFAULT_PRE_PROMPT_QUERY
    prompt_query: str = DEFAULT_PROMPT_QUERY
    rag_max_chunks: int = 10
    rag_min_chunk_score: float | None = None
    retrieval: str = "hybrid"  # hybrid | dense | bm25
    fusion: str = "score"  # score (min-max normalised, weighted) | rrf
    fusion_weight: float = 0.5  # the dense share of a score fusion
    history: tuple[Turn, ...] = ()


class Answer(msgspec.Struct, frozen=True, kw_only=True):
    text: str
    references: tuple[Reference, ...]
    prompt_raw: str
    llm: str
    rag_type: str
    usage: dict[str, Any]
    timings: dict[str, float]


class Answerer(Protocol):
    def models(self) -> list[str]: ...

    def answer(self, request: AnswerRequest) -> Answer: ...
