"""OpenAI-compatible model servers (vLLM, Ollama, llama.cpp server, OpenAI, h2oGPT) through Haystack's
``OpenAIChatGenerator``: h2oGPTe ``llm_args`` become chat-completion parameters, and every way a backend can fail
becomes ``BackendUnavailable`` (503), so the session records why it has no answer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec
import openai
from haystack import component
from haystack.components.generators.chat import OpenAIChatGenerator
from haystack.dataclasses import ChatMessage, StreamingChunk
from haystack.utils import Secret

from domain.answering import GUIDED_ARGS
from domain.errors import BackendUnavailable, InvalidCommand

# Sampling parameters only vLLM-style servers accept, sent beside the OpenAI ones (in the request's extra body).
_EXTENDED_SAMPLING = ("top_k", "repetition_penalty")


class LLMBackend(msgspec.Struct, frozen=True, kw_only=True):
    """One OpenAI-compatible server and the models it serves."""

    name: str
    base_url: str
    api_key: str | None = None
    models: tuple[str, ...] = ()
    guided: bool = False  # accepts vLLM's guided decoding and extended sampling parameters
    context_size: int = 8192  # tokens, for every model of the backend unless context_sizes names it
    context_sizes: dict[str, int] = {}
    timeout_s: float = 60.0
    max_retries: int = 1

    def context_of(self, model: str) -> int:
        return self.context_sizes.get(model, self.context_size)


def generation_kwargs(backend: LLMBackend, model: str, llm_args: dict[str, Any], max_tokens: int) -> dict[str, Any]:
    """Validated h2oGPTe ``llm_args`` as chat-completion parameters for ``backend``; InvalidCommand for what the
    backend cannot do."""
    kwargs: dict[str, Any] = {"max_tokens": max_tokens}
    extra: dict[str, Any] = {}
    for key in ("temperature", "top_p", "seed"):
        if key in llm_args:
            kwargs[key] = llm_args[key]
    if llm_args.get("response_format") == "json_object":
        kwargs["response_format"] = {"type": "json_object"}
    for key in (*_EXTENDED_SAMPLING, *GUIDED_ARGS):
        if key in llm_args:
            if not backend.guided:
                raise InvalidCommand(
                    f"llm_args.{key} is not supported by the {backend.name!r} backend of model {model!r}"
                    f" (set PARLEY_LLM_GUIDED=true for a vLLM server)"
                )
            extra[key] = llm_args[key]
    if extra:
        kwargs["extra_body"] = extra
    return kwargs


@component
class OpenAICompatibleChatModel:
    """A chat model on an OpenAI-compatible server, as a Haystack component.

    Usage::

        model = OpenAICompatibleChatModel(backend, "llama3.1:8b")
        model.run(messages=[ChatMessage.from_user("Hi")], llm_args={"temperature": 0.2})["replies"][0].text
    """

    def __init__(self, backend: LLMBackend, model: str) -> None:
        self.backend = backend
        self.model = model
        self.generator = OpenAIChatGenerator(
            api_key=Secret.from_token(backend.api_key or "none"),  # local servers take any key
            model=model,
            api_base_url=backend.base_url,
            timeout=backend.timeout_s,
            max_retries=backend.max_retries,
        )

    def check(self, llm_args: dict[str, Any]) -> None:
        generation_kwargs(self.backend, self.model, llm_args, 1)

    @component.output_types(replies=list[ChatMessage])
    def run(
        self,
        messages: list[ChatMessage],
        llm_args: dict[str, Any] | None = None,
        max_tokens: int = 1024,
        streaming_callback: Callable[[StreamingChunk], None] | None = None,
    ) -> dict[str, Any]:
        kwargs = generation_kwargs(self.backend, self.model, llm_args or {}, max_tokens)
        if streaming_callback is not None:
            kwargs["stream_options"] = {"include_usage": True}
        who = f"model {self.model!r} on {self.backend.name!r}"
        try:
            result = self.generator.run(messages, streaming_callback=streaming_callback, generation_kwargs=kwargs)
        except openai.APITimeoutError as error:
            raise BackendUnavailable(f"{who} did not answer within {self.backend.timeout_s:g} s") from error
        except openai.APIConnectionError as error:
            raise BackendUnavailable(f"{who} is unreachable: {error.__cause__ or error}") from error
        except openai.APIStatusError as error:
            raise BackendUnavailable(f"{who} failed with HTTP {error.status_code}: {error.message}") from error
        except (openai.OpenAIError, ValueError) as error:  # an error event mid-stream, a body that is not JSON
            raise BackendUnavailable(f"{who} failed: {error}") from error
        replies: list[ChatMessage] = result["replies"]
        if not replies:
            raise BackendUnavailable(f"{who} returned no reply")
        return {"replies": replies}
