"""The ingestion work queue in PostgreSQL: one row per item of a job, claimed with ``FOR UPDATE SKIP LOCKED``
(concurrent workers never wait on each other and never take the same row) and held by a lease that the worker
renews; a worker that dies stops renewing, and the next claim after the lease runs out takes the item over.
Exactly-once ingestion does not rest on the lease alone: a worker that takes an item over first looks in the
read models for a document already made from it (``Ingestor.ingest_item``)."""

from __future__ import annotations

from collections.abc import Sequence

from adapters.postgres.connection import ThreadConnections, create_objects
from domain.ports import WorkItem

SCHEMA_NAME = "parley_work"


class PostgresWorkQueue:
    def __init__(self, url: str, schema: str = SCHEMA_NAME) -> None:
        self.connections = ThreadConnections(url, schema)
        create_objects(
            self.connections.get(),
            "CREATE TABLE IF NOT EXISTS work_items (job_id TEXT NOT NULL, item_id TEXT NOT NULL,"
            " seq BIGSERIAL, worker TEXT, lease_until TIMESTAMPTZ, done BOOLEAN NOT NULL DEFAULT false,"
            " attempts INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (job_id, item_id))",
        )

    def enqueue(self, job_id: str, item_ids: Sequence[str]) -> None:
        conn = self.connections.get()
        with conn.transaction(), conn.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO work_items (job_id, item_id) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                [(job_id, item_id) for item_id in item_ids],
            )

    def claim(self, worker: str, lease_s: float) -> WorkItem | None:
        row = (
            self.connections.get()
            .execute(
                "UPDATE work_items SET worker = %s, lease_until = now() + make_interval(secs => %s),"
                " attempts = attempts + 1 WHERE (job_id, item_id) = (SELECT job_id, item_id FROM work_items"
                " WHERE NOT done AND (lease_until IS NULL OR lease_until < now()) ORDER BY seq LIMIT 1"
                " FOR UPDATE SKIP LOCKED) RETURNING job_id, item_id, attempts",
                (worker, lease_s),
            )
            .fetchone()
        )
        return WorkItem(row["job_id"], row["item_id"], row["attempts"]) if row else None

    def renew(self, item: WorkItem, worker: str, lease_s: float) -> bool:
        cursor = self.connections.get().execute(
            "UPDATE work_items SET lease_until = now() + make_interval(secs => %s)"
            " WHERE job_id = %s AND item_id = %s AND worker = %s AND NOT done",
            (lease_s, item.job_id, item.item_id, worker),
        )
        return cursor.rowcount == 1

    def done(self, item: WorkItem, worker: str) -> None:
        self.connections.get().execute(
            "UPDATE work_items SET done = true, worker = %s WHERE job_id = %s AND item_id = %s",
            (worker, item.job_id, item.item_id),
        )

    def workers_of(self, job_id: str) -> dict[str, str]:
        """Who did each item of a job (for operators and tests)."""
        rows = self.connections.get().execute(
            "SELECT item_id, worker FROM work_items WHERE job_id = %s AND done", (job_id,)
        )
        return {row["item_id"]: row["worker"] for row in rows}

    def close(self) -> None:
        self.connections.close()
