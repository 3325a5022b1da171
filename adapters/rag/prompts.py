"""The prompt templates of each model call, rendered in Jinja's sandbox by ``PromptAssembler``.

The h2oGPTe prompt fields (system prompt, pre/post query and summary texts, HyDE extension) and the question
are template *variables*: whatever a user writes in them is inserted as plain text, never rendered itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SYSTEM = "{{ system_prompt }}"

CONTEXT = """\"\"\"
{% for document in documents -%}
{% if document.meta.partial %}{{ document.meta.document_name }}{% else -%}
[{{ document.meta.citation or loop.index }}] {{ document.meta.document_name }}
{%- if document.meta.pages %} (page {{ document.meta.pages }}){% endif %}{% endif %}
{{ document.content }}

{% endfor -%}
\"\"\""""

# A line break after a pre-prompt, unless it ends with one already.
_NEWLINE = '{{% if not {0}.endswith("\\n") %}}\n{{% endif %}}'
_SUMMARY = (
    "{{ pre_prompt_summary }}"
    + _NEWLINE.format("pre_prompt_summary")
    + CONTEXT
    + ("\n{{ prompt_summary }}{{ question }}")
)

USER = {
    # rag, hyde's last pass, and llm_only (no documents)
    "answer": (
        "{%- if documents %}{{ pre_prompt_query }}"
        + _NEWLINE.format("pre_prompt_query")
        + CONTEXT
        + "\n{{ prompt_query }}{{ question }}{%- else %}{{ question }}{% endif %}"
    ),
    # HyDE's first pass: an answer without context, to retrieve with
    "hyde": "{{ question }}{{ hyde_extension }}",
    # map-reduce summarisation (rag+, all_data): one batch of chunks, or of partial summaries
    "map": _SUMMARY,
    "reduce": _SUMMARY,
    # self-reflection: the reflection prompt, already filled with the full prompt and the answer
    "reflect": "{{ question }}",
}
HISTORY_TASKS = frozenset({"answer", "hyde"})


@dataclass(frozen=True)
class PromptTemplate:
    """The templates one answer is rendered with: the system message's and the user message's of each task.

    ``template_id`` and ``version`` name a stored template (what ``AnswerGenerated`` records); both are None for
    the built-in one. ``chat``, when set, makes the messages of the ``answer`` task in place of ``system`` and
    ``user["answer"]``; the other tasks (HyDE's first pass, map-reduce, reflection) keep the built-in texts."""

    system: str = SYSTEM
    user: dict[str, str] = field(default_factory=lambda: dict(USER))
    template_id: str | None = None
    version: int | None = None
    chat: str | None = None  # an author's whole chat template (adapters.rag.chat_template) for the answer task

    def __deepcopy__(self, memo: dict[int, object]) -> PromptTemplate:
        # Never changed once made, so the copy a Haystack pipeline makes of each input can be the template itself.
        return self


BUILT_IN = PromptTemplate()

# At ingestion (gen_doc_summaries, gen_doc_questions): h2oGPTe's auto_gen_document_summary_* defaults, and the
# instruction that asks for suggested questions.
DOCUMENT_SUMMARY_PRE_PROMPT = (
    "In order to write a concise single-paragraph or bulleted list summary, pay attention to the following text:\n"
)
DOCUMENT_SUMMARY_PROMPT = (
    "Using only the text above, write a condensed and concise summary of key results (preferably as bullet points). "
)
DOCUMENT_QUESTIONS_PRE_PROMPT = "Read the following excerpt of a document:\n"
DOCUMENT_QUESTIONS_PROMPT = (
    "Write {count} short questions that the text above answers, one per line, without numbering or any other text. "
)
