"""The prompt assembler renders the template it is handed at run time, in Jinja's sandbox."""

from __future__ import annotations

from haystack import Document

from adapters.rag import prompts
from adapters.rag.components import PromptAssembler, render_prompt

DOCUMENTS = [Document(content="It was built in 1887.", meta={"document_name": "kestrel.pdf", "pages": "2"})]


def test_without_a_template_the_built_in_one_is_rendered() -> None:
    assembler = PromptAssembler()
    inputs = {"question": "When?", "documents": DOCUMENTS, "system_prompt": "Be brief.", "pre_prompt_query": "Read:"}
    assert assembler.run(**inputs)["prompt"] == assembler.run(**inputs, template=prompts.BUILT_IN)["prompt"]
    assert render_prompt(assembler.run(**inputs)["prompt"]) == (
        '<|system|>\nBe brief.\n\n<|user|>\nRead:\n"""\n[1] kestrel.pdf (page 2)\nIt was built in 1887.\n\n"""\nWhen?'
    )


def test_a_template_given_at_run_time_is_rendered_and_its_fields_are_plain_text() -> None:
    template = prompts.PromptTemplate(
        system="[{{ system_prompt }}]",
        user={**prompts.USER, "answer": "Q: {{ question }} ({{ documents | length }} sources)"},
        template_id="t-1",
        version=3,
    )
    messages = PromptAssembler().run(question="{{ 7 * 7 }}?", system_prompt="{{ secret }}", template=template)["prompt"]
    assert [message.text for message in messages] == ["[{{ secret }}]", "Q: {{ 7 * 7 }}? (0 sources)"]


def test_one_assembler_renders_different_templates_in_turn() -> None:
    assembler = PromptAssembler()
    first = prompts.PromptTemplate(user={**prompts.USER, "answer": "one: {{ question }}"})
    second = prompts.PromptTemplate(user={**prompts.USER, "answer": "two: {{ question }}"})
    for template, expected in ((first, "one: Why?"), (second, "two: Why?"), (first, "one: Why?")):
        assert assembler.run(question="Why?", template=template)["prompt"][0].text == expected
