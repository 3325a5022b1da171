"""HaystackReproducer: an answer run again from what its ``AnswerGenerated`` event recorded (the AnswerReproducer
port), with nothing retrieved.

- A model that reads the prompt (an LLM) gets the recorded prompt exactly: ``prompt_raw`` split back into its chat
  messages (``render_prompt`` wrote them as ``<|role|>`` blocks), the recorded ``llm_args``, and the reply budget
  the context policy gives that prompt, the same the original call had.
- A model that reads the context (the extractive one) gets the recorded chunks, with the texts, pages and scores
  they had then, and the question, through the same generation (and, for ``rag+`` and ``all_data``, map-reduce)
  code that made the answer; being deterministic, it gives the same text byte for byte.

Only the answer's last call is run again: the HyDE first pass and self-reflection are not repeated.
"""

from __future__ import annotations

import re
import time
from typing import Any

import numpy as np
from haystack import Document
from haystack.dataclasses import ChatMessage, ChatRole

from adapters.rag.answer_run import AnswerRun
from adapters.rag.components import render_prompt
from adapters.rag.disfluency import repair
from adapters.rag.pipeline import HaystackAnswerer
from domain.answering import AnswerRequest, is_follow_up
from domain.errors import InvalidCommand
from domain.events import AnswerGenerated
from domain.ports import Reproduction

_ROLE = re.compile(r"<\|(system|user|assistant)\|>\n")
MAP_REDUCE_MODES = ("rag+", "all_data")
_MAKERS = {
    ChatRole.SYSTEM: ChatMessage.from_system,
    ChatRole.USER: ChatMessage.from_user,
    ChatRole.ASSISTANT: ChatMessage.from_assistant,
}


def prompt_messages(prompt_raw: str) -> list[ChatMessage]:
    """The chat messages ``render_prompt`` joined into ``prompt_raw``; ValueError when it is not such a text."""
    marks = list(_ROLE.finditer(prompt_raw))
    if not marks or marks[0].start() != 0:
        raise ValueError("the recorded prompt does not begin with a <|role|> line")
    messages = []
    for mark, following in zip(marks, [*marks[1:], None], strict=True):
        end = following.start() - 2 if following is not None else len(prompt_raw)
        text = prompt_raw[mark.end() : end]
        messages.append(_MAKERS[ChatRole(mark.group(1))](text))
    if render_prompt(messages) != prompt_raw:
        raise ValueError("the recorded prompt does not split into chat messages unambiguously")
    return messages


def recorded_documents(answer: AnswerGenerated) -> list[Document]:
    """The answer's references as the context documents the model read (``components.chunk_document``'s shape)."""
    return [
        Document(
            id=f"{ref.document_id}:{ref.chunk_ordinal}",
            content=ref.content,
            score=ref.score,
            meta={
                "collection_id": ref.collection_id,
                "document_id": ref.document_id,
                "document_name": ref.document_name,
                "chunk_id": ref.chunk_id,
                "ordinal": ref.chunk_ordinal,
                "pages": ",".join(str(page) for page in ref.pages),
            },
        )
        for ref in answer.references
    ]


class HaystackReproducer:
    """The AnswerReproducer port over the answerer's models, generation and map-reduce."""

    def __init__(self, answerer: HaystackAnswerer) -> None:
        self.answerer = answerer

    def reproduce(self, answer: AnswerGenerated, question: str, had_history: bool) -> Reproduction:
        model = self.answerer.registry.find(answer.llm)
        if model is None:
            raise InvalidCommand(
                f"the answer was made by model {answer.llm!r}, which this server no longer serves; "
                f"available: {', '.join(self.answerer.models())}"
            )
        started = time.perf_counter()
        if model.capabilities.reads_prompt:
            text = self._prompted(model, answer)
        else:
            text = self._from_context(model, answer, question, had_history)
        elapsed = round(time.perf_counter() - started, 4)
        return Reproduction(text=text, llm=model.name, usage={"response_time": elapsed})

    def _prompted(self, model: Any, answer: AnswerGenerated) -> str:
        try:
            messages = prompt_messages(answer.prompt_raw)
        except ValueError as error:
            raise InvalidCommand(f"the answer cannot be replayed: {error}") from error
        budget = self.answerer.budget
        # The reply budget the context policy gave this very prompt (ContextBudget.fit, with nothing left out).
        room = model.context_size - budget.tokens(answer.prompt_raw)
        max_tokens = min(budget.wanted_reply(answer.llm_args), room)
        if max_tokens < 1:
            raise InvalidCommand(f"the recorded prompt no longer fits model {model.name!r}'s context")
        replies = model.generator.run(messages=messages, llm_args=answer.llm_args, max_tokens=max_tokens)["replies"]
        return str(replies[0].text or "")

    def _from_context(self, model: Any, answer: AnswerGenerated, question: str, had_history: bool) -> str:
        collection_id = answer.references[0].collection_id if answer.references else None
        request = AnswerRequest(
            question=question,
            collection_id=collection_id,
            rag_type=answer.rag_type,
            llm=model.name,
            llm_args=answer.llm_args,
        )
        run = AnswerRun(request=request, model=model)
        if not (had_history and is_follow_up(question)):
            # Retrieval searched with the question as asked: the reader got its embedding and its repaired text.
            run.embeddings[question] = np.asarray(self.answerer.embedder.embed([question])[0], dtype=np.float32)
            run.repaired[question] = repair(question)
        documents = recorded_documents(answer)
        if answer.rag_type in MAP_REDUCE_MODES:
            return self.answerer.map_reduce.summarise(run, documents)
        task_documents = documents if answer.rag_type != "llm_only" else []
        reply = self.answerer.generation.generate(run, "answer", question, task_documents, final=True)
        return str(reply.text or "")
