"""Memory for decoded pixels, bounded by a budget rather than by concurrency alone.

Concurrency counts images; memory follows pixels. Four 8192x8192 outputs in
flight hold gigabytes, while forty thumbnails hold little. Every stage that
decodes pixels (the answer check, processing) first takes its weight from this
process's :class:`PixelBudget` and gives it back when its images are closed:

    with pixel_budget.hold(source_pixels + largest_output_pixels):
        ...decode, resize, encode...

An image heavier than the whole budget is not refused (the pixel cap,
``MEDIAGEN_MAX_IMAGE_PIXELS``, refuses what is too large): it waits until it
can run alone. The budget is per process (``MEDIAGEN_PIXEL_BUDGET``), on
purpose: memory belongs to the process, so every run in it (flow runs, clients,
each with its own :class:`~mediagen.engine.run.Run`) draws on the same budget. Dask
workers each have their own.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from mediagen.settings import get_settings


class PixelBudget:
    """A counting semaphore of pixels; fair enough for a handful of waiting threads."""

    def __init__(self, limit: int) -> None:
        self.limit = max(1, int(limit))
        self.used = 0
        self.peak = 0  # the most pixels held at once (for tests and benchmarks)
        self._cond = threading.Condition()

    @contextmanager
    def hold(self, pixels: int) -> Iterator[None]:
        """Hold ``pixels`` of the budget for the block (waits while it is spent)."""
        want = min(max(1, int(pixels)), self.limit)  # heavier than the budget: alone
        with self._cond:
            while self.used + want > self.limit:
                self._cond.wait()
            self.used += want
            self.peak = max(self.peak, self.used)
        try:
            yield
        finally:
            with self._cond:
                self.used -= want
                self._cond.notify_all()


_budget: PixelBudget | None = None
_lock = threading.Lock()


def current(limit: int | None = None) -> PixelBudget:
    """This process's budget, sized by ``limit`` (the run's ``MEDIAGEN_PIXEL_BUDGET``; read
    from the environment when not given), rebuilt when it changes."""
    global _budget
    # Reading the environment builds a Settings (~ms of CPU): callers with a run pass it.
    limit = get_settings().pixel_budget if limit is None else limit
    with _lock:
        if _budget is None or _budget.limit != limit:
            _budget = PixelBudget(limit)
        return _budget


@contextmanager
def hold(pixels: int, limit: int | None = None) -> Iterator[None]:
    """Hold ``pixels`` of this process's budget for the block (``limit``: see :func:`current`)."""
    with current(limit).hold(pixels):
        yield


__all__ = ["PixelBudget", "current", "hold"]
