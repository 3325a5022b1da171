"""The event-store contract through the real ``kurrentdbclient``: against the PROTOCOL-FAITHFUL KURRENTDB TEST PEER
(``tests/kurrentdb_peer.py``, one per module) always, and against a real KurrentDB when ``PARLEY_KURRENTDB_URL``
points at one (for example the server compose.yaml starts: ``kurrentdb://127.0.0.1:2113?tls=false``)."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator

import msgspec
import pytest
from kurrentdbclient import CaughtUp, KurrentDBClient, StreamState
from kurrentdbclient import NewEvent as KurrentNewEvent
from kurrentdbclient import RecordedEvent as KurrentRecordedEvent
from kurrentdbclient.exceptions import NotFoundError, WrongCurrentVersionError

from adapters.kurrentdb.event_store import KurrentDBEventStore
from domain.errors import ConcurrencyError, ConfigurationError, DuplicateEventError
from domain.ports import NO_STREAM, EventMetadata, EventStore, RecordedEvent
from tests.contract.event_store_contract import EventStoreContract, new_event, stream
from tests.kurrentdb_peer import KurrentDBTestPeer

_REAL_SERVER = os.environ.get("PARLEY_KURRENTDB_URL")

_CROSS_STREAM_IDS = (
    "KurrentDB keeps event ids unique per stream only and has no index of ids across streams: appending an id that"
    " already lies in another stream is written there as a second copy (IndexWriter.CheckCommit compares ids only"
    " with the target stream's events). The adapter cannot answer DuplicateEventError for that case without a"
    " global id lookup KurrentDB does not offer; it does for the clash KurrentDB itself sees (ids already in the"
    " stream, see test_an_overlapping_append_is_a_duplicate)."
)


@pytest.fixture(scope="module")
def kurrentdb_peer() -> Iterator[KurrentDBTestPeer]:
    peer = KurrentDBTestPeer().start()
    yield peer
    peer.stop()


class KurrentDBContract(EventStoreContract):
    uri: str

    def make_store(self) -> EventStore:
        return KurrentDBEventStore(self.uri)

    @pytest.mark.xfail(strict=True, raises=pytest.fail.Exception, reason=_CROSS_STREAM_IDS)
    def test_an_event_id_cannot_appear_in_two_places(self, store: EventStore) -> None:
        super().test_an_event_id_cannot_appear_in_two_places(store)

    # --- beyond the contract: what this adapter adds or maps -------------------------------------------

    def test_an_overlapping_append_is_a_duplicate(self, store: EventStore) -> None:
        name = stream()
        first, second = new_event(), new_event()
        store.append(name, [first, second], NO_STREAM)
        with pytest.raises(DuplicateEventError):  # KurrentDB: "corrupted idempotency", a wrong expected version
            store.append(name, [first, second, new_event()], NO_STREAM)
        assert len(store.read_stream(name)) == 2

    def test_positions_are_kurrentdb_commit_positions(self, store: KurrentDBEventStore) -> None:
        name = stream()
        result = store.append(name, [new_event(), new_event(), new_event()], NO_STREAM)
        native = store.client.get_stream(name)
        assert [e.commit_position for e in native] == [r.position for r in store.read_stream(name)]
        assert native[-1].commit_position == result.commit_position
        assert 0 < native[0].commit_position < native[1].commit_position < native[2].commit_position

    def test_metadata_is_a_json_object_kurrentdb_tools_can_read(self, store: KurrentDBEventStore) -> None:
        name = stream()
        stamped = EventMetadata(actor="ann", key_id="k-1", command_id="c-1", correlation_id="req-7", causation_id="e-1")
        store.append(name, [new_event(metadata=stamped)], NO_STREAM)
        (native,) = store.client.get_stream(name)
        assert msgspec.json.decode(native.metadata) == {
            "schemaVersion": "1",
            "recordedAt": "2026-01-02T03:04:05+00:00",
            "$correlationId": "req-7",
            "$causationId": "e-1",
            "actor": "ann",
            "keyId": "k-1",
            "commandId": "c-1",
        }
        assert native.content_type == "application/json"

    def test_an_event_id_that_is_not_a_uuid_round_trips(self, store: EventStore) -> None:
        name = stream()
        store.append(name, [new_event(event_id="not-a-uuid-7")], NO_STREAM)
        (recorded,) = store.read_stream(name)
        assert recorded.event_id == "not-a-uuid-7"

    def test_events_written_by_other_tools_read_with_defaults(self, store: KurrentDBEventStore) -> None:
        name = stream()
        store.client.append_to_stream(
            name, events=[KurrentNewEvent(type="Imported", data=b"{}")], current_version=StreamState.NO_STREAM
        )
        (recorded,) = store.read_stream(name)
        assert (recorded.type, recorded.schema_version, recorded.version) == ("Imported", 1, 0)
        assert recorded.recorded_at.tzinfo is not None

    def test_system_streams_stay_out_of_every_read_of_all(self, store: KurrentDBEventStore) -> None:
        start = store.head_position()
        store.client.append_to_stream(
            f"$$test-{uuid.uuid4()}",
            events=[KurrentNewEvent(type="$metadata", data=b'{"$maxCount":10}')],
            current_version=StreamState.ANY,
        )
        assert store.head_position() == start
        assert store.read_all(after_position=start) == []
        name = stream()
        result = store.append(name, [new_event()], NO_STREAM)
        assert store.head_position() == result.commit_position
        assert [r.stream for r in store.read_all(after_position=start)] == [name]
        subscription = store.subscribe(after_position=start)
        page = next(iter(subscription))
        subscription.close()
        assert [r.stream for r in page] == [name]

    def test_a_page_holds_what_arrived_together(self, store: EventStore) -> None:
        start = store.head_position()
        name = stream()
        store.append(name, [new_event() for _ in range(30)], NO_STREAM)
        subscription = store.subscribe(after_position=start)
        seen: list[RecordedEvent] = []
        for page in subscription:
            seen.extend(page)
            if len(seen) >= 30:
                break
        subscription.close()
        assert [r.version for r in seen] == list(range(30))

    def test_closing_a_subscription_that_never_started_is_harmless(self, store: EventStore) -> None:
        subscription = store.subscribe(after_position=store.head_position())
        subscription.close()
        assert list(subscription) == []


class TestKurrentDBEventStoreOnTheTestPeer(KurrentDBContract):
    @pytest.fixture(autouse=True)
    def _peer(self, kurrentdb_peer: KurrentDBTestPeer) -> None:
        self.uri = kurrentdb_peer.uri


@pytest.mark.skipif(not _REAL_SERVER, reason="PARLEY_KURRENTDB_URL is not set: no KurrentDB server to test against")
class TestKurrentDBEventStoreOnARealServer(KurrentDBContract):
    uri = _REAL_SERVER or ""


# --- the peer itself: KurrentDB's semantics, through the real client ---------------------------------------


@pytest.fixture
def client(kurrentdb_peer: KurrentDBTestPeer) -> Iterator[KurrentDBClient]:
    connected = KurrentDBClient(uri=kurrentdb_peer.uri)
    yield connected
    connected.close()


def _event(type_: str = "Happened") -> KurrentNewEvent:
    return KurrentNewEvent(type=type_, data=b"{}")


def test_the_peer_answers_wrong_expected_version_in_both_append_calls(client: KurrentDBClient) -> None:
    name = str(uuid.uuid4())
    client.append_to_stream(name, events=_event(), current_version=StreamState.NO_STREAM)  # Append
    with pytest.raises(WrongCurrentVersionError) as unary:
        client.append_to_stream(name, events=_event(), current_version=StreamState.NO_STREAM)
    assert unary.value.actual_version == 0
    with pytest.raises(WrongCurrentVersionError) as batch:
        client.append_to_stream(name, events=[_event()], current_version=5)  # BatchAppend
    assert (batch.value.actual_version, batch.value.expected_version) == (0, 5)
    with pytest.raises(WrongCurrentVersionError) as missing:
        client.append_to_stream(str(uuid.uuid4()), events=[_event()], current_version=0)
    assert missing.value.actual_version is StreamState.NO_STREAM
    with pytest.raises(WrongCurrentVersionError):
        client.append_to_stream(str(uuid.uuid4()), events=[_event()], current_version=StreamState.EXISTS)


def test_the_peer_is_idempotent_the_way_kurrentdb_is(client: KurrentDBClient) -> None:
    name = str(uuid.uuid4())
    first, second, third = _event(), _event(), _event()
    one = client.append_to_stream(name, events=[first], current_version=StreamState.NO_STREAM)
    three = client.append_to_stream(name, events=[second, third], current_version=0)
    assert client.append_to_stream(name, events=[first], current_version=StreamState.NO_STREAM) == one
    assert client.append_to_stream(name, events=[second, third], current_version=0) == three
    assert client.append_to_stream(name, events=[second, third], current_version=StreamState.ANY) == three
    with pytest.raises(WrongCurrentVersionError):  # part found again, part new: corrupted idempotency
        client.append_to_stream(name, events=[second, third, _event()], current_version=0)
    assert [e.id for e in client.get_stream(name)] == [first.id, second.id, third.id]
    other = str(uuid.uuid4())  # ids are unique per stream only, as on a server
    client.append_to_stream(other, events=[first], current_version=StreamState.NO_STREAM)
    assert [e.id for e in client.get_stream(other)] == [first.id]


def test_the_peer_reads_streams_and_all_in_both_directions(client: KurrentDBClient) -> None:
    name = str(uuid.uuid4())
    events = [_event(f"T{i}") for i in range(4)]
    last = client.append_to_stream(name, events=events, current_version=StreamState.NO_STREAM)
    with pytest.raises(NotFoundError):
        client.get_stream(str(uuid.uuid4()))
    assert [e.stream_position for e in client.get_stream(name, stream_position=1, limit=2)] == [1, 2]
    assert [e.stream_position for e in client.get_stream(name, backwards=True, limit=2)] == [3, 2]
    assert [e.stream_position for e in client.get_stream(name, stream_position=1, backwards=True)] == [1, 0]
    positions = [e.commit_position for e in client.get_stream(name)]
    assert positions[-1] == last == client.get_commit_position()
    forwards = list(client.read_all(commit_position=positions[1], limit=2))  # inclusive forwards
    assert [e.commit_position for e in forwards] == positions[1:3]
    backwards = list(client.read_all(commit_position=positions[2], backwards=True, limit=2))  # exclusive backwards
    assert [e.commit_position for e in backwards] == [positions[1], positions[0]]
    only = list(client.read_all(commit_position=positions[0], filter_include=("T3",)))
    assert [e.type for e in only] == ["T3"]
    system = list(client.read_all(filter_include=(r"\$.*",), filter_by_stream_name=True))
    assert [e.stream_name for e in system][:1] == ["$epoch-information"]
    assert system[0].commit_position > 0


def test_the_peer_subscription_catches_up_then_goes_live_exclusive_of_its_start(client: KurrentDBClient) -> None:
    name = str(uuid.uuid4())
    history = [_event(), _event(), _event()]
    client.append_to_stream(name, events=history, current_version=StreamState.NO_STREAM)
    start = client.get_stream(name)[0].commit_position
    subscription = client.subscribe_to_all(commit_position=start, include_caught_up=True)
    received: list[KurrentRecordedEvent] = []
    done = threading.Event()

    def consume() -> None:
        for item in subscription:
            received.append(item)
            if isinstance(item, CaughtUp):
                client.append_to_stream(name, events=[live], current_version=2)
            elif item.id == live.id:
                done.set()

    live = _event("Live")
    thread = threading.Thread(target=consume, daemon=True)
    thread.start()
    assert done.wait(5), "the live event never arrived"
    subscription.stop()
    thread.join(5)
    names = [type(item).__name__ for item in received]
    assert names == ["RecordedEvent", "RecordedEvent", "CaughtUp", "RecordedEvent"]
    ids = [item.id for item in received if not isinstance(item, CaughtUp)]
    assert ids == [history[1].id, history[2].id, live.id]


def test_a_subscription_the_server_drops_resumes_after_its_last_event(kurrentdb_peer: KurrentDBTestPeer) -> None:
    store = KurrentDBEventStore(kurrentdb_peer.uri)
    start = store.head_position()
    name = stream()
    store.append(name, [new_event()], NO_STREAM)
    subscription = store.subscribe(after_position=start)
    pages = iter(subscription)
    assert [r.version for r in next(pages)] == [0]
    kurrentdb_peer.drop_subscriptions()  # as KurrentDB drops a consumer too slow for its live buffer
    store.append(name, [new_event(), new_event()], 0)
    seen: list[int] = []
    while len(seen) < 2:
        seen.extend(r.version for r in next(pages))
    assert seen == [1, 2]
    store.close()
    assert list(pages) == [], "closing the store did not end its subscription"


def test_a_wrong_url_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="PARLEY_KURRENTDB_URL"):
        KurrentDBEventStore("kurrentdb://127.0.0.1:1?tls=false", timeout=2)


def test_a_conflict_is_a_concurrency_error_not_a_duplicate(kurrentdb_peer: KurrentDBTestPeer) -> None:
    store = KurrentDBEventStore(kurrentdb_peer.uri)
    name = stream()
    store.append(name, [new_event()], NO_STREAM)
    with pytest.raises(ConcurrencyError, match="is at version 0, expected -1"):
        store.append(name, [new_event()], NO_STREAM)
    store.close()
