"""What erasure (crypto-shredding) erases: the personal fields of chat events, and whose they are.

Every event of a chat session that holds text written by or about a person carries those fields sealed with the
session's own key, which lives outside the log (``SubjectKeyStore``). Erasing the session forgets the key: the
events stay (their types, times, actors, ids, stream versions and references to documents), while the fields
listed here read as ``ERASED`` for ever. The encryption itself is an adapter's business
(``adapters/crypto_shredding.py``); this module only says what is personal. Pure: no I/O, no crypto."""

from __future__ import annotations

from typing import Any

from domain.audit import Reader
from domain.errors import PermissionDenied

ERASED = "[erased]"  # what a personal field reads as once its subject's key is forgotten
SEALED = "[encrypted]"  # what a personal field holds in the stored event; its plaintext is in the sealed part

# The personal fields of each event type: the question, the answer and everything written from it (the raw
# prompt holds the question and the chat history; the HyDE and LLM-only passes and the self-reflection restate
# the answer), the replayed text, feedback, and the session's name. What stays readable: ids, the session's
# collection and owner, the asker's user name (an actor, like the envelope's), models, arguments, rag types,
# usage, timings, votes, failure reasons, template ids and versions, and the cited chunks (they are documents'
# text, recorded in the documents' own events too, and outlive the session as such).
PERSONAL_FIELDS: dict[str, tuple[str, ...]] = {
    "ChatSessionCreated": ("name",),
    "ChatSessionRenamed": ("name",),
    "QuestionAsked": ("text",),
    "AnswerGenerated": ("text", "prompt_raw", "llm_only", "hyde1", "self_reflection"),
    "AnswerReplayed": ("text",),
    "AnswerFeedbackGiven": ("expected_answer", "user_comment"),
}

# Texts an answer was looked up with, which derived stores (the embedding cache) keep under a hash of the text.
LOOKUP_FIELDS: dict[str, tuple[str, ...]] = {"QuestionAsked": ("text",), "AnswerGenerated": ("hyde1", "llm_only")}


def subject_of(event_type: str, payload: dict[str, Any]) -> str | None:
    """Whose personal data an event holds: its chat session's id (None: the event holds none)."""
    if event_type not in PERSONAL_FIELDS:
        return None
    subject = payload.get("session_id")
    return subject if isinstance(subject, str) and subject else None


def personal_values(event_type: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The event's personal fields that hold something (None and absent ones hold nothing to seal)."""
    return {name: payload[name] for name in PERSONAL_FIELDS.get(event_type, ()) if payload.get(name) is not None}


def lookup_texts(event_type: str, payload: dict[str, Any]) -> list[str]:
    """The texts of an event that answers were looked up with (a question, a HyDE pass)."""
    return [
        value for name in LOOKUP_FIELDS.get(event_type, ()) if isinstance(value := payload.get(name), str) and value
    ]


def check_erasure_access(reader: Reader) -> None:
    """Who may erase a session's personal data: an admin, for now (access control, issue 15, may let owners)."""
    if not reader.is_admin:
        raise PermissionDenied("erasing a chat session's personal data needs an admin API key")
