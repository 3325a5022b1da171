"""The one error hierarchy of Parley: every error raised on purpose derives from ParleyError.

Adapters translate the exceptions of their libraries into these; the API turns them into status codes.
"""

from __future__ import annotations


class ParleyError(Exception):
    """Root of every error Parley raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class DomainError(ParleyError):
    """A command broke a rule of the model."""


class NotFound(DomainError):
    """The aggregate (collection, document, session, ...) does not exist or was deleted."""


class Erased(NotFound):
    """The subject's personal data was erased (its key forgotten): nothing personal may be written for it again."""


class AlreadyExists(DomainError):
    """A create command names an aggregate that already exists."""


class InvalidCommand(DomainError):
    """The command is well-formed but its values are not acceptable."""


class UnsafeTemplate(InvalidCommand):
    """A template reaches for Python's internals (server-side template injection): refused, and recorded."""


class UnsupportedMediaType(InvalidCommand):
    """A body came in a media type the operation does not read."""


class PermissionDenied(ParleyError):
    """The caller is known but may not do this."""


class Unauthenticated(ParleyError):
    """No valid credentials came with the request."""


class PayloadTooLarge(InvalidCommand):
    """An upload or body is over the configured limit."""


class EventStoreError(ParleyError):
    """Base of the errors every event store adapter raises."""


class ConcurrencyError(EventStoreError):
    """The stream moved on since it was read: the expected version no longer holds."""


class DuplicateEventError(EventStoreError):
    """An event id was appended before, in another place than this append claims."""


class DocumentUnreadable(ParleyError):
    """A file could not be turned into text: corrupt, encrypted, empty, or of a kind we do not read."""


class BackendUnavailable(ParleyError):
    """A model server or other backend did not answer in time or answered with an error."""


class NotReady(ParleyError):
    """The server is still catching up with its log and cannot answer consistently yet."""


class ConfigurationError(ParleyError):
    """The server's own settings are wrong (an environment variable); nothing a client can fix."""


class AnswerAbandoned(ParleyError):
    """The client went away while its answer was streamed; the model stops and no answer is recorded."""
