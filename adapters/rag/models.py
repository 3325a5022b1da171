"""The models Parley can answer with: each one's generation pipeline, context size and what it is capable of.

The recipes ask a model's ``Capabilities`` rather than whether it is the extractive model, so a second model that
selects rather than writes (or an LLM that cannot stream) needs a registration, not new special cases.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from haystack import Pipeline

from adapters.rag.graphs import generation_pipeline
from domain.answering import GUIDED_ARGS
from domain.errors import InvalidCommand


@dataclass(frozen=True)
class Capabilities:
    """What a model can do, as the recipes, the budget and the enricher need to know it."""

    generates_text: bool  # writes text of its own (an LLM), as opposed to selecting context sentences
    reads_prompt: bool  # reads the rendered prompt, which must then fit its context; else the structured inputs
    streams_tokens: bool  # takes a streaming callback; else its finished reply is streamed sentence by sentence
    formats_output: bool  # can be asked for guided decoding and JSON output (its backend may still refuse)


LLM = Capabilities(generates_text=True, reads_prompt=True, streams_tokens=True, formats_output=True)
# The extractive model reads the context documents, the question and its embedding beside the prompt.
SENTENCE_SELECTOR = Capabilities(generates_text=False, reads_prompt=False, streams_tokens=False, formats_output=False)


@dataclass
class ChatModel:
    """One model Parley can answer with: its generation pipeline and what map-reduce needs to know of it."""

    name: str
    pipeline: Pipeline
    context_size: int  # tokens, prompt and reply together
    capabilities: Capabilities
    backend: str = "built-in"

    @property
    def generative(self) -> bool:
        """Writes text of its own (``/models`` shows it as ``generates_text``)."""
        return self.capabilities.generates_text

    @property
    def generator(self) -> Any:
        return self.pipeline.get_component("llm")

    def check(self, llm_args: dict[str, Any]) -> None:
        """Refuses ``llm_args`` the model cannot honour (guided decoding and JSON output need a generative model on
        a backend that supports them)."""
        if not self.capabilities.formats_output:
            refused = [key for key in GUIDED_ARGS if key in llm_args]
            if llm_args.get("response_format", "text") != "text":
                refused.append("response_format")
            if refused:
                raise InvalidCommand(
                    f"the {self.name} model only selects context sentences; it cannot honour {', '.join(refused)}"
                )
        elif hasattr(self.generator, "check"):
            self.generator.check(llm_args)


class ModelRegistry:
    """The configured models by name, in the order they were added (``/models`` lists them so)."""

    def __init__(self) -> None:
        self._models: dict[str, ChatModel] = {}

    def add(
        self,
        name: str,
        generator: Any,
        *,
        context_size: int,
        generative: bool,
        backend: str = "built-in",
        capabilities: Capabilities | None = None,
    ) -> ChatModel:
        """Registers ``generator`` (a Haystack chat generator component) under ``name``; ``capabilities`` default
        to an LLM's when ``generative``, else to a sentence selector's."""
        if capabilities is None:
            capabilities = LLM if generative else SENTENCE_SELECTOR
        elif capabilities.generates_text != generative:
            raise ValueError(f"model {name!r}: generative={generative} contradicts its capabilities")
        model = ChatModel(
            name=name,
            pipeline=generation_pipeline(generator),
            context_size=context_size,
            capabilities=capabilities,
            backend=backend,
        )
        self._models[name] = model
        return model

    def get(self, name: str) -> ChatModel:
        """The model ``name``; InvalidCommand naming the configured ones when there is none."""
        model = self._models.get(name)
        if model is None:
            raise InvalidCommand(f"unknown llm {name!r}; available: {', '.join(self._models)}")
        return model

    def find(self, name: str) -> ChatModel | None:
        return self._models.get(name)

    def names(self) -> list[str]:
        return list(self._models)

    def __iter__(self) -> Iterator[ChatModel]:
        return iter(list(self._models.values()))
