"""What the answering pipeline is asked and what it gives back; the Answerer port."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Protocol

import msgspec

from domain.errors import InvalidCommand
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
DEFAULT_PRE_PROMPT_SUMMARY = (
    "In order to write a concise single-paragraph or bulleted list summary, pay attention to the following text.\n"
)
DEFAULT_PROMPT_SUMMARY = (
    "Using only the information in the document sources above, write a condensed and concise summary of key "
    "results (preferably as bullet points) that answers: "
)
DEFAULT_HYDE_EXTENSION = "\nKeep the answer brief, and list the 5 most relevant key words at the end."
# h2oGPTe's reflection prompt: the first %s is the full prompt, the second the answer.
DEFAULT_PROMPT_REFLECTION = (
    '"""Prompt:\n%s\n"""\n\n"""Response:\n%s\n"""\n\nWhat is the quality of the response for the given '
    "prompt? Respond with a score ranging from Score: 0/10 (worst) to Score: 10/10 (best), and give a brief "
    "explanation why."
)
DEFAULT_SYSTEM_PROMPT_REFLECTION = "You are a careful judge of whether answers are supported by their sources."

_FOLLOW_UP_OPENERS = ("and ", "but ", "so ", "also ", "then ", "what about ", "how about ", "and what ", "or ")
_BACK_REFERENCES = frozenset(
    [
        "it",
        "its",
        "it's",
        "they",
        "them",
        "their",
        "theirs",
        "he",
        "him",
        "his",
        "she",
        "her",
        "this",
        "that",
        "these",
        "those",
        "latter",
        "former",
    ]
)


def is_follow_up(question: str) -> bool:
    """Whether a question leans on the conversation before it ("and when was it closed?").

    It opens with a conjunction, or refers back with a pronoun and names nothing of its own (no capitalised
    word after the first)."""
    text = question.strip().lower()
    if text.startswith(_FOLLOW_UP_OPENERS):
        return True
    words = question.strip().rstrip("?.!").split()
    refers_back = any(word.lower().strip(",;:'\"") in _BACK_REFERENCES for word in words)
    names_something = any(word[:1].isupper() or word[:1].isdigit() for word in words[1:])
    return refers_back and not names_something


def reflection_prompt(template: str, prompt: str, answer: str) -> str:
    """The reflection prompt: ``template`` with exactly two ``%s``, the full prompt and then the answer."""
    parts = template.split("%s")
    if len(parts) != 3:
        raise InvalidCommand(
            f"self_reflection_config.prompt_reflection must contain exactly two %s (the prompt, then the answer);"
            f" it has {len(parts) - 1}"
        )
    return parts[0] + prompt + parts[1] + answer + parts[2]


class Turn(msgspec.Struct, frozen=True):
    """One earlier question and its answer, for chat history."""

    question: str
    answer: str


class Reflection(msgspec.Struct, frozen=True, kw_only=True):
    """Self-reflection: one more model call that judges the answer against the full prompt."""

    llm: str
    prompt: str = DEFAULT_PROMPT_REFLECTION  # exactly two %s: the full prompt, then the answer
    system_prompt: str | None = DEFAULT_SYSTEM_PROMPT_REFLECTION
    llm_args: dict[str, Any] = {}


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
    hyde_extension: str = DEFAULT_HYDE_EXTENSION
    pre_prompt_summary: str = DEFAULT_PRE_PROMPT_SUMMARY
    prompt_summary: str = DEFAULT_PROMPT_SUMMARY
    neighbour_chunks: int = 1  # rag+: chunks added on each side of every retrieved chunk
    reflection: Reflection | None = None
    # The template the prompts came from (see domain.prompting), and what its chat_template may read.
    template_id: str | None = None
    template_version: int | None = None
    chat_template: str | None = None  # a whole chat template in sandboxed Jinja2 for the answering call
    lang: str | None = None
    collection_name: str | None = None
    collection_description: str | None = None
    prompt_sources: dict[str, str] = {}  # where each prompt text came from (request, session_template, ...)


class Answer(msgspec.Struct, frozen=True, kw_only=True):
    text: str
    references: tuple[Reference, ...]
    prompt_raw: str
    llm: str
    rag_type: str
    usage: dict[str, Any]
    timings: dict[str, float]
    llm_only: str | None = None  # meta: the answer of a model call without any context
    hyde1: str | None = None  # meta: the HyDE first pass that widened retrieval
    self_reflection: str | None = None  # meta: the reflection call's verdict


class DocumentPrompts(msgspec.Struct, frozen=True, kw_only=True):
    """What a collection's template says about writing about its documents (h2oGPTe's ``auto_gen_*`` fields);
    None: the built-in text."""

    summary_pre_prompt: str | None = None
    summary_prompt: str | None = None
    questions_prompt: str | None = None


class PromptMessage(msgspec.Struct, frozen=True):
    role: str  # system | user | assistant
    content: str


class PromptPreview(msgspec.Struct, frozen=True, kw_only=True):
    """The answering call's prompt as the model would receive it, with the chunks it holds; no model called."""

    messages: tuple[PromptMessage, ...]
    prompt_raw: str  # the messages as one text, as an answer's prompt_raw records them
    references: tuple[Reference, ...]
    rag_type: str
    llm: str


class Answerer(Protocol):
    def models(self) -> list[str]: ...

    def answer(self, request: AnswerRequest, on_delta: Callable[[str], None] | None = None) -> Answer: ...

    def preview(self, request: AnswerRequest) -> PromptPreview: ...


# llm_args: the h2oGPTe keys Parley understands. Sampling keys go to the model; guided decoding only to backends
# that support it; the extractive model has no sampling at all and ignores them.
_NUMBER_ARGS = {"temperature": (0.0, 2.0), "top_p": (0.0, 1.0), "repetition_penalty": (0.0, 10.0)}
_INTEGER_ARGS = {
    "top_k": (0, 1_000_000),
    "seed": (0, 2**63 - 1),
    "max_new_tokens": (1, 1_000_000),
    "min_max_new_tokens": (1, 1_000_000),
}
GUIDED_ARGS = ("guided_json", "guided_regex", "guided_choice", "guided_grammar", "guided_whitespace_pattern")
RESPONSE_FORMATS = ("text", "json_object")
LLM_ARGS = (
    *_NUMBER_ARGS,
    *_INTEGER_ARGS,
    "response_format",
    *GUIDED_ARGS,
    "enable_vision",
)


def validate_llm_args(args: dict[str, Any]) -> dict[str, Any]:
    """``args`` checked key by key (unknown keys, wrong types and out-of-range values give InvalidCommand)."""
    unknown = sorted(set(args) - set(LLM_ARGS))
    if unknown:
        raise InvalidCommand(f"llm_args has unknown keys: {', '.join(unknown)}; known: {', '.join(LLM_ARGS)}")
    checked: dict[str, Any] = {}
    for key, value in args.items():
        if value is None:
            continue
        if key in _NUMBER_ARGS or key in _INTEGER_ARGS:
            low, high = _NUMBER_ARGS.get(key) or _INTEGER_ARGS[key]
            integral = key in _INTEGER_ARGS
            number = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
            if not number or (integral and value != int(value)):
                raise InvalidCommand(f"llm_args.{key} must be a{'n integer' if integral else ' number'}, got {value!r}")
            if not low <= value <= high:
                raise InvalidCommand(f"llm_args.{key} must lie between {low} and {high}, got {value!r}")
            checked[key] = int(value) if integral else float(value)
        elif key == "response_format":
            if value not in RESPONSE_FORMATS:
                raise InvalidCommand(f"llm_args.response_format must be one of {', '.join(RESPONSE_FORMATS)}")
            checked[key] = value
        elif key == "guided_choice":
            if not isinstance(value, list) or not value or not all(isinstance(c, str) for c in value):
                raise InvalidCommand("llm_args.guided_choice must be a non-empty list of strings")
            checked[key] = value
        elif key == "guided_json":
            if not isinstance(value, dict | str):
                raise InvalidCommand("llm_args.guided_json must be a JSON schema (object)")
            checked[key] = value
        elif key in GUIDED_ARGS:
            if not isinstance(value, str):
                raise InvalidCommand(f"llm_args.{key} must be a string")
            checked[key] = value
        elif value not in ("off", "auto"):  # enable_vision
            raise InvalidCommand("llm_args.enable_vision can only be off or auto: Parley has no vision models")
    return checked
