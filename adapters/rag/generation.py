"""One model call: the prompt for a task, fitted to the model's context, then the model; streamed when it is the
answer's last call, and counted in the run (calls, tokens, the prompt and context it held)."""

from __future__ import annotations

from typing import Any

from haystack import Document
from haystack.dataclasses import ChatMessage, StreamingChunk

from adapters.rag import prompts
from adapters.rag.answer_run import AnswerRun
from adapters.rag.budget import ContextBudget
from adapters.rag.components import render_prompt
from adapters.rag.graphs import run_pipeline
from adapters.rag.models import ChatModel
from domain.chunking import split_sentences
from domain.errors import InvalidCommand


class Generation:
    """Makes the model calls of every recipe, within ``max_llm_calls`` per answer (reflection aside)."""

    def __init__(self, budget: ContextBudget, max_llm_calls: int) -> None:
        self.budget = budget
        self.max_llm_calls = max_llm_calls

    def generate(
        self,
        run: AnswerRun,
        task: str,
        question: str,
        documents: list[Document],
        *,
        final: bool = False,
        model: ChatModel | None = None,
        **extra: Any,
    ) -> ChatMessage:
        """One call of ``model`` (the run's own by default) for ``task`` (see ``prompts.USER``; ``feedback`` is an
        answer the extractive model makes into pseudo-relevance feedback).

        A model that reads the prompt has it fitted to its context (the lowest-ranked documents go first, and they
        are left out of the references too); the ``final`` call streams its text to ``run.on_delta``. ``extra``:
        ``system_prompt`` and ``llm_args`` in place of the request's, or more structured inputs of a model that
        does not read the prompt.
        """
        if run.calls >= self.max_llm_calls and task != "reflect":
            raise InvalidCommand(
                f"this answer needs more than {self.max_llm_calls} model calls (PARLEY_MAX_LLM_CALLS); "
                "ask with fewer chunks or another rag_type"
            )
        request = run.request
        model = model or run.model
        capabilities = model.capabilities
        prompt_inputs = self.prompt_inputs(run, model, task, question, documents, extra.pop("system_prompt", None))
        stream = run.on_delta if final else None
        if capabilities.reads_prompt:
            llm_args = extra.pop("llm_args", request.llm_args)
            documents, max_tokens = self.budget.fit(model, prompt_inputs, llm_args)
            prompt_inputs["documents"] = documents
            model_inputs: dict[str, Any] = {"llm_args": llm_args, "max_tokens": max_tokens}
        else:
            # It reads the structured context beside the prompt; a follow-up's embedding is of the question as
            # asked, the repaired text is of what retrieval searched with.
            model_inputs = {"question": question, "documents": documents, "task": task, **extra}
            if question in run.embeddings:
                model_inputs["question_embedding"] = run.embeddings[question]
                model_inputs["repaired_question"] = run.repaired.get(question, question)
        if stream is not None and capabilities.streams_tokens:
            delta = stream  # a plain closure: the pipeline deep-copies its inputs

            def on_chunk(chunk: StreamingChunk) -> None:
                if chunk.content:
                    delta(chunk.content)

            model_inputs["streaming_callback"] = on_chunk
        result = run_pipeline(
            model.pipeline, {"prompt_builder": prompt_inputs, "llm": model_inputs}, {"prompt_builder"}
        )
        reply: ChatMessage = result["llm"]["replies"][0]
        if stream is not None and not capabilities.streams_tokens:
            for start, end in split_sentences(reply.text or ""):  # sentence by sentence, once the reply is made
                stream((" " if start else "") + (reply.text or "")[start:end])
        prompt = render_prompt(result["prompt_builder"]["prompt"])
        usage = reply.meta.get("usage") or {}
        tokenizer = self.budget.tokenizer
        run.calls += 1
        run.input_tokens += int(usage.get("prompt_tokens") or len(tokenizer.token_spans(prompt)))
        run.output_tokens += int(usage.get("completion_tokens") or len(tokenizer.token_spans(reply.text or "")))
        if task != "reflect":
            run.prompt_raw = prompt
            run.context = documents
            run.reply_meta = reply.meta
        return reply

    def prompt_inputs(
        self,
        run: AnswerRun,
        model: ChatModel,
        task: str,
        question: str,
        documents: list[Document],
        system_prompt: str | None = None,
    ) -> dict[str, Any]:
        """What the prompt assembler renders one call of ``task`` from."""
        request = run.request
        history = self.budget.history(model, request.history) if task in prompts.HISTORY_TASKS else []
        collection = None
        if request.collection_id is not None:
            name, description = request.collection_name or "", request.collection_description or ""
            collection = {"id": request.collection_id, "name": name, "description": description}
        return {
            "task": "answer" if task == "feedback" else task,
            "question": question,
            "documents": documents,
            "system_prompt": request.system_prompt if system_prompt is None else system_prompt,
            "pre_prompt_query": request.pre_prompt_query,
            "prompt_query": request.prompt_query,
            "pre_prompt_summary": request.pre_prompt_summary,
            "prompt_summary": request.prompt_summary,
            "hyde_extension": request.hyde_extension,
            "history": history,
            "template": run.template,
            "collection": collection,
            "now": run.now,
            "lang": request.lang,
        }

    def preview(
        self, run: AnswerRun, question: str, documents: list[Document]
    ) -> tuple[list[ChatMessage], list[Document]]:
        """The messages of the answering call ``generate`` would make, and the documents they hold, without the
        model: fitted to its context exactly as that call fits them."""
        model = run.model
        prompt_inputs = self.prompt_inputs(run, model, "answer", question, documents)
        if model.capabilities.reads_prompt:
            prompt_inputs["documents"], _ = self.budget.fit(model, prompt_inputs, run.request.llm_args)
        messages: list[ChatMessage] = self.budget.assembler.run(**prompt_inputs)["prompt"]
        return messages, list(prompt_inputs["documents"])
