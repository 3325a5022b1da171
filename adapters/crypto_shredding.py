"""CryptoShreddingEventStore: an EventStore decorator that seals the personal fields of chat events with their
session's key on append and opens them on read, so that forgetting the key erases them from the log for good.

Which fields are personal, and whose, is the domain's to say (``domain/erasure.py``); the keys live outside the
log in a ``SubjectKeyStore`` (``adapters/sqlite/subject_keys.py``, ``adapters/postgres/subject_keys.py``). Any
event store works underneath (SQLite, Postgres, KurrentDB): what it stores is still the event's JSON, with each
personal field replaced by ``"[encrypted]"`` and one more member, ``_sealed``, holding the fields' names, the
subject and the AES-256-GCM ciphertext of their values. Readers of the JSON that do not open it (msgspec ignores
an unknown member) see the markers, never the plaintext. The additional data binds a ciphertext to its event id,
type and subject, so it cannot be moved to another event unnoticed.

Opened, an event's bytes are exactly those the command handler encoded (msgspec keeps the members' order, and the
opened values go back in their places). With its subject's key forgotten, each sealed field reads as
``"[erased]"`` and everything else of the event is as it was: projections, time travel, ``parley replay`` and
exports go on working on what is left. Events written before this decorator existed hold no ``_sealed`` member and
pass through unchanged (their plaintext cannot be shredded).
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

import msgspec
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from domain.erasure import ERASED, PERSONAL_FIELDS, SEALED, personal_values, subject_of
from domain.errors import EventStoreError
from domain.ports import AppendResult, EventStore, NewEvent, RecordedEvent, SubjectKeyStore, Subscription

SEALED_MEMBER = "_sealed"
_SEALED_NEEDLE = b'"' + SEALED_MEMBER.encode() + b'":'
_FORMAT = 1
KEY_BYTES = 32  # AES-256


def new_key() -> bytes:
    return AESGCM.generate_key(bit_length=KEY_BYTES * 8)


def _additional_data(event_id: str, event_type: str, subject: str) -> bytes:
    return f"parley-sealed-v{_FORMAT}\n{event_id}\n{event_type}\n{subject}".encode()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


class CryptoShreddingEventStore:
    """Seals personal fields on ``append``, opens them on every read (``read_stream``, ``read_all``,
    ``subscribe``). Owns ``keys``: closing the store closes them."""

    def __init__(self, inner: EventStore, keys: SubjectKeyStore) -> None:
        self.inner = inner
        self.keys = keys

    # --- writing -----------------------------------------------------------------------------------------

    def append(self, stream: str, events: Sequence[NewEvent], expected_version: int | None) -> AppendResult:
        return self.inner.append(stream, [self._seal(event) for event in events], expected_version)

    def _seal(self, event: NewEvent) -> NewEvent:
        if event.type not in PERSONAL_FIELDS:
            return event
        payload = msgspec.json.decode(event.data)
        if not isinstance(payload, dict) or SEALED_MEMBER in payload:
            return event  # sealed already (an event copied from another log)
        subject = subject_of(event.type, payload)
        values = personal_values(event.type, payload)
        if subject is None or not values:
            return event
        key = self.keys.key_for(subject)  # Erased when the subject was forgotten: nothing personal again
        nonce = os.urandom(12)
        box = AESGCM(key).encrypt(
            nonce, msgspec.json.encode(values), _additional_data(event.event_id, event.type, subject)
        )
        for name in values:
            payload[name] = SEALED
        payload[SEALED_MEMBER] = {
            "v": _FORMAT,
            "subject": subject,
            "fields": list(values),
            "nonce": _b64(nonce),
            "box": _b64(box),
        }
        return msgspec.structs.replace(event, data=msgspec.json.encode(payload))

    # --- reading -----------------------------------------------------------------------------------------

    def read_stream(self, stream: str, from_version: int = 0, to_version: int | None = None) -> list[RecordedEvent]:
        return self.opened(self.inner.read_stream(stream, from_version, to_version))

    def read_all(self, after_position: int = 0, limit: int = 1000) -> list[RecordedEvent]:
        return self.opened(self.inner.read_all(after_position, limit))

    def head_position(self) -> int:
        return self.inner.head_position()

    def subscribe(self, after_position: int = 0) -> Subscription:
        return _OpenedSubscription(self.inner.subscribe(after_position), self.opened)

    def opened(self, records: list[RecordedEvent]) -> list[RecordedEvent]:
        """The records with their sealed fields opened, or marked erased where the key is forgotten. One key
        lookup for the whole page."""
        sealed: list[tuple[int, dict[str, Any]]] = []
        for index, record in enumerate(records):
            if record.type in PERSONAL_FIELDS and _SEALED_NEEDLE in record.data:
                payload = msgspec.json.decode(record.data)
                if isinstance(payload, dict) and isinstance(payload.get(SEALED_MEMBER), dict):
                    sealed.append((index, payload))
        if not sealed:
            return records
        keys = self.keys.keys_of(sorted({str(payload[SEALED_MEMBER].get("subject")) for _, payload in sealed}))
        opened = list(records)
        for index, payload in sealed:
            record = records[index]
            opened[index] = msgspec.structs.replace(record, data=_open(record, payload, keys))
        return opened

    def close(self) -> None:
        try:
            self.inner.close()
        finally:
            self.keys.close()


def _open(record: RecordedEvent, payload: dict[str, Any], keys: dict[str, bytes]) -> bytes:
    box = payload.pop(SEALED_MEMBER)
    subject = str(box.get("subject"))
    key = keys.get(subject)
    if key is None:  # forgotten: the fields are gone for good
        for name in box.get("fields", ()):
            payload[name] = ERASED
        return msgspec.json.encode(payload)
    try:
        plain = AESGCM(key).decrypt(
            base64.b64decode(box["nonce"]),
            base64.b64decode(box["box"]),
            _additional_data(record.event_id, record.type, subject),
        )
    except (InvalidTag, KeyError, ValueError) as error:
        raise EventStoreError(
            f"event {record.event_id} ({record.type} at position {record.position}): its sealed fields do not open"
            " with their session's key: the stored event was changed"
        ) from error
    values = msgspec.json.decode(plain)
    payload.update(values)  # each value back in its member's place: the bytes the handler encoded
    return msgspec.json.encode(payload)


class _OpenedSubscription:
    def __init__(self, inner: Subscription, opened: Callable[[list[RecordedEvent]], list[RecordedEvent]]) -> None:
        self._inner = inner
        self._opened = opened

    def __iter__(self) -> Iterator[list[RecordedEvent]]:
        for page in self._inner:
            yield self._opened(page)

    def close(self) -> None:
        self._inner.close()


# --- what derived stores keep of erased text ------------------------------------------------------------


class ForgettingEmbeddings(Protocol):
    def forget(self, hashes: Sequence[str]) -> None:
        """Delete the cached vectors of these text hashes, of every model."""
        ...


class DerivedTraces:
    """The ``ErasureTraces`` of a Parley process: the embedding cache's vectors of erased questions (keyed by the
    text's sha256, as ``CachedEmbedder`` keys them), and the read store's compaction (``compact``: SQLite's WAL
    folded back and truncated, so the deleted rows' old pages are gone; None where the engine has none)."""

    def __init__(self, embeddings: ForgettingEmbeddings, compact: Callable[[], None] | None = None) -> None:
        self.embeddings = embeddings
        self._compact = compact

    def forget_texts(self, texts: Sequence[str]) -> None:
        hashes = sorted({hashlib.sha256(text.encode()).hexdigest() for text in texts})
        if hashes:
            self.embeddings.forget(hashes)

    def compact(self) -> None:
        if self._compact is not None:
            self._compact()
