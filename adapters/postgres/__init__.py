"""PostgreSQL: the event log, the read models with full-text search, and pgvector, in one database or several."""
