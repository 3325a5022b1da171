"""How much each API key is used: counted in memory on every request, written to the log as ``ApiKeyUsed``
events every few seconds (one event per key that was used), so ``last_used_at`` and ``total_calls`` are true
without an event per call. What a replica has counted and not yet written is added to what the read models say,
so its own answers are exact; other replicas' counts arrive within ``FLUSH_EVERY_S``."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime

from domain import apikey
from domain.errors import NotFound, ParleyError
from domain.service import CommandHandler, stream_name

log = logging.getLogger("parley.keys")
FLUSH_EVERY_S = 5.0


class KeyUsage:
    def __init__(self, handler: CommandHandler, flush_every_s: float = FLUSH_EVERY_S) -> None:
        self.handler = handler
        self.flush_every_s = flush_every_s
        self._lock = threading.Lock()
        self._pending: dict[str, tuple[int, datetime]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def record(self, key_id: str, at: datetime | None = None) -> None:
        at = at or datetime.now(UTC)
        with self._lock:
            calls, _ = self._pending.get(key_id, (0, at))
            self._pending[key_id] = (calls + 1, at)

    def pending(self, key_id: str) -> tuple[int, datetime | None]:
        """Calls counted here and not yet written, and the last of them."""
        with self._lock:
            calls, last = self._pending.get(key_id, (0, None))
        return calls, last

    def last_use(self, key_id: str, recorded: datetime | None) -> datetime | None:
        """The later of the read models' ``last_used_at`` and this replica's unwritten calls."""
        _, pending = self.pending(key_id)
        return max(filter(None, (recorded, pending)), default=None)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="key-usage", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.flush_every_s):
            self.flush()

    def flush(self) -> None:
        with self._lock:
            batch, self._pending = self._pending, {}
        for key_id, (calls, last) in batch.items():
            try:
                self.handler.execute(
                    apikey,
                    stream_name("apikey", key_id),
                    apikey.RecordUse(key_id=key_id, calls=calls, last_used_at=last),
                )
            except NotFound:
                pass  # deleted meanwhile: its use no longer matters
            except ParleyError as error:  # kept for the next flush rather than lost
                log.warning("could not record the use of API key %s: %s", key_id, error)
                with self._lock:
                    more, later = self._pending.get(key_id, (0, last))
                    self._pending[key_id] = (calls + more, max(last, later))

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.flush()
