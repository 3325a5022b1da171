"""The context-budget policy: how a model's context window is shared between the prompt, the chat history and
the reply, and how text is counted for it. Every recipe, map-reduce, the judge and ``auto`` measure here."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from haystack import Document

from adapters.rag.components import PromptAssembler, render_prompt
from adapters.rag.models import ChatModel
from domain.answering import Turn
from domain.errors import InvalidCommand
from domain.ports import Tokenizer

DEFAULT_REPLY_TOKENS = 1024  # h2oGPTe's max_new_tokens default
DEFAULT_MIN_REPLY_TOKENS = 256  # min_max_new_tokens: a reply is not shrunk below this to make room for context
HISTORY_SHARE = 4  # earlier turns take at most a quarter of the context, as does the reply reserved in map-reduce
BATCH_TEMPLATE_TOKENS = 16  # the summary template's own words around a map-reduce batch
ESTIMATED_PROMPT_TOKENS = 512  # auto's guess of a map call's prompts and question, before they are assembled
JUDGE_REPLY_TOKENS = 256  # what the judge's verdict may take
JUDGE_TEMPLATE_TOKENS = 32  # the reflection template's own words


class ContextBudget:
    """Measures prompts and shares out a model's context.

    Usage::

        budget = ContextBudget(tokenizer)
        documents, max_tokens = budget.fit(model, prompt_inputs, {"max_new_tokens": 512})
    """

    def __init__(self, tokenizer: Tokenizer) -> None:
        self.tokenizer = tokenizer
        self.assembler = PromptAssembler()  # to measure prompts before a call

    def tokens(self, text: str) -> int:
        """Tokens of ``text`` for context budgets: WordPiece's count, but at least one per four characters, since
        WordPiece reads any word over 100 characters as one unknown token where a model's BPE sees dozens."""
        return max(len(self.tokenizer.token_spans(text)), len(text) // 4)

    @staticmethod
    def wanted_reply(llm_args: dict[str, Any]) -> int:
        return int(llm_args.get("max_new_tokens", DEFAULT_REPLY_TOKENS))

    def reserved_reply(self, model: ChatModel, llm_args: dict[str, Any]) -> int:
        """The reply's share when the prompt is packed in advance (map-reduce): what is wanted, at most a quarter."""
        return min(self.wanted_reply(llm_args), model.context_size // HISTORY_SHARE)

    def history(self, model: ChatModel, turns: Sequence[Turn]) -> list[dict[str, str]]:
        """The latest turns that fit a quarter of the model's context, oldest first."""
        budget, kept = model.context_size // HISTORY_SHARE, []
        for turn in reversed(turns):
            budget -= self.tokens(turn.question) + self.tokens(turn.answer)
            if budget < 0:
                break
            kept.append({"question": turn.question, "answer": turn.answer})
        return kept[::-1]

    def fit(
        self, model: ChatModel, prompt_inputs: dict[str, Any], llm_args: dict[str, Any]
    ) -> tuple[list[Document], int]:
        """The documents that fit ``model``'s context beside the rest of the prompt and the reply, and the reply's
        token budget: ``max_new_tokens`` (default 1024), shrunk to the room left but not below
        ``min_max_new_tokens`` (default 256). The lowest-ranked documents are left out first."""
        wanted = self.wanted_reply(llm_args)
        floor = min(int(llm_args.get("min_max_new_tokens", DEFAULT_MIN_REPLY_TOKENS)), wanted)
        documents = list(prompt_inputs["documents"])
        while True:
            messages = self.assembler.run(**{**prompt_inputs, "documents": documents})["prompt"]
            used = self.tokens(render_prompt(messages))
            room = model.context_size - used
            if room >= floor or not documents:
                break
            documents.pop()
        if room < floor:
            raise InvalidCommand(
                f"the prompt needs {used} tokens, more than model {model.name!r} has room for beside a reply of "
                f"{floor} tokens (context {model.context_size}); shorten the question, prompts or history"
            )
        return documents, min(wanted, room)

    def batch_room(self, model: ChatModel, llm_args: dict[str, Any], fixed_text: str) -> int:
        """Tokens of context one map-reduce batch may take beside ``fixed_text`` (its prompts and question) and,
        for a model that writes, its reply."""
        reserve = self.reserved_reply(model, llm_args) if model.capabilities.generates_text else 0
        return model.context_size - reserve - self.tokens(fixed_text) - BATCH_TEMPLATE_TOKENS

    def estimated_batch_room(self, model: ChatModel, llm_args: dict[str, Any]) -> int:
        """``batch_room`` guessed before the prompts are known, for ``auto``; it reserves the reply for every model,
        so it errs towards fewer chunks."""
        return max(model.context_size - self.reserved_reply(model, llm_args) - ESTIMATED_PROMPT_TOKENS, 1)

    def judged_prompt_room(self, judge: ChatModel, rest: str) -> int:
        """Tokens the judged prompt may take in the judge's context beside ``rest`` (the reflection template with
        the answer, and the judge's system prompt) and its verdict."""
        return max(judge.context_size - JUDGE_REPLY_TOKENS - self.tokens(rest) - JUDGE_TEMPLATE_TOKENS, 0)
