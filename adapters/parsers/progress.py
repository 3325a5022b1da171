"""Page progress for a ``PageProgress`` callback: counts pages as they finish, in whatever order."""

from __future__ import annotations

from domain.ports import PageProgress


class ProgressReporter:
    """Calls ``progress(done, total)`` once per finished page; does nothing without a callback."""

    def __init__(self, progress: PageProgress | None, total: int = 0) -> None:
        self._progress = progress
        self.total = total
        self.done = 0

    def page_done(self) -> None:
        self.done += 1
        if self._progress is not None:
            self._progress(self.done, self.total)
