"""KurrentDB adapters: the production event store on KurrentDB (formerly EventStoreDB), through kurrentdbclient."""

from adapters.kurrentdb.event_store import KurrentDBEventStore, KurrentDBSubscription

__all__ = ["KurrentDBEventStore", "KurrentDBSubscription"]
