"""The ``parley`` command line: ``parley serve`` runs the server on the embedded default."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from api.app import create_app
    from api.bootstrap import bootstrap
    from api.settings import Settings

    settings = Settings.from_env(data_dir=args.data_dir, host=args.host, port=args.port)
    app = create_app(bootstrap(settings))
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="parley", description="Event-sourced RAG chat server (h2oGPTe REST API v1)")
    commands = parser.add_subparsers(dest="command", required=True)
    serve_parser = commands.add_parser("serve", help="run the HTTP server")
    serve_parser.add_argument("--host", default=None, help="interface to listen on (PARLEY_HOST, default 127.0.0.1)")
    serve_parser.add_argument("--port", type=int, default=None, help="port (PARLEY_PORT, default 8000)")
    serve_parser.add_argument("--data-dir", type=Path, default=None, help="data directory (PARLEY_DATA_DIR, ./data)")
    serve_parser.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    serve_parser.set_defaults(run=serve)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    result: int = args.run(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
