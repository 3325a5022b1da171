"""One answer in the making: what was asked, with which model and template, and what it has cost so far."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from haystack import Document

from adapters.rag import prompts
from adapters.rag.models import ChatModel
from domain.answering import AnswerRequest


@dataclass
class AnswerRun:
    """What one answer costs: model calls, tokens and retrieval time, added up over every call it makes."""

    request: AnswerRequest
    model: ChatModel
    template: prompts.PromptTemplate = prompts.BUILT_IN
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
    # What a chat template reads as ``now``: one value for every call of the answer (to the minute, so that a
    # preview made just before shows the same text).
    now: str = field(default_factory=lambda: datetime.now(UTC).strftime("%Y-%m-%dT%H:%MZ"))

    def usage_stats(self, mode: str, answer_calls: int, elapsed: float, auto_reason: str | None) -> dict[str, Any]:
        """``usage_stats`` of the answer: ``answer_calls`` made the answer, the rest (if any) judged it."""
        request = self.request
        usage: dict[str, Any] = {
            "llm": self.model.name,
            "rag_type": mode,
            "llm_calls": self.calls,
            "answer_llm_calls": answer_calls,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "response_time": round(elapsed, 4),
            "retrieval_time": round(self.retrieval_time, 4),
        }
        meta = self.reply_meta
        if "confidence" in meta:  # the extractive reader's, for tuning and auditing its declines
            usage["best_sentence_score"] = round(float(meta["best_score"]), 4)
            usage["confidence"] = round(float(meta["confidence"]), 4)
            if "answerable_probability" in meta:  # the learned decline's verdict, and what it read
                usage["answerable_probability"] = round(float(meta["answerable_probability"]), 4)
            usage["reader_signals"] = meta.get("signals", {})
        if request.rag_type == "auto":
            usage.update(rag_type_requested="auto", auto_reason=auto_reason)
        if request.reflection is not None:
            usage["self_reflection_llm"] = request.reflection.llm
        if request.template_id is not None:
            usage["prompt_template_id"] = request.template_id
            usage["prompt_template_version"] = request.template_version
            usage["prompt_sources"] = request.prompt_sources
            usage["lang"] = request.lang
        return usage
