"""Asking a question in a chat session: the session's and collection's settings with the caller's overrides,
checked; the answer; the question and its answer (or why there is none) recorded together."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import msgspec

from domain import chat
from domain.answering import (
    CLIENT_DEFAULT_PRE_PROMPT_QUERY,
    CLIENT_DEFAULT_PROMPT_QUERY,
    DEFAULT_PROMPT_REFLECTION,
    DEFAULT_SYSTEM_PROMPT,
    FUSION_MODES,
    RETRIEVAL_MODES,
    AnswerRequest,
    PromptPreview,
    Reflection,
    Turn,
    reflection_prompt,
    validate_llm_args,
)
from domain.collection import RAG_TYPES
from domain.errors import DomainError, InvalidCommand, NotFound, ParleyError
from domain.events import AnswerGenerated, ChatSettings, TemplateFields
from domain.ports import Answerer, AnswerReads, AppendResult
from domain.prompting import AppliedTemplate, ResolvedPrompts, resolve_prompts, template_header
from domain.service import CommandHandler, stream_name
from domain.template import DEFAULT_TEMPLATE
from domain.views import ChatSessionView, CollectionView


class AnswerOverrides(msgspec.Struct, frozen=True, kw_only=True):
    """What a caller may set for one question, over the collection's chat settings (h2oGPTe's completion fields)."""

    system_prompt: str | None = None
    pre_prompt_query: str | None = None
    prompt_query: str | None = None
    pre_prompt_summary: str | None = None
    prompt_summary: str | None = None
    llm: str | None = None
    llm_args: dict[str, Any] | None = None
    self_reflection_config: dict[str, Any] | None = None
    rag_config: dict[str, Any] | None = None
    include_chat_history: str | None = None


class Ask(msgspec.Struct, frozen=True, kw_only=True):
    session_id: str
    message: str
    actor: str
    overrides: AnswerOverrides = AnswerOverrides()


class Asked(msgspec.Struct, frozen=True, kw_only=True):
    message_id: str  # of the answer
    text: str


HISTORY_TURNS = 5
HISTORY_ON = {"true", "on", "auto"}
HISTORY_OFF = {"false", "off"}


def _merged(collection: dict[str, Any] | None, request: dict[str, Any] | None) -> dict[str, Any]:
    """A request's settings laid over the collection's, key by key."""
    return {**(collection or {}), **(request or {})}


def _number(config: dict[str, Any], key: str, kind: type, default: Any) -> Any:
    value = config.get(key, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or (kind is int and not isinstance(value, int)):
        raise InvalidCommand(f"rag_config.{key} must be a{'n integer' if kind is int else ' number'}, got {value!r}")
    return value


def _choice(config: dict[str, Any], key: str, allowed: tuple[str, ...]) -> str:
    value = config.get(key, allowed[0])
    if value not in allowed:
        raise InvalidCommand(f"rag_config.{key} must be one of {', '.join(allowed)}, got {value!r}")
    return str(value)


def _text(config: dict[str, Any], key: str) -> str | None:
    value = config.get(key)
    if value is not None and not isinstance(value, str):
        raise InvalidCommand(f"{key} must be a string, got {value!r}")
    return value


# The request's prompt fields: top-level in the completion, or in its rag_config / self_reflection_config.
_TOP_LEVEL_PROMPTS = ("system_prompt", "pre_prompt_query", "prompt_query", "pre_prompt_summary", "prompt_summary")
_REFLECTION_PROMPTS = ("system_prompt_reflection", "prompt_reflection")
# The strings the h2oGPTe client always sends mean "the default": the next source answers.
_CLIENT_DEFAULTS = {"pre_prompt_query": CLIENT_DEFAULT_PRE_PROMPT_QUERY, "prompt_query": CLIENT_DEFAULT_PROMPT_QUERY}


def _prompts_in(
    rag_config: dict[str, Any] | None, reflection_config: dict[str, Any] | None, top_level: AnswerOverrides | None
) -> dict[str, str | None]:
    """The prompt texts a request or a collection's chat settings give, by template field name: from
    ``rag_config`` and ``self_reflection_config``, and a request's top-level fields over those."""
    texts = {key: _text(rag_config or {}, key) for key in (*_TOP_LEVEL_PROMPTS, "hyde_no_rag_llm_prompt_extension")}
    texts.update({key: _text(reflection_config or {}, key) for key in _REFLECTION_PROMPTS})
    for key in _TOP_LEVEL_PROMPTS if top_level is not None else ():
        if getattr(top_level, key) is not None:
            texts[key] = getattr(top_level, key)
    return texts


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _reflection(config: dict[str, Any], llm: str, default_llm: str, prompts: ResolvedPrompts) -> Reflection | None:
    """Self-reflection runs when ``self_reflection_config`` has any setting; its texts come by the precedence."""
    if not config:
        return None
    unknown = set(config) - {"llm_reflection", "prompt_reflection", "system_prompt_reflection", "llm_args_reflection"}
    if unknown:
        raise InvalidCommand(f"self_reflection_config has unknown keys: {', '.join(sorted(unknown))}")
    llm_args = config.get("llm_args_reflection") or {}
    if isinstance(llm_args, str):
        try:
            llm_args = json.loads(llm_args, parse_constant=_no_constant)
        except (json.JSONDecodeError, ValueError) as error:
            raise InvalidCommand(f"self_reflection_config.llm_args_reflection is not JSON: {error}") from error
    if not isinstance(llm_args, dict):
        raise InvalidCommand("self_reflection_config.llm_args_reflection must be a JSON object")
    prompt = prompts.texts["prompt_reflection"] or DEFAULT_PROMPT_REFLECTION
    reflection_prompt(prompt, "", "")  # exactly two %s, or 400
    model = _text(config, "llm_reflection") or llm
    if model == "auto":  # as for `llm`: the default model
        model = default_llm
    # Empty: no system prompt.
    system = prompts.texts["system_prompt_reflection"]
    return Reflection(llm=model, prompt=prompt, system_prompt=system or None, llm_args=validate_llm_args(llm_args))


class _Scope(msgspec.Struct, frozen=True, kw_only=True):
    """What a request's settings take from its collection: a collection's settings checked before it exists."""

    id: str
    rag_type: str | None


class AskInSession:
    """Answers a question in a chat session and records the question with its answer, or with why it has none."""

    def __init__(
        self,
        handler: CommandHandler,
        reads: AnswerReads,
        answerer: Answerer,
        wait_for: Callable[[int | None], None],
        default_llm: str,
    ) -> None:
        self.handler = handler
        self.reads = reads
        self.answerer = answerer
        self.wait_for = wait_for
        self.default_llm = default_llm

    def __call__(self, ask: Ask, on_delta: Callable[[str], None] | None = None) -> Asked:
        """A client's mistake raises and records nothing. Any other failure (a backend down, a fault of Parley's
        own) is recorded as AnswerFailed and re-raised, so the session shows the question and why it has no answer.
        """
        session = self.reads.chat_session(ask.session_id)
        if session is None:
            raise NotFound(f"chat session {ask.session_id} not found")
        if not ask.message.strip():
            raise InvalidCommand("message cannot be empty")
        answer_request = self.answer_request(session, ask)
        question_id, answer_id = str(uuid.uuid4()), str(uuid.uuid4())
        stream = stream_name("chat", ask.session_id)
        asked = chat.AskQuestion(
            session_id=ask.session_id, message_id=question_id, text=ask.message, username=ask.actor
        )
        try:
            answer = self.answerer.answer(answer_request, on_delta)
        except DomainError:
            raise  # the client's mistake: nothing is recorded
        except Exception as error:  # a backend down, or a fault of Parley's own: the session shows why
            reason = error.message if isinstance(error, ParleyError) else f"internal error ({type(error).__name__})"
            failure = chat.RecordAnswerFailure(
                session_id=ask.session_id,
                message_id=answer_id,
                reply_to=question_id,
                reason=reason,
                error_type=type(error).__name__,
            )
            self.wait_for(_position(self.handler.execute(chat, stream, asked, failure)))
            raise
        event = AnswerGenerated(
            session_id=ask.session_id,
            message_id=answer_id,
            reply_to=question_id,
            text=answer.text,
            references=answer.references,
            rag_type=answer.rag_type,
            llm=answer.llm,
            llm_args=answer_request.llm_args,
            template_id=answer_request.template_id,
            template_version=answer_request.template_version,
            prompt_raw=answer.prompt_raw,
            usage=answer.usage,
            timings=answer.timings,
            llm_only=answer.llm_only,
            hyde1=answer.hyde1,
            self_reflection=answer.self_reflection,
        )
        self.wait_for(_position(self.handler.execute(chat, stream, asked, chat.RecordAnswer(answer=event))))
        return Asked(message_id=answer_id, text=answer.text)

    def answer_request(
        self, session: ChatSessionView, ask: Ask, in_place_of_session: AppliedTemplate | None = None
    ) -> AnswerRequest:
        """What the answerer is asked: the caller's overrides over the session's template, the collection's
        template and the collection's chat settings (``in_place_of_session``: a template previewed there)."""
        collection = self.reads.collection(session.collection_id) if session.collection_id else None
        defaults = (
            msgspec.json.decode(collection.chat_settings, type=ChatSettings)
            if collection is not None
            else ChatSettings()
        )
        session_template = in_place_of_session or self._applied(session.prompt_template_id, "session")
        templates = [
            session_template,
            self._applied(collection.prompt_template_id if collection else None, "collection"),
        ]
        applied = [template for template in templates if template is not None]
        return self._resolve(ask.message, defaults, ask.overrides, collection, session.id, applied)

    def preview(
        self,
        template_id: str,
        question: str,
        *,
        session_id: str | None = None,
        collection_id: str | None = None,
        actor: str,
        overrides: AnswerOverrides | None = None,
    ) -> tuple[AnswerRequest, PromptPreview]:
        """The answering call's prompt for ``question`` made with template ``template_id`` (in the session's place
        over the collection's template), with the chunks retrieved for it; no model is called and nothing is
        recorded. With ``session_id`` the session's history takes part, as in its next answer; ``overrides``: a
        completion's own settings (the model, rag_config)."""
        previewed = self._applied(template_id, "previewed", required=True)
        if session_id is not None and collection_id is not None:
            raise InvalidCommand("preview in a chat session or in a collection, not both")
        if not question.strip():
            raise InvalidCommand("question cannot be empty")
        overrides = overrides or AnswerOverrides()
        ask = Ask(session_id=session_id or "", message=question, actor=actor, overrides=overrides)
        if session_id is not None:
            session = self.reads.chat_session(session_id)
            if session is None:
                raise NotFound(f"chat session {session_id} not found")
            request = self.answer_request(session, ask, previewed)
        else:
            collection = self.reads.collection(collection_id) if collection_id is not None else None
            if collection_id is not None and collection is None:
                raise NotFound(f"collection {collection_id} not found")
            defaults = ChatSettings()
            templates = [previewed]
            if collection is not None:
                defaults = msgspec.json.decode(collection.chat_settings, type=ChatSettings)
                templates.append(self._applied(collection.prompt_template_id, "collection"))
            applied = [template for template in templates if template is not None]
            request = self._resolve(question, defaults, overrides, collection, None, applied)
        preview = self.answerer.preview(request)
        header = template_header(request.template_id or "", request.template_version)
        return request, msgspec.structs.replace(preview, prompt_raw=header + preview.prompt_raw)

    def _applied(self, template_id: str | None, place: str, *, required: bool = False) -> AppliedTemplate | None:
        """The stored template ``template_id`` as it reads now; None when none is named, or (unless ``required``)
        when it has been deleted since it was attached."""
        if template_id is None:
            return None
        if template_id == DEFAULT_TEMPLATE.id:
            return AppliedTemplate(template_id=template_id, version=None, fields=DEFAULT_TEMPLATE.fields, place=place)
        row = self.reads.template(template_id)
        if row is None:
            if required:
                raise NotFound(f"prompt template {template_id} not found")
            return None
        fields = msgspec.json.decode(row.fields, type=TemplateFields)
        return AppliedTemplate(template_id=row.id, version=row.version, fields=fields, place=place)

    def check_chat_settings(self, settings: ChatSettings, rag_type: str | None = None) -> None:
        """A collection's chat settings are checked where they are set, by the same rules as a completion's, so a
        bad setting is a 400 at once rather than in every later completion."""
        probe = self._resolve("?", settings, AnswerOverrides(), _Scope(id="", rag_type=rag_type), None, [])
        self.answerer.check(probe)

    def _resolve(
        self,
        question: str,
        defaults: ChatSettings,
        request: AnswerOverrides,
        collection: CollectionView | _Scope | None,
        session_id: str | None,
        templates: Sequence[AppliedTemplate],
    ) -> AnswerRequest:
        """The request's settings over the collection's ``defaults``, checked, and the prompt texts by the
        precedence over ``templates`` (nearest first); ``session_id`` None: no history."""
        config = _merged(defaults.rag_config, request.rag_config)
        prompts = resolve_prompts(
            _prompts_in(request.rag_config, request.self_reflection_config, request),
            templates,
            _prompts_in(defaults.rag_config, defaults.self_reflection_config, None),
            _CLIENT_DEFAULTS,
        )
        rag_type = config.get("rag_type") or (collection.rag_type if collection is not None else None) or "rag"
        if rag_type not in RAG_TYPES:
            raise InvalidCommand(f"rag_config.rag_type must be one of {', '.join(RAG_TYPES)}, got {rag_type!r}")
        if collection is None:
            rag_type = "llm_only"
        max_chunks = _number(config, "rag_max_chunks", int, 10)
        if max_chunks <= 0:  # h2oGPTe's -1: not set
            max_chunks = 10
        if max_chunks > 200:
            raise InvalidCommand("rag_config.rag_max_chunks must be at most 200")
        min_score = _number(config, "rag_min_chunk_score", float, None)
        if min_score is not None and min_score <= 0:  # h2oGPTe's 0.0: not set
            min_score = None
        neighbours = _number(config, "num_neighbor_chunks_to_include", int, 1)
        if not 0 <= neighbours <= 10:
            raise InvalidCommand("rag_config.num_neighbor_chunks_to_include must be between 0 and 10")
        retrieval = _choice(config, "retrieval", RETRIEVAL_MODES)
        fusion = _choice(config, "fusion", FUSION_MODES)
        fusion_weight = _number(config, "fusion_weight", float, 0.5)
        if not 0.0 <= fusion_weight <= 1.0:
            raise InvalidCommand("rag_config.fusion_weight must lie between 0 and 1")
        llm = request.llm or defaults.llm or self.default_llm
        if llm == "auto":
            llm = self.default_llm
        history_mode = (request.include_chat_history or defaults.include_chat_history or "auto").lower()
        if history_mode not in HISTORY_ON | HISTORY_OFF:
            raise InvalidCommand(f"include_chat_history must be true, false or auto, got {history_mode!r}")
        history = self._history(session_id) if session_id and history_mode in HISTORY_ON else ()
        texts = prompts.texts
        system_prompt = texts["system_prompt"]
        if system_prompt == "auto":
            system_prompt = DEFAULT_SYSTEM_PROMPT
        reflection_config = _merged(defaults.self_reflection_config, request.self_reflection_config)
        return AnswerRequest(
            question=question,
            collection_id=collection.id if collection is not None else None,
            rag_type=rag_type,
            llm=llm,
            llm_args=validate_llm_args(request.llm_args or defaults.llm_args or {}),
            system_prompt=system_prompt or None,
            pre_prompt_query=texts["pre_prompt_query"] or "",
            prompt_query=texts["prompt_query"] or "",
            pre_prompt_summary=texts["pre_prompt_summary"] or "",
            prompt_summary=texts["prompt_summary"] or "",
            hyde_extension=texts["hyde_no_rag_llm_prompt_extension"] or "",
            rag_max_chunks=max_chunks,
            rag_min_chunk_score=min_score,
            neighbour_chunks=neighbours,
            retrieval=retrieval,
            fusion=fusion,
            fusion_weight=fusion_weight,
            history=history,
            reflection=_reflection(reflection_config, llm, self.default_llm, prompts),
            template_id=prompts.template_id,
            template_version=prompts.template_version,
            chat_template=texts["chat_template"],
            lang=prompts.lang,
            collection_name=collection.name if isinstance(collection, CollectionView) else None,
            collection_description=collection.description if isinstance(collection, CollectionView) else None,
            prompt_sources=prompts.sources,
        )

    def _history(self, session_id: str) -> tuple[Turn, ...]:
        messages = self.reads.messages(session_id)
        questions = {m.id: m.content for m in messages if m.reply_to is None}
        turns = [
            Turn(question=questions[m.reply_to], answer=m.content)
            for m in messages
            if m.reply_to in questions and m.error is None
        ]
        return tuple(turns[-HISTORY_TURNS:])


def _position(result: AppendResult | None) -> int | None:
    return result.commit_position if result is not None else None
