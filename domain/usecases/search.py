"""Searching collections without an answer: the query checked, each collection searched as an answer's retrieval
would, the hits merged by score."""

from __future__ import annotations

from collections.abc import Sequence

from domain.answering import FUSION_MODES, RETRIEVAL_MODES
from domain.errors import InvalidCommand, NotFound
from domain.events import Reference
from domain.ports import ChatReads, ChunkSearch, SearchQuery

MAX_TOP_K = 100
MAX_COLLECTIONS = 20


class SearchCollections:
    def __init__(self, reads: ChatReads, search: ChunkSearch) -> None:
        self.reads = reads
        self.search = search

    def __call__(self, collection_ids: Sequence[str], query: SearchQuery) -> list[Reference]:
        """The ``query.top_k`` best chunks over ``collection_ids``, best first."""
        if not query.text.strip():
            raise InvalidCommand("the search query cannot be empty")
        if not collection_ids:
            raise InvalidCommand("name at least one collection to search")
        if len(collection_ids) > MAX_COLLECTIONS:
            raise InvalidCommand(f"search at most {MAX_COLLECTIONS} collections at once")
        if not 1 <= query.top_k <= MAX_TOP_K:
            raise InvalidCommand(f"k must be between 1 and {MAX_TOP_K}, got {query.top_k}")
        if query.mode not in RETRIEVAL_MODES:
            raise InvalidCommand(f"method must be one of {', '.join(RETRIEVAL_MODES)}, got {query.mode!r}")
        if query.fusion not in FUSION_MODES:
            raise InvalidCommand(f"fusion must be one of {', '.join(FUSION_MODES)}, got {query.fusion!r}")
        if not 0.0 <= query.fusion_weight <= 1.0:
            raise InvalidCommand(f"fusion_weight must be between 0 and 1, got {query.fusion_weight}")
        for collection_id in dict.fromkeys(collection_ids):
            if self.reads.collection(collection_id) is None:
                raise NotFound(f"collection {collection_id} not found")
        hits = [
            hit for collection_id in dict.fromkeys(collection_ids) for hit in self.search.search(collection_id, query)
        ]
        return sorted(hits, key=lambda hit: -hit.score)[: query.top_k]
