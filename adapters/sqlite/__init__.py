"""SQLite adapters: the embedded event store and the embedded read models."""
