"""Commands refused as attacks (a template injection, say), written to the server's log with who sent them.

They append no domain event: the log holds what happened, and a refused command made nothing happen. The
``parley.refused`` logger is where an operator (or a log shipper) finds them, one line each.
"""

from __future__ import annotations

import logging

from domain.envelope import current_context

log = logging.getLogger("parley.refused")


class LoggedRefusals:
    """The ``RefusedCommands`` port on Python's logging.

    Usage::

        LoggedRefusals().record("create_prompt_template", "chat_template reaches for ...", "template 'x': '...'")
    """

    def record(self, command: str, reason: str, detail: str) -> None:
        context = current_context()
        log.warning(
            "refused %s from actor=%s key=%s correlation=%s: %s; %s",
            command,
            context.actor,
            context.key_id,
            context.correlation_id,
            reason,
            detail,
        )
