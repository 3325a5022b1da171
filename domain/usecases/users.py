"""Users and their API keys, and sharing collections and prompt templates with other users.

Keys are made here: a secret shown once (``KeyIssued.secret``), stored as its hash, acting as its user with
the user's rights (an admin user's keys are admin keys), optionally bound to one collection, expiring, or
lapsing after an inactivity interval. Deleting a user revokes their keys, erases their chat sessions
(crypto-shredding: the events stay, their questions and answers become unreadable) and deletes the rest of what
they own, each by its own event, so every projection, the vector index among them, forgets it."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

import msgspec

from domain import apikey, collection, sharing, template, user
from domain.access import Level, Principal, level_on
from domain.errors import InvalidCommand, NotFound
from domain.ports import ReadModelQueries
from domain.service import stream_name
from domain.usecases.commands import Commands
from domain.views import ApiKeyView, ShareView, UserView

DELETION_CONFIRM_WINDOW = timedelta(minutes=5)


class KeyIssued(msgspec.Struct, frozen=True, kw_only=True):
    secret: str  # shown once, never stored
    key: ApiKeyView


class ManageUsers:
    def __init__(
        self,
        commands: Commands,
        reads: ReadModelQueries,
        new_secret: Callable[[], str],
        hash_secret: Callable[[str], str],
        erase_sessions: Callable[[Sequence[str]], object],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self.commands = commands
        self.erase_sessions = erase_sessions  # crypto-shredding (``EraseSessions.erase``)
        self.reads = reads
        self.new_secret = new_secret
        self.hash_secret = hash_secret
        self.clock = clock
        self.new_id = new_id

    # --- users -------------------------------------------------------------------------------------------

    def create_user(self, user_id: str, email: str = "", is_admin: bool = False) -> UserView:
        self.commands.run(user, "user", user_id, user.CreateUser(user_id=user_id, email=email, is_admin=is_admin))
        return self.read_user(user_id)

    def read_user(self, user_id: str) -> UserView:
        row = self.reads.user(user_id)
        if row is None:
            raise NotFound(f"user {user_id} not found")
        return row

    def request_deletion(self, user_id: str) -> str:
        """A deletion id the user confirms within five minutes."""
        delete_id = self.new_id()
        expires_at = self.clock() + DELETION_CONFIRM_WINDOW
        request = user.RequestDeletion(user_id=user_id, delete_id=delete_id, expires_at=expires_at)
        self.commands.run(user, "user", user_id, request)
        return delete_id

    def delete_user(self, user_id: str, delete_id: str | None = None) -> None:
        """Revoke the user's keys, delete what they own, then the user. With ``delete_id``, the user's own
        confirmation of ``request_deletion``, checked first."""
        self.read_user(user_id)
        confirm = user.DeleteUser(user_id=user_id, delete_id=delete_id, now=self.clock())
        # Decided first, on the user's state: a refusal (an admin, a wrong or late confirmation) changes nothing.
        user.decide(self.commands.handler.load(user, stream_name("user", user_id)), confirm)
        for key in self.reads.api_keys(0, 10_000, username=user_id):
            self.commands.run(apikey, "apikey", key.id, apikey.DeactivateApiKey(key_id=key.id))
        owned = self.reads.owned_ids(user_id)
        if owned["chat"]:  # erased, not only deleted: their questions and answers become unreadable in the log too
            self.erase_sessions(owned["chat"])
        for collection_id in owned["collection"]:
            delete = collection.DeleteCollection(collection_id=collection_id)
            self.commands.run(collection, "collection", collection_id, delete)
        for template_id in owned["template"]:
            self.commands.run(template, "template", template_id, template.DeleteTemplate(template_id=template_id))
        self.commands.run(user, "user", user_id, confirm)

    # --- keys --------------------------------------------------------------------------------------------

    def create_key(
        self,
        user_id: str,
        *,
        name: str | None = None,
        collection_id: str | None = None,
        expires_in: str | None = None,
        inactivity_interval: int | None = None,
    ) -> KeyIssued:
        """A key for ``user_id``, creating that user first if there is none (so a client alone provisions
        people). A key bound to a collection needs a user who may read it."""
        owner = self.reads.user(user_id) or self.create_user(user_id)
        if collection_id is not None:
            if self.reads.collection(collection_id) is None:
                raise NotFound(f"collection {collection_id} not found")
            holder = Principal(username=owner.id, key_id="", is_admin=owner.is_admin)
            if level_on(self.reads, holder, "collection", collection_id) < Level.READ:
                raise InvalidCommand(
                    f"user {owner.id} may not read collection {collection_id}: share it with them first"
                )
        secret = self.new_secret()
        key_id = self.new_id()
        expires_at = self.clock() + apikey.parse_interval(expires_in) if expires_in else None
        create = apikey.CreateApiKey(
            key_id=key_id,
            name=name or ("collection key" if collection_id else "global key"),
            username=owner.id,
            secret_hash=self.hash_secret(secret),
            hint=secret[-4:],
            collection_id=collection_id,
            is_admin=owner.is_admin and collection_id is None,
            expires_at=expires_at,
            inactivity_interval=inactivity_interval,
        )
        self.commands.run(apikey, "apikey", key_id, create)
        return KeyIssued(secret=secret, key=self.read_key(key_id))

    def read_key(self, key_id: str) -> ApiKeyView:
        row = self.reads.api_key(key_id)
        if row is None:
            raise NotFound(f"API key {key_id} not found")
        return row

    def keys(self, offset: int, limit: int, text_filter: str | None = None) -> list[ApiKeyView]:
        return self.reads.api_keys(offset, limit, text_filter=text_filter)

    def deactivate_key(self, key_id: str) -> None:
        self.commands.run(apikey, "apikey", key_id, apikey.DeactivateApiKey(key_id=key_id))

    def change_expiry(self, key_id: str, expires_in: str | None) -> None:
        """From now on ``expires_in`` (None: never)."""
        expires_at = self.clock() + apikey.parse_interval(expires_in) if expires_in else None
        self.commands.run(apikey, "apikey", key_id, apikey.ChangeExpiry(key_id=key_id, expires_at=expires_at))

    def change_inactivity_interval(self, key_id: str, days: int | None) -> None:
        change = apikey.ChangeInactivityInterval(key_id=key_id, inactivity_interval=days)
        self.commands.run(apikey, "apikey", key_id, change)

    def delete_key(self, key_id: str) -> None:
        self.commands.run(apikey, "apikey", key_id, apikey.DeleteApiKey(key_id=key_id))


class ShareResources:
    """Share a collection or a prompt template (``kind``: "collection" or "template") with named users, or make
    it public. Only existing users are shared with."""

    def __init__(self, commands: Commands, reads: ReadModelQueries) -> None:
        self.commands = commands
        self.reads = reads

    def permissions(self, kind: str, resource_id: str) -> list[ShareView]:
        return self.reads.shares(kind, resource_id)

    def share(self, kind: str, resource_id: str, username: str, permissions: Sequence[str] | None) -> None:
        self._existing_user(username)
        command = sharing.Share(
            kind=kind, resource_id=resource_id, username=username, permissions=tuple(permissions or ())
        )
        self._run(kind, resource_id, command)

    def unshare(self, kind: str, resource_id: str, username: str) -> None:
        self._run(kind, resource_id, sharing.Unshare(kind=kind, resource_id=resource_id, username=username))

    def unshare_for_all(self, kind: str, resource_id: str) -> None:
        self._run(kind, resource_id, sharing.UnshareForAll(kind=kind, resource_id=resource_id))

    def reset_and_share(self, kind: str, resource_id: str, usernames: Sequence[str]) -> None:
        for username in usernames:
            self._existing_user(username)
        command = sharing.ResetAndShare(kind=kind, resource_id=resource_id, usernames=tuple(usernames))
        self._run(kind, resource_id, command)

    def set_public(self, kind: str, resource_id: str, is_public: bool) -> None:
        self._run(kind, resource_id, sharing.SetPrivacy(kind=kind, resource_id=resource_id, is_public=is_public))

    def _existing_user(self, username: str) -> None:
        if self.reads.user(username) is None:
            raise NotFound(f"user {username} not found")

    def _run(self, kind: str, resource_id: str, command: sharing.SharingCommand) -> None:
        self.commands.run(sharing, kind, resource_id, command)
