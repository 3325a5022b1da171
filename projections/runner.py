"""ProjectionRunner: feeds a projection from the event store's subscription and signals its progress.

Each projection stores its checkpoint with its writes. The runner publishes the position it has passed, so a
request can wait for exactly the events it appended (read-your-writes) without polling: ``wait_for`` blocks on
a condition variable that the runner notifies after every page.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Protocol

from domain.errors import NotReady
from domain.ports import EventStore, RecordedEvent

log = logging.getLogger(__name__)


class Projection(Protocol):
    name: str
    serving: bool  # requests wait for it (read-your-writes); a non-serving projection only warms caches

    def checkpoint(self) -> int: ...

    def apply(self, page: Sequence[RecordedEvent]) -> None:
        """Apply a page of events and store the position of the last one as the checkpoint."""
        ...


class ProjectionRunner:
    def __init__(self, store: EventStore, projection: Projection) -> None:
        self.store = store
        self.projection = projection
        self._position = projection.checkpoint()
        self._changed = threading.Condition()
        self._failure: BaseException | None = None
        self._subscription = None
        self._thread: threading.Thread | None = None
        self._stopping = False

    @property
    def position(self) -> int:
        return self._position

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"projection-{self.projection.name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        subscription = self.store.subscribe(self._position)
        self._subscription = subscription  # type: ignore[assignment]
        for page in subscription:
            attempt = 0
            while not self._stopping:
                try:
                    self.projection.apply(page)
                    break
                except Exception as error:
                    attempt += 1
                    log.exception("projection %s failed on page ending %s", self.projection.name, page[-1].position)
                    if attempt >= 3:
                        with self._changed:
                            self._failure = error
                            self._changed.notify_all()
                        return
                    time.sleep(0.2 * attempt)
            with self._changed:
                self._position = page[-1].position
                self._changed.notify_all()

    def wait_for(self, position: int, timeout: float) -> None:
        """Block until this projection has applied every event up to ``position``. When it runs in another
        process (this runner never started), its stored checkpoint says how far it is."""
        if self._thread is None:
            self._wait_for_checkpoint(position, timeout)
            return
        with self._changed:
            done = self._changed.wait_for(
                lambda: self._position >= position or self._failure is not None, timeout=timeout
            )
        if self._failure is not None:
            raise NotReady(f"projection {self.projection.name} stopped: {self._failure}")
        if not done:
            raise NotReady(f"projection {self.projection.name} has not caught up with position {position} yet")

    def _wait_for_checkpoint(self, position: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        pause = 0.002
        while self.projection.checkpoint() < position:
            if time.monotonic() >= deadline:
                raise NotReady(f"projection {self.projection.name} has not caught up with position {position} yet")
            time.sleep(pause)
            pause = min(pause * 2, 0.05)  # a projector applies a page in milliseconds: look often at first

    def stop(self) -> None:
        self._stopping = True
        if self._subscription is not None:
            self._subscription.close()
        if self._thread is not None:
            self._thread.join(timeout=10)


class Projections:
    """All runners of a process; ``wait_for`` gives read-your-writes across all of them."""

    def __init__(self, runners: Sequence[ProjectionRunner]) -> None:
        self.runners = list(runners)

    def start(self) -> None:
        for runner in self.runners:
            runner.start()

    def wait_for(self, position: int | None, timeout: float = 60.0) -> None:
        if not position:
            return
        deadline = time.monotonic() + timeout
        for runner in self.runners:
            if runner.projection.serving:
                runner.wait_for(position, max(0.0, deadline - time.monotonic()))

    def wait_for_all(self, position: int, timeout: float = 600.0) -> None:
        """Wait for every projection, cache warmers included (benchmarks and tests that measure them)."""
        deadline = time.monotonic() + timeout
        for runner in self.runners:
            runner.wait_for(position, max(0.0, deadline - time.monotonic()))

    def stop(self) -> None:
        for runner in self.runners:
            runner.stop()
