"""``rag_type="auto"``: which mode answers a question, chosen from the question and the collection's size alone.

``llm_only`` without documents; for a question that asks for a summary or overview, ``all_data`` when its
map-reduce would stay well within the call limit (half of it), else ``rag+`` under the same test, else ``rag``;
``rag`` for any other question. The choice and its reason go into ``usage_stats``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SUMMARY_REQUEST = re.compile(
    r"\b(summari[sz]e|summary|overview|key points|main points|main ideas|gist|tl;?dr|outline|"
    r"all (the )?documents|every document|each document)\b",
    re.I,
)
CHUNK_HEADER_TOKENS = 16  # a chunk's citation, name and page line in the prompt
RAG_PLUS_MARGIN = 5  # chunks rag+ may read beyond its retrieved ones and their neighbours


@dataclass(frozen=True)
class CollectionSize:
    chunks: int
    tokens: int  # of every chunk together


def choose_mode(
    question: str,
    collection: CollectionSize | None,
    *,
    batch_tokens: int,
    max_llm_calls: int,
    rag_max_chunks: int,
    neighbour_chunks: int,
) -> tuple[str, str]:
    """The mode for ``question`` and why. ``collection``: None when the session has none; ``batch_tokens``: the
    context one map call may fill (``ContextBudget.estimated_batch_room``)."""
    if collection is None:
        return "llm_only", "the chat session has no collection"
    chunks = collection.chunks
    if chunks == 0:
        return "llm_only", "the collection has no documents"
    if not SUMMARY_REQUEST.search(question):
        return "rag", "a question about specific content"
    average = collection.tokens / chunks + CHUNK_HEADER_TOKENS
    every = _map_reduce_calls(chunks, average, batch_tokens)
    if every <= max_llm_calls // 2:
        return "all_data", f"the question asks for a summary; all {chunks} chunks take about {every} calls"
    nearby = min(chunks, rag_max_chunks * (1 + 2 * neighbour_chunks) + RAG_PLUS_MARGIN)
    some = _map_reduce_calls(nearby, average, batch_tokens)
    if some <= max_llm_calls // 2:
        return "rag+", f"the question asks for a summary; all {chunks} chunks would take about {every} calls"
    return "rag", f"the question asks for a summary, but even rag+ would take about {some} calls"


def _map_reduce_calls(chunks: int, average_tokens: float, batch_tokens: int) -> int:
    """Map calls over ``chunks`` packed into batches, and the reduce."""
    return -(-int(chunks * average_tokens) // batch_tokens) + 1
