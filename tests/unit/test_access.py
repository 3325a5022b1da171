"""The access rules, sharing, users and key lifetimes, as pure domain: levels, not-found before forbidden,
shares that change nothing decide nothing, a confirmation that must match, keys that expire or lapse."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain import apikey, sharing, user
from domain.access import Level, Principal, ResourceGrants, level, require, require_in_scope
from domain.errors import AlreadyExists, InvalidCommand, NotFound, PermissionDenied
from domain.events import (
    AccessShared,
    AccessUnshared,
    ChatSettings,
    CollectionCreated,
    CollectionDeleted,
    CollectionSettings,
    PrivacyChanged,
)

ANA = Principal(username="ana", key_id="k1")
BOB = Principal(username="bob", key_id="k2")
ROOT = Principal(username="root", key_id="k0", is_admin=True)
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def test_levels_follow_ownership_shares_and_publicity() -> None:
    private = ResourceGrants(owner="ana")
    assert level(ANA, private) == Level.OWN and level(ROOT, private) == Level.OWN and level(BOB, private) == Level.NONE
    assert level(BOB, ResourceGrants(owner="ana", shared={"bob": ("read",)})) == Level.READ
    assert level(BOB, ResourceGrants(owner="ana", shared={"bob": ("read", "write")})) == Level.WRITE
    assert level(BOB, ResourceGrants(owner="ana", is_public=True)) == Level.READ
    with pytest.raises(NotFound, match="collection c1 not found"):
        require(Level.NONE, Level.READ, "collection c1")  # the same words as for an id that does not exist
    with pytest.raises(PermissionDenied, match="not change"):
        require(Level.READ, Level.WRITE, "collection c1")
    require(Level.OWN, Level.OWN, "collection c1")
    require_in_scope(ANA, "anything")
    with pytest.raises(PermissionDenied):
        require_in_scope(Principal(username="ana", key_id="k3", scope="c1"), "c2")


def _created() -> sharing.State:
    created = CollectionCreated(
        collection_id="c1",
        name="n",
        description="",
        embedding_model="m",
        settings=CollectionSettings(),
        chat_settings=ChatSettings(),
        rag_type=None,
        owner="ana",
    )
    return sharing.evolve(None, created)


def test_sharing_decides_only_changes() -> None:
    state = _created()
    share = sharing.Share(kind="collection", resource_id="c1", username="bob", permissions=("write",))
    (shared,) = sharing.decide(state, share)
    assert shared == AccessShared(kind="collection", resource_id="c1", username="bob", permissions=("read", "write"))
    state = sharing.evolve(state, shared)
    assert sharing.decide(state, share) == []
    with pytest.raises(InvalidCommand, match="owns"):
        sharing.decide(state, sharing.Share(kind="collection", resource_id="c1", username="ana"))
    with pytest.raises(InvalidCommand, match="unknown permissions"):
        sharing.decide(state, sharing.Share(kind="collection", resource_id="c1", username="cy", permissions=("x",)))
    reset = sharing.decide(state, sharing.ResetAndShare(kind="collection", resource_id="c1", usernames=("cy",)))
    assert reset == [
        AccessUnshared(kind="collection", resource_id="c1", username="bob"),
        AccessShared(kind="collection", resource_id="c1", username="cy", permissions=("read",)),
    ]
    assert sharing.decide(state, sharing.SetPrivacy(kind="collection", resource_id="c1", is_public=True)) == [
        PrivacyChanged(kind="collection", resource_id="c1", is_public=True)
    ]
    gone = sharing.evolve(state, CollectionDeleted(collection_id="c1"))
    with pytest.raises(NotFound):
        sharing.decide(gone, share)


def test_a_user_is_created_once_and_deleted_on_a_matching_confirmation() -> None:
    (created,) = user.decide(None, user.CreateUser(user_id="ana"))
    state = user.evolve(None, created)
    with pytest.raises(AlreadyExists):
        user.decide(state, user.CreateUser(user_id="ana"))
    with pytest.raises(InvalidCommand, match="user id"):
        user.decide(None, user.CreateUser(user_id="no spaces"))
    (requested,) = user.decide(state, user.RequestDeletion(user_id="ana", delete_id="d1", expires_at=NOW))
    state = user.evolve(state, requested)
    for wrong, now in (("d2", NOW - timedelta(minutes=1)), ("d1", NOW)):
        with pytest.raises(InvalidCommand):
            user.decide(state, user.DeleteUser(user_id="ana", delete_id=wrong, now=now))
    assert user.decide(state, user.DeleteUser(user_id="ana", delete_id="d1", now=NOW - timedelta(seconds=1)))
    admin = user.evolve(None, user.decide(None, user.CreateUser(user_id="root", is_admin=True))[0])
    with pytest.raises(InvalidCommand, match="admin"):
        user.decide(admin, user.DeleteUser(user_id="root"))


def test_keys_expire_and_lapse() -> None:
    assert apikey.parse_interval("30d") == timedelta(days=30)
    assert apikey.parse_interval("12h") == timedelta(hours=12) and apikey.parse_interval("7") == timedelta(days=7)
    for bad in ("soon", "0d", "-1h", "1000y"):
        with pytest.raises(InvalidCommand):
            apikey.parse_interval(bad)
    fresh = {"active": True, "expires_at": None, "inactivity_interval": None, "created_at": NOW, "last_used_at": None}
    assert apikey.lapsed(**fresh, now=NOW + timedelta(days=999)) is None
    assert apikey.lapsed(**{**fresh, "active": False}, now=NOW) == "deactivated"
    assert apikey.lapsed(**{**fresh, "expires_at": NOW}, now=NOW) == "expired"
    idle = {**fresh, "inactivity_interval": 3, "last_used_at": NOW}
    assert apikey.lapsed(**idle, now=NOW + timedelta(days=3)) is None
    assert apikey.lapsed(**idle, now=NOW + timedelta(days=3, seconds=1)) == "lapsed after its inactivity interval"
