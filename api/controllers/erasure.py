"""Parley's erasure extension: crypto-shred a chat session's personal data (admins only, for now)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, post

from api.bootstrap import Parley
from api.controllers._common import API, errors
from api.controllers.history import reader_of
from domain.usecases.erasure import Erasure


class ErasureController(Controller):
    """Erasure requests: the session's events stay in the log, their personal fields become unreadable."""

    path = API
    tags = ["audit"]

    @post("/chats/{session_id:str}/erase", status_code=200, operation_id="erase_chat_session",
          responses=errors(403, 404, 409), sync_to_thread=True)  # fmt: skip
    def erase_chat_session(self, parley: Parley, request: Request[Any, Any, Any], session_id: str) -> Erasure:
        """Records ``ChatSessionErased`` (the session leaves every read), forgets the session's key, so its
        questions, answers, prompts, feedback and names read as ``[erased]`` in the log from then on, and drops the
        embedding cache's vectors of its questions. A deleted session may be erased; erasing again is a no-op."""
        (erased,) = parley.erasing()(reader_of(request), [session_id])
        return erased
