"""The h2oGPTe completion request as the input of the ask use case (``domain.usecases.ask``)."""

from __future__ import annotations

import msgspec

from api.schemas import ChatCompletionRequest
from domain.usecases.ask import AnswerOverrides, Ask

OVERRIDES = tuple(field.name for field in msgspec.structs.fields(AnswerOverrides))


def ask_of(session_id: str, request: ChatCompletionRequest, actor: str) -> Ask:
    overrides = AnswerOverrides(**{name: getattr(request, name) for name in OVERRIDES})
    return Ask(session_id=session_id, message=request.message, actor=actor, overrides=overrides)
