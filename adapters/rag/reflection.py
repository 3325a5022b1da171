"""Self-reflection (``self_reflection_config``): one more model call that judges the answer against the full
prompt that made it; its verdict is stored as message meta."""

from __future__ import annotations

from haystack import Document

from adapters.rag.answer_run import AnswerRun
from adapters.rag.budget import ContextBudget
from adapters.rag.generation import Generation
from adapters.rag.models import ModelRegistry
from domain.answering import reflection_prompt
from domain.errors import ParleyError


class SelfReflection:
    def __init__(self, generation: Generation, budget: ContextBudget, models: ModelRegistry) -> None:
        self.generation = generation
        self.budget = budget
        self.models = models

    def reflect(self, run: AnswerRun, answer: str, documents: list[Document]) -> str:
        """The judge's verdict; when judging fails (its backend is down, its context too small) the answer stands
        and the verdict says why there is none."""
        try:
            return self._judge(run, answer, documents)
        except ParleyError as error:
            return f"Self-reflection failed: {error.message}"

    def _judge(self, run: AnswerRun, answer: str, documents: list[Document]) -> str:
        reflection = run.request.reflection
        assert reflection is not None
        judge = self.models.get(reflection.llm)
        shown = run.prompt_raw
        if judge.capabilities.reads_prompt:  # the judged prompt may be longer than its context: keep head and tail
            rest = reflection_prompt(reflection.prompt, "", answer) + (reflection.system_prompt or "")
            room = self.budget.judged_prompt_room(judge, rest)
            spans, keep = self.budget.tokenizer.token_spans(shown), room
            while self.budget.tokens(cut := _middle_cut(shown, spans, keep)) > room and keep > 0:
                keep = int(keep * 0.9)  # the budget also counts characters: cut until both measures fit
            shown = cut
        prompt = reflection_prompt(reflection.prompt, shown, answer)
        extra = {"llm_args": reflection.llm_args} if judge.capabilities.reads_prompt else {"answer": answer}
        reply = self.generation.generate(
            run, "reflect", prompt, documents, model=judge, system_prompt=reflection.system_prompt, **extra
        )
        return reply.text or ""


def _middle_cut(text: str, spans: list[tuple[int, int]], keep: int) -> str:
    """``text`` with tokens taken out of its middle so that ``keep`` of them are left, and a note of how many."""
    if len(spans) <= keep:
        return text
    head, tail = spans[: keep // 2], spans[len(spans) - (keep - keep // 2) :]
    start = head[-1][1] if head else 0
    end = tail[0][0] if tail else len(text)
    return f"{text[:start]} [... {len(spans) - keep} tokens omitted ...] {text[end:]}"
