"""``parley replay`` (rebuild every read model and index from position 0, or ``--verify`` a rebuild against the live
read models), ``parley export`` (a session's hash-chained events and transcript, or ``--verify`` a file) and
``parley erase`` (crypto-shred chat sessions' personal data).

Both read the stores of the settings directly: run them on a stopped server (or, for ``--verify`` and ``export``,
an idle one), as an operator who holds the data, so they act with an admin's rights."""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from api.environment import OFFLINE_ENVIRONMENT

OPERATOR = "operator"  # the actor name the command line reads the log as


def _offline() -> None:
    for key, value in OFFLINE_ENVIRONMENT.items():
        os.environ.setdefault(key, value)


def replay(args: argparse.Namespace) -> int:
    _offline()
    from api.settings import Settings
    from domain.errors import ConfigurationError

    try:
        settings = Settings.from_env(data_dir=args.data_dir, projectors=True)
        return verify(settings) if args.verify else rebuild(settings)
    except ConfigurationError as error:
        print(f"parley: configuration error: {error.message}", file=sys.stderr)
        return 2


def rebuild(settings: Any) -> int:
    """Empties the read models (with the lexical index and every checkpoint) and the vector index, then runs the
    server's own projections from position 0 until they reach the log's head."""
    from tqdm import tqdm

    from api.bootstrap import bootstrap, empty_read_store, event_store_of, read_side_of, vector_index_of

    events = event_store_of(settings)
    side = read_side_of(settings)
    index = vector_index_of(settings)
    head = events.head_position()
    empty_read_store(settings, side.store)
    for collection_id in _collections_in(events):
        index.drop_collection(collection_id)
    parley = bootstrap(settings, events=events, read_side=side, index=index)
    try:
        parley.embedder.warm_up()
        started = time.monotonic()
        parley.projections.start()
        with tqdm(total=head, desc="replay", unit="event") as bar:
            failure = _until_head(parley, head, bar, started)
        elapsed = time.monotonic() - started
    finally:
        parley.close()
    if failure is not None:
        print(f"parley: replay failed: {failure}", file=sys.stderr)
        return 1
    rate = head / max(elapsed, 1e-9)
    print(f"{head} events replayed into the read models and indexes in {elapsed:.1f} s ({rate:,.0f} events/s)")
    return 0


def _until_head(parley: Any, head: int, bar: Any, started: float) -> str | None:
    """Follows the serving projections (read models, vector index) up to ``head``; why one stopped, if it did."""
    from domain.errors import NotReady

    serving = [runner for runner in parley.projections.runners if runner.projection.serving]
    while True:
        reached = min(runner.position for runner in serving)
        bar.update(reached - bar.n)
        bar.set_postfix(events_per_s=f"{reached / max(time.monotonic() - started, 1e-9):,.0f}")
        if reached >= head:
            return None
        try:
            parley.projections.wait_for(head, timeout=0.25)
        except NotReady as error:
            if "stopped" in error.message:  # a projection gave up on a page (the runner logged why)
                return error.message


def _collections_in(events: Any) -> list[str]:
    """Every collection the log ever created: their vectors are dropped before a rebuild."""
    from domain.events import CollectionCreated, decode_recorded

    found, position = [], 0
    while records := events.read_all(position, 1000):
        for record in records:
            if record.type == "CollectionCreated":
                event = decode_recorded(record.type, record.schema_version, record.data)
                assert isinstance(event, CollectionCreated)
                found.append(event.collection_id)
        position = records[-1].position
    return found


def verify(settings: Any) -> int:
    """Folds the log from position 0 up to the live read models' checkpoint into scratch read models beside them,
    compares every table's content hash, and names the first row that differs."""
    from tqdm import tqdm

    from api.bootstrap import event_store_of, read_side_of, scratch_read_store_of
    from domain.usecases.rebuild import first_difference, fold_log, table_hashes
    from projections.read_model_projection import NAME

    events = event_store_of(settings)
    live = read_side_of(settings).store
    scratch, remove = scratch_read_store_of(settings)
    try:
        up_to, live_snapshot = live.snapshot(NAME)  # one view: a flush or answer landing meanwhile is not in it
        started = time.monotonic()
        with tqdm(total=up_to, desc="verify", unit="event") as bar:

            def progress(position: int) -> None:
                bar.update(position - bar.n)
                bar.set_postfix(events_per_s=f"{position / max(time.monotonic() - started, 1e-9):,.0f}")

            applied = fold_log(events, scratch, NAME, up_to, progress)
        _, rebuilt_snapshot = scratch.snapshot(NAME)
    finally:
        remove()
        live.close()
        events.close()
    for table, digest in table_hashes(live_snapshot).items():
        rebuilt = table_hashes(rebuilt_snapshot).get(table)
        mark = "ok" if rebuilt == digest else "DIFFERS"
        print(f"{table:28} {len(live_snapshot[table]):>8} rows  {digest[:16]}  {mark}")
    difference = first_difference(live_snapshot, rebuilt_snapshot)
    if difference is not None:
        print(f"parley: the live read models differ from the log (up to position {up_to}): {difference.describe()}",
              file=sys.stderr)  # fmt: skip
        return 1
    print(f"identical: {len(live_snapshot)} read models rebuilt from {applied} events (up to position {up_to})")
    return 0


def export(args: argparse.Namespace) -> int:
    _offline()
    if args.verify is not None:
        return verify_file(args.verify)
    if not args.session:
        print("parley: export needs --session ID (or --verify FILE)", file=sys.stderr)
        return 2
    from adapters.transcript import JinjaTranscript
    from api.bootstrap import event_store_of
    from api.export import ExportSession
    from api.settings import Settings
    from domain.audit import Reader
    from domain.errors import ConfigurationError, NotFound

    try:
        events = event_store_of(Settings.from_env(data_dir=args.data_dir))
    except ConfigurationError as error:
        print(f"parley: configuration error: {error.message}", file=sys.stderr)
        return 2
    try:
        operator = Reader(username=OPERATOR, key_id=OPERATOR, is_admin=True)
        exported = ExportSession(events, JinjaTranscript()).session(operator, args.session, datetime.now(UTC))
    except NotFound as error:
        print(f"parley: {error.message}", file=sys.stderr)
        return 1
    finally:
        events.close()
    import msgspec

    out = args.out or Path(f"session-{args.session}")
    out.parent.mkdir(parents=True, exist_ok=True)
    jsonl, html = out.with_suffix(".jsonl"), out.with_suffix(".html")
    jsonl.write_bytes(b"".join(msgspec.json.encode(line) + b"\n" for line in exported.lines))
    html.write_text(exported.html, encoding="utf-8")
    last_hash = exported.lines[-1]["last_hash"]
    print(f"{len(exported.lines) - 2} events written to {jsonl} (last hash {last_hash}); transcript {html}")
    return 0


def verify_file(path: Path) -> int:
    from domain.usecases.audit import verify_export

    try:
        lines = [line for line in path.read_bytes().split(b"\n") if line.strip()]
    except OSError as error:
        print(f"parley: cannot read {path}: {error.strerror}", file=sys.stderr)
        return 2
    events, problems = verify_export(lines)
    for problem in problems:
        print(f"{path}:{problem.line}: {problem.reason}", file=sys.stderr)
    if problems:
        return 1
    print(f"{path}: intact, {events} events in an unbroken hash chain")
    return 0


def erase(args: argparse.Namespace) -> int:
    """Erases the sessions as the server's endpoint does, on a stopped server: this process runs the projections
    itself, so that the read models drop the sessions before their keys are forgotten."""
    _offline()
    from api.bootstrap import bootstrap
    from api.settings import Settings
    from domain.audit import Reader
    from domain.envelope import CommandContext, command_context
    from domain.errors import ConfigurationError, NotFound

    if not args.session:
        print("parley: erase needs --session ID (one or more)", file=sys.stderr)
        return 2
    try:
        parley = bootstrap(Settings.from_env(data_dir=args.data_dir, projectors=True))
    except ConfigurationError as error:
        print(f"parley: configuration error: {error.message}", file=sys.stderr)
        return 2
    try:
        parley.projections.start()
        parley.projections.wait_for(parley.events.head_position(), timeout=3600)
        operator = Reader(username=OPERATOR, key_id=OPERATOR, is_admin=True)
        with command_context(CommandContext(actor=OPERATOR)):
            erased = parley.erasing()(operator, args.session)
    except NotFound as error:
        print(f"parley: {error.message}", file=sys.stderr)
        return 1
    finally:
        parley.close()
    for done in erased:
        what = f"erased at position {done.position}" if done.position is not None else "had been erased before"
        print(f"chat session {done.session_id}: {what}; {done.events} events kept, their personal fields unreadable")
    return 0


def add_commands(commands: Any) -> None:
    """Registers ``replay``, ``export`` and ``erase`` on ``parley``'s subcommands."""
    data_dir = {"type": Path, "default": None, "help": "data directory (PARLEY_DATA_DIR, ./data)"}
    replay_parser = commands.add_parser("replay", help="rebuild every read model and index from the event log")
    replay_parser.add_argument("--data-dir", **data_dir)
    replay_parser.add_argument(
        "--verify",
        action="store_true",
        help="rebuild beside the live read models and compare them; exit 1 on a difference",
    )
    replay_parser.set_defaults(run=replay)
    export_parser = commands.add_parser("export", help="export a chat session's events and transcript")
    export_parser.add_argument("--data-dir", **data_dir)
    export_parser.add_argument("--session", help="the chat session's id")
    export_parser.add_argument("--out", type=Path, default=None, help="file name without suffix (.jsonl and .html)")
    export_parser.add_argument("--verify", type=Path, default=None, metavar="FILE", help="check an export's hash chain")
    export_parser.set_defaults(run=export)
    erase_parser = commands.add_parser(
        "erase", help="erase chat sessions' personal data (crypto-shredding; run it on a stopped server)"
    )
    erase_parser.add_argument("--data-dir", **data_dir)
    erase_parser.add_argument("--session", action="append", default=[], help="a chat session's id (repeatable)")
    erase_parser.set_defaults(run=erase)
