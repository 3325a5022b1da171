"""The use cases, wired to the process's adapters (each is a few references: made per request, cheaply)."""

from __future__ import annotations

from api.bootstrap import Parley
from domain.usecases.ask import AskInSession
from domain.usecases.collections import ManageCollections
from domain.usecases.commands import Commands
from domain.usecases.sessions import ManageChatSessions
from domain.usecases.uploads import ReceiveUploads

EMBEDDING_MODELS = ("all-MiniLM-L6-v2",)


def asking(parley: Parley) -> AskInSession:
    return AskInSession(
        parley.handler, parley.read_models, parley.answerer, parley.wait_for, parley.settings.default_llm
    )


def collections(parley: Parley) -> ManageCollections:
    return ManageCollections(
        Commands(parley.handler, parley.wait_for),
        parley.read_models,
        EMBEDDING_MODELS,
        asking(parley).check_chat_settings,
    )


def sessions(parley: Parley) -> ManageChatSessions:
    return ManageChatSessions(Commands(parley.handler, parley.wait_for), parley.read_models)


def receiving(parley: Parley) -> ReceiveUploads:
    return ReceiveUploads(Commands(parley.handler, parley.wait_for), parley.blobs)
