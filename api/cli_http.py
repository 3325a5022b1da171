"""What the CLI commands that talk to a running server share: a client on its API and the check of an answer."""

from __future__ import annotations

import argparse
from typing import Any


def api_client(args: argparse.Namespace) -> Any:
    """An httpx client on ``args.url``'s ``/api/v1``, with ``args.api_key`` as the bearer key when given."""
    import httpx

    headers = {"Authorization": f"Bearer {args.api_key}"} if args.api_key else {}
    return httpx.Client(base_url=f"{args.url.rstrip('/')}/api/v1", headers=headers, timeout=120)


def checked(response: Any) -> Any:
    """The answer's JSON (None for an empty body); an error status ends the command with the server's message."""
    if response.status_code >= 400:
        try:
            message = response.json().get("message", response.text)
        except ValueError:
            message = response.text
        raise SystemExit(f"error {response.status_code}: {message}")
    return response.json() if response.content else None
