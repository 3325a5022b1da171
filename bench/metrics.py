"""Scoring for the Disfl-QA benchmark: retrieval ranks, gold-span containment, declines, latency summaries."""

from __future__ import annotations

import json
import re
import statistics
import unicodedata
from collections.abc import Sequence
from pathlib import Path

from domain.answering import DECLINE

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "disflqa"
_TOKEN = re.compile(r"\w+|[^\w\s]", re.UNICODE)


def data_dir() -> Path:
    """The shared data set: ../shared/data/disflqa beside the checkout (or PARLEY_DISFLQA)."""
    import os

    return Path(os.environ.get("PARLEY_DISFLQA", DATA))


def load_corpus() -> list[dict[str, str]]:
    with (data_dir() / "corpus.jsonl").open() as handle:
        return [json.loads(line) for line in handle]


def load_queries() -> list[dict[str, object]]:
    with (data_dir() / "queries-dev.jsonl").open() as handle:
        return [json.loads(line) for line in handle]


def tokens(text: str) -> list[str]:
    """NFKC, lower case, word runs and single punctuation marks: how gold spans are matched."""
    return _TOKEN.findall(unicodedata.normalize("NFKC", text).lower())


def contains_span(answer: str, spans: Sequence[str]) -> bool:
    words = tokens(answer)
    for span in spans:
        gold = tokens(span)
        if gold and any(words[i : i + len(gold)] == gold for i in range(len(words) - len(gold) + 1)):
            return True
    return False


def is_decline(answer: str) -> bool:
    return answer.startswith(DECLINE)


def ranked_documents(reference_names: Sequence[str]) -> list[str]:
    """Distinct document ids in reference order (references come sorted by score, best first)."""
    return list(dict.fromkeys(name.removesuffix(".txt") for name in reference_names))


class RetrievalScore:
    def __init__(self) -> None:
        self.ranks: list[int | None] = []

    def add(self, documents: Sequence[str], gold: str) -> None:
        self.ranks.append(documents.index(gold) + 1 if gold in documents else None)

    def recall(self, k: int) -> float:
        return sum(1 for rank in self.ranks if rank is not None and rank <= k) / max(len(self.ranks), 1)

    def mrr(self, k: int = 10) -> float:
        return sum(1 / rank for rank in self.ranks if rank is not None and rank <= k) / max(len(self.ranks), 1)

    def row(self) -> str:
        return f"R@1 {self.recall(1):.3f}  R@5 {self.recall(5):.3f}  MRR@10 {self.mrr(10):.3f}"


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


def latency_row(name: str, seconds: Sequence[float]) -> str:
    p50, p95 = percentile(seconds, 0.5) * 1000, percentile(seconds, 0.95) * 1000
    return f"{name:<34} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  mean {statistics.fmean(seconds) * 1000:7.1f} ms"
