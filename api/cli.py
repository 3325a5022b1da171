"""The ``parley`` command line: ``parley serve`` runs the server on the embedded default."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from api import cli_audit, cli_templates, cli_users
from api.cli_http import api_client, checked
from api.environment import OFFLINE_ENVIRONMENT


def serve(args: argparse.Namespace) -> int:
    # Before Haystack is imported: it decides on telemetry at import time.
    for key, value in OFFLINE_ENVIRONMENT.items():
        os.environ.setdefault(key, value)
    import uvicorn

    from api.app import create_app
    from api.bootstrap import bootstrap
    from api.settings import Settings
    from domain.errors import ConfigurationError

    try:
        projectors = False if args.no_projectors else None
        settings = Settings.from_env(data_dir=args.data_dir, host=args.host, port=args.port, projectors=projectors)
        app = create_app(bootstrap(settings))
    except ConfigurationError as error:
        print(f"parley: configuration error: {error.message}", file=sys.stderr)
        return 2
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=args.log_level,
        # Upload ids arrive comma-joined in one path segment: a job over 1,000+ uploads needs a long request line.
        h11_max_incomplete_event_size=4 * 1024 * 1024,
        timeout_graceful_shutdown=15,
    )
    print(f"Parley on http://{settings.host}:{settings.port}  (data in {settings.data_dir})", flush=True)
    # Uvicorn shuts down gracefully on SIGTERM/SIGINT and then re-raises the signal to the handler that was
    # installed before it; a no-op handler there makes a clean shutdown exit with status 0.
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop_signal, lambda *_: None)
    uvicorn.Server(config).run()
    return 0


def project(args: argparse.Namespace) -> int:
    """A projector process: the projections of the configured stores, until SIGTERM or Ctrl-C."""
    for key, value in OFFLINE_ENVIRONMENT.items():
        os.environ.setdefault(key, value)
    import threading

    from api.bootstrap import bootstrap
    from api.settings import Settings
    from domain.errors import ConfigurationError

    try:
        parley = bootstrap(Settings.from_env(data_dir=args.data_dir, projectors=True))
    except ConfigurationError as error:
        print(f"parley: configuration error: {error.message}", file=sys.stderr)
        return 2
    stopped = threading.Event()
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop_signal, lambda *_: stopped.set())
    parley.embedder.warm_up()
    parley.projections.start()
    print(f"Parley projector: {len(parley.projections.runners)} projections from position "
          f"{min(r.position for r in parley.projections.runners)}", flush=True)  # fmt: skip
    stopped.wait()
    parley.close()
    return 0


def worker(args: argparse.Namespace) -> int:
    """An ingestion worker: takes items of ingest jobs from the Postgres work queue, one at a time, until SIGTERM
    (it finishes the item in hand first)."""
    for key, value in OFFLINE_ENVIRONMENT.items():
        os.environ.setdefault(key, value)
    import threading
    import uuid

    from api.bootstrap import bootstrap
    from api.settings import Settings
    from domain.errors import ConfigurationError

    try:
        parley = bootstrap(Settings.from_env(data_dir=args.data_dir, projectors=False, ingestion="workers"))
    except ConfigurationError as error:
        print(f"parley: configuration error: {error.message}", file=sys.stderr)
        return 2
    queue, lease = parley.work_queue, parley.settings.worker_lease_s  # renewed every third of the lease
    most = parley.settings.worker_max_attempts
    assert queue is not None
    name = args.name or f"worker-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    stopping = threading.Event()
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop_signal, lambda *_: stopping.set())
    parley.embedder.warm_up()
    print(f"Parley ingestion worker {name}", flush=True)
    while not stopping.is_set():
        item = queue.claim(name, lease)
        if item is None:
            stopping.wait(0.2)
            continue
        if item.attempts > most:  # each worker that took it before died on it or failed: it would fail here too
            reason = f"{most} attempts to ingest it did not finish (a worker died on it, or failed); it was given up"
            logging.getLogger("parley").error("giving up %s of job %s: %s", item.item_id, item.job_id, reason)
            parley.ingestor.give_up_item(item.job_id, item.item_id, reason)
            queue.done(item, name)
            continue
        held = threading.Event()

        def renew(item: Any = item, held: threading.Event = held) -> None:
            while not held.wait(lease / 3):
                if not queue.renew(item, name, lease):
                    return

        renewing = threading.Thread(target=renew, name="lease", daemon=True)
        renewing.start()
        try:
            parley.ingestor.ingest_item(item.job_id, item.item_id, parley.read_models.documents_from_uploads)
            queue.done(item, name)
        except Exception:
            logging.getLogger("parley").exception("ingesting %s of job %s failed", item.item_id, item.job_id)
        finally:
            held.set()
    parley.close()
    return 0


def ingest(args: argparse.Namespace) -> int:
    """Upload files into a collection (created when missing) and follow the ingestion job with a progress bar."""
    from tqdm import tqdm

    files = [path for given in args.paths for path in _files(Path(given))]
    if not files:
        print("no files to ingest", file=sys.stderr)
        return 2
    with api_client(args) as client:
        collections = checked(client.get("/collections", params={"limit": 10_000}))
        found = [c for c in collections if c["name"] == args.collection]
        if found:
            collection_id = found[0]["id"]
        else:
            body = {"name": args.collection, "description": ""}
            collection_id = checked(client.post("/collections", json=body))["id"]
        upload_ids = []
        for path in tqdm(files, desc="upload", unit="file"):
            with path.open("rb") as handle:
                upload_ids.append(checked(client.put("/uploads", files={"file": (path.name, handle)}))["id"])
        job = checked(
            client.post(f"/uploads/{','.join(upload_ids)}/ingest/job", params={"collection_id": collection_id})
        )
        with tqdm(total=100, desc="ingest", unit="%", bar_format="{l_bar}{bar}| {n:.0f}% [{elapsed}]") as bar:
            while True:
                bar.update(round(job["progress"] * 100 - bar.n, 1))
                if job["overall_status"] != "in progress":
                    break
                time.sleep(0.5)
                job = checked(client.get(f"/jobs/{job['id']}"))
    for line in job["errors"]:
        print(f"failed: {line}", file=sys.stderr)
    done = len(files) - len(job["errors"])
    print(f"{done} of {len(files)} files ingested into {args.collection!r} ({collection_id}): {job['overall_status']}")
    return 0 if job["overall_status"] == "completed" else 1


def migrate(args: argparse.Namespace) -> int:
    """Copy the embedded data directory's event log and uploaded files into Postgres; the projections rebuild
    there when ``parley serve`` starts on it."""
    for key, value in OFFLINE_ENVIRONMENT.items():
        os.environ.setdefault(key, value)
    from tqdm import tqdm

    from adapters.filesystem import FileBlobStore
    from adapters.sqlite.event_store import SQLiteEventStore
    from domain.errors import ConfigurationError
    from domain.usecases.migrate import copy_log

    source_path = args.data_dir / "events.sqlite3"
    if not source_path.is_file():
        print(f"parley: no event log at {source_path}", file=sys.stderr)
        return 2
    if not args.to.startswith(("postgres://", "postgresql://")):
        print(f"parley: --to {args.to!r}: a PostgreSQL URL (postgresql://...) is the one target", file=sys.stderr)
        return 2
    from adapters.postgres.event_store import PostgresEventStore
    from adapters.postgres.shared_state import PostgresBlobStore

    source = SQLiteEventStore(source_path)
    try:
        target = PostgresEventStore(args.to)
        blobs = PostgresBlobStore(args.to)
        with tqdm(total=source.head_position(), desc="migrate", unit="event") as bar:
            copied = copy_log(
                source,
                target,
                lambda done, total: bar.update(done - bar.n),
                FileBlobStore(args.data_dir / "blobs"),
                blobs,
            )
        target.close()
        _copy_keys(args.data_dir / "keys.sqlite3", args.to)
    except ConfigurationError as error:
        print(f"parley: {error.message}", file=sys.stderr)
        return 2
    finally:
        source.close()
    print(
        f"{copied} events copied; start `parley serve` with PARLEY_EVENT_STORE=postgres PARLEY_READ_STORE=postgres "
        "PARLEY_VECTOR_INDEX=pgvector PARLEY_POSTGRES_URL=<the same URL> and the read models rebuild there"
    )
    return 0


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
    return [path]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="parley", description="Event-sourced RAG chat server (h2oGPTe REST API v1)")
    commands = parser.add_subparsers(dest="command", required=True)
    serve_parser = commands.add_parser("serve", help="run the HTTP server")
    serve_parser.add_argument("--host", default=None, help="interface to listen on (PARLEY_HOST, default 127.0.0.1)")
    serve_parser.add_argument("--port", type=int, default=None, help="port (PARLEY_PORT, default 8000)")
    serve_parser.add_argument("--data-dir", type=Path, default=None, help="data directory (PARLEY_DATA_DIR, ./data)")
    serve_parser.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    serve_parser.add_argument(
        "--no-projectors", action="store_true", help="serve the API only; `parley project` keeps the read models"
    )
    serve_parser.set_defaults(run=serve, long_running=True)
    project_parser = commands.add_parser("project", help="keep the read models and indexes of shared stores")
    project_parser.add_argument("--data-dir", type=Path, default=None, help="data directory (PARLEY_DATA_DIR, ./data)")
    project_parser.set_defaults(run=project, long_running=True)
    worker_parser = commands.add_parser("worker", help="ingest the items of jobs queued in Postgres")
    worker_parser.add_argument("--data-dir", type=Path, default=None, help="data directory (PARLEY_DATA_DIR, ./data)")
    worker_parser.add_argument("--name", default=None, help="this worker's name in the queue (default: pid + random)")
    worker_parser.set_defaults(run=worker, long_running=True)
    ingest_parser = commands.add_parser("ingest", help="ingest files into a collection of a running server")
    ingest_parser.add_argument("paths", nargs="+", help="files or folders to ingest")
    ingest_parser.add_argument("--collection", required=True, help="collection name (created when missing)")
    ingest_parser.add_argument("--url", default=os.environ.get("PARLEY_URL", "http://127.0.0.1:8000"))
    ingest_parser.add_argument("--api-key", default=os.environ.get("PARLEY_API_KEY"), help="or PARLEY_API_KEY")
    ingest_parser.set_defaults(run=ingest)
    migrate_parser = commands.add_parser("migrate", help="copy an embedded data directory into PostgreSQL")
    migrate_parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("PARLEY_DATA_DIR", "./data")))
    migrate_parser.add_argument("--to", required=True, help="the target database: postgresql://user@host/db")
    migrate_parser.set_defaults(run=migrate)
    cli_audit.add_commands(commands)  # replay, export, erase
    cli_templates.add_commands(commands)  # template preview, export, import
    cli_users.add_commands(commands)  # users create|list|delete, keys create|list|revoke
    return parser


def _copy_keys(path: Path, url: str) -> None:
    """The erasure keys go with the log they open (and forgotten subjects stay forgotten)."""
    if not path.is_file():
        return
    from adapters.postgres.subject_keys import PostgresSubjectKeyStore
    from adapters.sqlite.subject_keys import SQLiteSubjectKeyStore

    source, target = SQLiteSubjectKeyStore(path), PostgresSubjectKeyStore(url)
    try:
        target.copy_in(source.entries())
    finally:
        source.close()
        target.close()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    result: int = args.run(args)
    return result


def exit_now(code: int) -> None:
    """Ends a long-running process once it has shut down cleanly (its stores closed, its output flushed),
    without the interpreter's teardown of torch, transformers and the rest, which takes seconds and does nothing
    a stopped server needs."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    arguments = sys.argv[1:]
    code = main(arguments)
    if getattr(build_parser().parse_args(arguments), "long_running", False):
        exit_now(code)
    sys.exit(code)
