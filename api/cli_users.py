"""``parley users`` and ``parley keys``: an admin provisions people on a running server (``--url``,
``--api-key`` or ``PARLEY_URL``, ``PARLEY_API_KEY``, an admin's key).

- ``parley users create ID [--email E]``, ``parley users list``, ``parley users delete ID`` (revokes the user's
  keys and deletes what they own; the log keeps it all).
- ``parley keys create USER [--collection ID] [--expires-in 30d] [--inactivity-days N] [--name NAME]`` prints the
  new key once (a user id that names no user creates the user); ``parley keys list [--filter TEXT]``;
  ``parley keys revoke KEY_ID``.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from api.cli_http import api_client, checked


def _server_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", default=os.environ.get("PARLEY_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--api-key", default=os.environ.get("PARLEY_API_KEY"), help="an admin key, or PARLEY_API_KEY")


def add_commands(commands: Any) -> None:
    users = commands.add_parser("users", help="create, list and delete users (admins)")
    user_actions = users.add_subparsers(dest="users_command", required=True)
    create = user_actions.add_parser("create", help="a new user")
    create.add_argument("user_id")
    create.add_argument("--email", default="")
    create.set_defaults(run=create_user)
    listing = user_actions.add_parser("list", help="every user")
    listing.set_defaults(run=list_users)
    remove = user_actions.add_parser("delete", help="revoke a user's keys and delete what they own")
    remove.add_argument("user_id")
    remove.set_defaults(run=delete_user)
    for parser in (create, listing, remove):
        _server_options(parser)

    keys = commands.add_parser("keys", help="create, list and revoke API keys (admins)")
    key_actions = keys.add_subparsers(dest="keys_command", required=True)
    new_key = key_actions.add_parser("create", help="a new key for a user (shown once)")
    new_key.add_argument("user_id")
    new_key.add_argument("--collection", default=None, help="bind the key to one collection: it may only chat there")
    new_key.add_argument("--expires-in", default=None, help="e.g. 30d, 12h; default: never")
    new_key.add_argument("--inactivity-days", type=int, default=None, help="lapse after this many days unused")
    new_key.add_argument("--name", default=None)
    new_key.set_defaults(run=create_key)
    key_list = key_actions.add_parser("list", help="every key, newest first")
    key_list.add_argument("--filter", default=None, help="keys whose name or user holds this")
    key_list.set_defaults(run=list_keys)
    revoke = key_actions.add_parser("revoke", help="deactivate a key at once")
    revoke.add_argument("key_id")
    revoke.set_defaults(run=revoke_key)
    for parser in (new_key, key_list, revoke):
        _server_options(parser)


def create_user(args: argparse.Namespace) -> int:
    with api_client(args) as api:
        made = checked(api.post("/users", json={"user_id": args.user_id, "email": args.email}))
    print(f"user {made['id']} created")
    return 0


def list_users(args: argparse.Namespace) -> int:
    with api_client(args) as api:
        for user in checked(api.get("/users", params={"limit": 10_000})):
            print(f"{user['id']}\t{user['email']}")
    return 0


def delete_user(args: argparse.Namespace) -> int:
    with api_client(args) as api:
        checked(api.delete(f"/users/{args.user_id}"))
    print(f"user {args.user_id} deleted; their keys are revoked")
    return 0


def create_key(args: argparse.Namespace) -> int:
    body = {"user_id": args.user_id, "name": args.name, "collection_id": args.collection,
            "expires_in": args.expires_in, "inactivity_interval": args.inactivity_days}  # fmt: skip
    with api_client(args) as api:
        made = checked(api.post("/admin/api_keys", json={k: v for k, v in body.items() if v is not None}))
    key = made["api_key"]
    scope = f"collection {key['collection_id']}" if key.get("collection_id") else "global"
    print(f"key {key['id']} for {key['username']} ({scope}); shown once, store it:")
    print(made["secret_key"])
    return 0


def list_keys(args: argparse.Namespace) -> int:
    params = {"limit": 10_000, **({"filter": args.filter} if args.filter else {})}
    with api_client(args) as api:
        for key in checked(api.get("/admin/api_keys", params=params)):
            state = "active" if key["is_active"] else "revoked"
            scope = key.get("collection_id") or "global"
            used = key.get("last_used_at") or "never"
            print(f"{key['id']}\t{key['username']}\t{key['name']}\t...{key['hint']}\t{scope}\t{state}\t"
                  f"{key['total_calls']} calls, last {used}")  # fmt: skip
    return 0


def revoke_key(args: argparse.Namespace) -> int:
    with api_client(args) as api:
        checked(api.post(f"/admin/api_keys/deactivate/{args.key_id}"))
    print(f"key {args.key_id} revoked")
    return 0
