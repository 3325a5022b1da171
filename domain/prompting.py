"""Which text each prompt of an answer is made with, and where it came from.

Precedence, field by field: the request's own field > the chat session's template > the collection's template >
the collection's ``chat_settings`` > the built-in default template (whose system prompt is what ``auto`` means:
given by no source, an answer has no system message). A template's field that is not set, or a
request field the h2ogpte client fills in with its own copy of a default, passes the question to the next source.
The answer records the nearest template that applied (the session's, else the collection's, else the default)
with its version, and the source of every field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import msgspec

from domain.answering import DocumentPrompts
from domain.events import TemplateFields
from domain.template import DEFAULT_FIELDS, DEFAULT_TEMPLATE_ID

# The fields of a template that shape an answer's prompts (the rest are about documents, or are labels).
PROMPT_FIELDS = (
    "system_prompt",
    "pre_prompt_query",
    "prompt_query",
    "hyde_no_rag_llm_prompt_extension",
    "pre_prompt_summary",
    "prompt_summary",
    "system_prompt_reflection",
    "prompt_reflection",
    "chat_template",
)
REQUEST, CHAT_SETTINGS, DEFAULT = "request", "chat_settings", "default"
# The default template's texts as the last source, but for its system prompt: an answer has no system message
# unless some source gives one (as Parley answered before templates), and ``auto`` names the default's.
_DEFAULT_LAYER = {**msgspec.structs.asdict(DEFAULT_FIELDS), "system_prompt": None}


class AppliedTemplate(msgspec.Struct, frozen=True, kw_only=True):
    """A template and where an answer takes it from: ``place`` is ``session``, ``collection`` or ``previewed``."""

    template_id: str
    version: int | None  # None for the built-in default
    fields: TemplateFields
    place: str


class ResolvedPrompts(msgspec.Struct, frozen=True, kw_only=True):
    texts: dict[str, str | None]  # each of PROMPT_FIELDS; None: no such text (no chat_template, say)
    sources: dict[str, str]  # each field's source: request, session_template, collection_template, ...
    template_id: str  # the nearest template that applied
    template_version: int | None  # None for the built-in default, which has no versions
    lang: str | None  # the nearest template's language label


def resolve_prompts(
    request: Mapping[str, str | None],
    templates: Sequence[AppliedTemplate],
    chat_settings: Mapping[str, str | None],
    means_default: Mapping[str, str] | None = None,
) -> ResolvedPrompts:
    """Each prompt field from the first source that gives it. ``templates``: nearest first (the session's, then
    the collection's). ``means_default``: per field, a text that counts as not given (the client's copies)."""
    ignored = means_default or {}
    layers: list[tuple[str, Mapping[str, object]]] = [(REQUEST, request)]
    layers += [(f"{t.place}_template", msgspec.structs.asdict(t.fields)) for t in templates]
    layers += [(CHAT_SETTINGS, chat_settings), (DEFAULT, _DEFAULT_LAYER)]
    texts: dict[str, str | None] = {}
    sources: dict[str, str] = {}
    for name in PROMPT_FIELDS:
        texts[name], sources[name] = None, DEFAULT
        for source, values in layers:
            value = values.get(name)
            if isinstance(value, str) and value != ignored.get(name):
                texts[name], sources[name] = value, source
                break
    nearest = templates[0] if templates else None
    lang = next((t.fields.lang for t in templates if t.fields.lang), DEFAULT_FIELDS.lang)
    return ResolvedPrompts(
        texts=texts,
        sources=sources,
        template_id=nearest.template_id if nearest else DEFAULT_TEMPLATE_ID,
        template_version=nearest.version if nearest else None,
        lang=lang,
    )


def template_header(template_id: str, version: int | None) -> str:
    """The block that heads an answer's ``prompt_raw`` meta (and a preview's): which template made the prompt."""
    return f"<|template|>\n{template_id} version {version if version is not None else 'built-in'}\n\n"


def document_prompts(fields: TemplateFields | None) -> DocumentPrompts:
    """The ``auto_gen_document_*`` texts of a collection's template, for its documents' summaries and questions."""
    if fields is None:
        return DocumentPrompts()
    return DocumentPrompts(
        summary_pre_prompt=fields.auto_gen_document_summary_pre_prompt_summary,
        summary_prompt=fields.auto_gen_document_summary_prompt_summary,
        questions_prompt=fields.auto_gen_document_sample_questions_prompt,
    )
