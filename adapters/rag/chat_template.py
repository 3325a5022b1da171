"""Parley's ``chat_template``: a whole chat template in Jinja2's sandbox, checked when it is saved and bounded in
time and size whenever it is rendered.

An author writes the messages of the answering call, each opened by a role marker on a line of its own
(``<|system|>``, ``<|user|>``, ``<|assistant|>``; without any marker the whole text is one user message), over
these variables:

- ``question``; ``context`` (the retrieved chunks as the built-in prompt shows them, cited ``[1]``, ``[2]``...);
  ``documents`` (each with ``name``, ``page``, ``text``, ``score``, ``citation``); ``history`` (earlier turns,
  each with ``question`` and ``answer``); ``collection`` (``id``, ``name``, ``description``; None without one);
  ``now`` (UTC, ``2026-01-31T09:30Z``); and the resolved h2oGPTe texts ``system_prompt``, ``pre_prompt_query``,
  ``prompt_query`` and the template's ``lang``.

Usage::

    templates = SandboxedChatTemplates()
    templates.check("<|system|>\\n{{ system_prompt }}\\n<|user|>\\n{{ context }}\\n{{ question }}")
    templates.render(source, variables)  # [("system", "..."), ("user", "...")]

Only the markers written in the template's own text open messages: a question that holds ``<|system|>`` stays
text of the message it is in.
"""

from __future__ import annotations

import re
import secrets
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from functools import wraps
from types import FrameType, TracebackType
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, nodes
from jinja2 import meta as jinja_meta
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.sandbox import SandboxedEnvironment

from domain.errors import InvalidCommand, UnsafeTemplate

VARIABLES = (
    "question",
    "context",
    "documents",
    "history",
    "collection",
    "now",
    "system_prompt",
    "pre_prompt_query",
    "prompt_query",
    "lang",
)
ROLES = ("system", "user", "assistant")
MAX_OUTPUT_CHARS = 1_000_000  # far past any model's context: a template that writes more has run away
MAX_RENDER_SECONDS = 2.0  # the built-in prompts render in about a millisecond
MAX_COMPILED = 64  # templates kept compiled; each answer renders one several times while fitting its context
MAX_POWER_BITS = 4096  # an integer larger than this is no part of a prompt

# Reaching for these is how template injection climbs from a string to Python's internals: refused when saved.
_UNSAFE_NAMES = frozenset(
    {"self", "cycler", "joiner", "lipsum", "namespace", "config", "request", "session", "g", "url_for",
     "get_flashed_messages", "__builtins__", "os", "sys", "subprocess", "importlib", "builtins", "eval", "exec"}
)  # fmt: skip
_UNSAFE_ATTRIBUTES = frozenset({"mro", "format_map", "gi_frame", "gi_code", "f_globals", "f_locals", "func_globals"})
_ATTRIBUTE_FILTERS = frozenset({"map", "selectattr", "rejectattr", "sort", "groupby", "sum", "unique", "min", "max"})


class RenderLimit(InvalidCommand):
    """A chat template ran past its time or size bound."""


class _Budget(threading.local):
    deadline: float = 0.0
    active: bool = False

    def tick(self) -> None:
        if self.active and time.monotonic() > self.deadline:
            raise RenderLimit(f"chat_template took longer than {MAX_RENDER_SECONDS:g} s to render: stopped")


_budget = _Budget()


def _check_size(value: Any) -> Any:
    if isinstance(value, str | list | tuple | dict) and len(value) > MAX_OUTPUT_CHARS:
        _too_big()
    return value


def _check_arguments(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    """Refuses what would make a huge value in one C call, before the call (``'x'|center(10**9)``)."""
    values = [*args, *kwargs.values()]
    sized = sum(len(v) for v in values if isinstance(v, str | list | tuple))
    numbers = [v for v in values if isinstance(v, int) and not isinstance(v, bool)]
    if any(abs(n) > MAX_OUTPUT_CHARS for n in numbers):
        raise RenderLimit(f"chat_template asks for a size of more than {MAX_OUTPUT_CHARS:,}: stopped")
    strings = [v for v in values if isinstance(v, str)]
    replaced = len(strings) >= 3 and len(strings[0]) * max(len(strings[2]), 1) > MAX_OUTPUT_CHARS * 4  # replace()
    if replaced or sized > MAX_OUTPUT_CHARS * 4:
        _too_big()


def _too_big() -> None:
    raise RenderLimit(f"chat_template makes a value of more than {MAX_OUTPUT_CHARS:,} characters or items: stopped")


def _bounded(function: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(function)  # keeps Jinja's pass_context / pass_environment marks
    def call(*args: Any, **kwargs: Any) -> Any:
        _budget.tick()
        _check_arguments(args, kwargs)
        return _check_size(function(*args, **kwargs))

    return call


def _bounded_range(*args: int) -> Iterator[int]:
    numbers = range(*args)
    if len(numbers) > MAX_OUTPUT_CHARS:
        raise RenderLimit(f"chat_template loops over range() of more than {MAX_OUTPUT_CHARS:,} numbers: stopped")
    for number in numbers:
        _budget.tick()
        yield number


class _BoundedSandbox(SandboxedEnvironment):
    """Jinja's sandbox (no attribute of Python's internals, no unsafe callable), with every call, filter, power,
    repetition and ``range()`` bounded; loops are bounded by time, through a line tracer on the template's code."""

    intercepted_binops = frozenset({"*", "**"})  # also keeps the compiler from folding them before any check

    def __init__(self) -> None:
        super().__init__(autoescape=False, keep_trailing_newline=True, undefined=StrictUndefined)
        self.globals = {"range": _bounded_range, "dict": dict}
        self.filters = {name: _bounded(function) for name, function in self.filters.items()}

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        _budget.tick()
        numbers = isinstance(left, int) and isinstance(right, int)
        if operator == "**" and numbers and right > 0 and max(abs(left), 2).bit_length() * right > MAX_POWER_BITS:
            raise RenderLimit("chat_template computes a power too large for any prompt: stopped")
        if operator == "*":
            for sequence, times in ((left, right), (right, left)):
                repeated = isinstance(sequence, str | list | tuple) and isinstance(times, int)
                if repeated and len(sequence) * times > MAX_OUTPUT_CHARS:
                    _too_big()
            if numbers and left.bit_length() + right.bit_length() > MAX_POWER_BITS:
                raise RenderLimit("chat_template computes a number too large for any prompt: stopped")
        return _check_size(super().call_binop(context, operator, left, right))

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # Jinja's signature
        _budget.tick()
        _check_arguments(args, kwargs)
        return _check_size(super().call(__context, __obj, *args, **kwargs))


_TEMPLATE_FILE = "<template>"  # the file name Jinja gives the code of a template made from a string


def _line_tracer(frame: FrameType, event: str, arg: Any) -> Callable[..., Any] | None:
    if frame.f_code.co_filename != _TEMPLATE_FILE:
        return None  # only the template's own code is traced, line by line

    def each_line(frame: FrameType, event: str, arg: Any) -> Callable[..., Any]:
        _budget.tick()
        return each_line

    _budget.tick()
    return each_line


def _template_line(error: BaseException) -> int | None:
    """The template's line an error was raised at, from the traceback Jinja rewrites to point into it."""
    line = getattr(error, "lineno", None)
    trace: TracebackType | None = error.__traceback__
    while trace is not None:
        if trace.tb_frame.f_code.co_filename == _TEMPLATE_FILE:
            line = trace.tb_lineno
        trace = trace.tb_next
    return line if isinstance(line, int) else None


def _at(line: int | None) -> str:
    return f" (line {line})" if line else ""


class SandboxedChatTemplates:
    """The ``ChatTemplates`` port: checks a ``chat_template`` when it is saved, renders it for an answer."""

    def __init__(self) -> None:
        self.environment = _BoundedSandbox()
        # Marks the role markers of a template's own text; random, so no variable's text can forge one.
        self.marker = secrets.token_hex(8)
        self._compiled: dict[str, Template] = {}

    # --- when a template is saved --------------------------------------------------------------------------

    def check(self, source: str) -> None:
        try:
            tree = self.environment.parse(source)
        except TemplateSyntaxError as error:
            raise InvalidCommand(f"chat_template has a syntax error at line {error.lineno}: {error.message}") from None
        self._refuse_unsafe(tree)
        unknown = sorted(jinja_meta.find_undeclared_variables(tree) - set(VARIABLES) - set(self.environment.globals))
        if unknown:
            name = unknown[0]
            line = next((n.lineno for n in tree.find_all(nodes.Name) if n.name == name), None)
            known = ", ".join(VARIABLES)
            raise InvalidCommand(f"chat_template uses the unknown variable {name!r}{_at(line)}; it may use {known}")
        # A trial render over sample data finds loops, runaway output and type errors before anyone asks.
        self.render(source, SAMPLE_VARIABLES)

    @staticmethod
    def _refuse_unsafe(tree: nodes.Template) -> None:
        def refuse(node: nodes.Node, what: str) -> None:
            raise UnsafeTemplate(f"chat_template reaches for Python internals ({what}) at line {node.lineno}: refused")

        for node in tree.find_all((nodes.Import, nodes.FromImport, nodes.Include, nodes.Extends)):
            raise InvalidCommand(f"chat_template cannot include, import or extend templates (line {node.lineno})")
        for name in tree.find_all(nodes.Name):
            if name.name in _UNSAFE_NAMES or name.name.startswith("_"):
                refuse(name, name.name)
        for attribute in tree.find_all(nodes.Getattr):
            if attribute.attr.startswith("_") or attribute.attr in _UNSAFE_ATTRIBUTES:
                refuse(attribute, f".{attribute.attr}")
        for item in tree.find_all(nodes.Getitem):
            if isinstance(item.arg, nodes.Const) and isinstance(item.arg.value, str) and item.arg.value.startswith("_"):
                refuse(item, f"[{item.arg.value!r}]")
        for constant in tree.find_all(nodes.Const):
            if isinstance(constant.value, str) and "__" in constant.value:
                refuse(constant, repr(constant.value))
        for used in tree.find_all(nodes.Filter):
            if used.name == "attr":
                refuse(used, "the attr filter")
            if used.name in _ATTRIBUTE_FILTERS:
                for keyword in used.kwargs:
                    value = keyword.value
                    if isinstance(value, nodes.Const) and isinstance(value.value, str) and value.value.startswith("_"):
                        refuse(used, f"{used.name}(attribute={value.value!r})")

    # --- when an answer is made ----------------------------------------------------------------------------

    def render(self, source: str, variables: Mapping[str, Any]) -> list[tuple[str, str]]:
        """The messages, as (role, text); InvalidCommand (RenderLimit for the bounds) when it cannot render."""
        return _messages(self._bounded_render(self._compile(source), variables), self.marker)

    def _compile(self, source: str) -> Template:
        compiled = self._compiled.get(source)
        if compiled is None:
            marked = source
            for role in ROLES:
                marked = marked.replace(f"<|{role}|>", f"\x00{self.marker}:{role}\x00")
            try:
                compiled = self.environment.from_string(marked)
            except TemplateSyntaxError as error:
                raise InvalidCommand(
                    f"chat_template has a syntax error at line {error.lineno}: {error.message}"
                ) from None
            if len(self._compiled) >= MAX_COMPILED:
                self._compiled.clear()
            self._compiled[source] = compiled
        return compiled

    def _bounded_render(self, template: Template, variables: Mapping[str, Any]) -> str:
        previous = sys.gettrace()
        _budget.deadline, _budget.active = time.monotonic() + MAX_RENDER_SECONDS, True
        sys.settrace(_line_tracer)
        pieces: list[str] = []
        size = 0
        try:
            for piece in template.generate(**variables):
                size += len(piece)
                if size > MAX_OUTPUT_CHARS:
                    raise RenderLimit(f"chat_template renders more than {MAX_OUTPUT_CHARS:,} characters: stopped")
                pieces.append(piece)
        except SecurityError as error:
            line = _at(_template_line(error))
            raise UnsafeTemplate(f"chat_template reaches for Python internals{line}: {error}") from None
        except RenderLimit as error:
            raise RenderLimit(f"{error.message}{_at(_template_line(error))}") from None
        except UndefinedError as error:
            raise InvalidCommand(f"chat_template{_at(_template_line(error))}: {error.message}") from None
        except RecursionError:
            raise RenderLimit("chat_template recurses without end: stopped") from None
        except (TypeError, ValueError, ArithmeticError, LookupError, AttributeError) as error:
            raise InvalidCommand(f"chat_template cannot be rendered{_at(_template_line(error))}: {error}") from None
        finally:
            sys.settrace(previous)
            _budget.active = False
        return "".join(pieces)


def _messages(text: str, marker: str) -> list[tuple[str, str]]:
    # re.split with a group: text, role, text, role, text ...; the text before any marker is the user's.
    parts = re.split(f"\x00{marker}:({'|'.join(ROLES)})\x00", text)
    messages: list[tuple[str, str]] = []
    for index in range(0, len(parts), 2):
        role = parts[index - 1] if index else "user"
        content = parts[index].strip()
        if content:
            messages.append((role, content))
    if not messages:
        raise InvalidCommand("chat_template renders no message: it must write at least the question")
    return messages


# What a template is tried on when it is saved: the shape of every variable, with a turn of history.
SAMPLE_VARIABLES: dict[str, Any] = {
    "question": "What does the sample document say?",
    "context": '"""\n[1] sample.pdf (page 1)\nA sample chunk of text.\n\n"""',
    "documents": [{"name": "sample.pdf", "page": "1", "text": "A sample chunk of text.", "score": 0.9, "citation": 1}],
    "history": [{"question": "An earlier question?", "answer": "An earlier answer."}],
    "collection": {"id": "sample", "name": "Sample", "description": "A sample collection"},
    "now": "2026-01-31T09:30Z",
    "system_prompt": "You are a helpful assistant.",
    "pre_prompt_query": "Pay attention to the context below.\n",
    "prompt_query": "According to the context above, ",
    "lang": "en",
}
