"""SQL shared by the relational engines (SQLite, PostgreSQL): the read-model projector and queries."""
