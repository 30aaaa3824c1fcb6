"""The guards of one run: stop (abort, interrupt) and budget.

- **Abort.** When the backend refuses the credentials (:class:`AuthError`),
  every further call would fail the same way. The first stage that sees it
  calls :meth:`StopFlag.abort`; stages that have not called the backend yet then
  raise :class:`RunAbortedError` at once, and waits (rate limiter, retry backoff)
  wake up early. One message for the run, not one failure per image.
- **Interrupt.** Ctrl-C, SIGTERM or a cancel (:meth:`StopFlag.interrupt`): no new
  backend call starts (:class:`RunInterruptedError`; the image is left ``pending``),
  waits wake up, and calls already in flight finish.
- **Budget.** With ``budget_usd`` set, each generation reserves its
  estimated cost before calling the backend and settles the real cost after
  (:meth:`Budget.reserve`). A generation whose estimate would take spend (paid +
  reserved) past the budget is refused with :class:`BudgetExceededError`; images
  already paid for are still processed and published.

Each :class:`~mediagen.engine.run.Run` holds one :class:`StopFlag` and one
:class:`Budget`: two runs in one process never stop or charge each other. Threads
of a run share them; a Dask run with several worker processes has one Run (so one
ledger) per process, so there the budget is enforced per worker (see docs/backends.md).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from mediagen.errors import BudgetExceededError, RunAbortedError, RunInterruptedError


class StopFlag:
    """Abort and interrupt of one run. Thread-safe; the first reason of each wins."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._event = threading.Event()  # set by either: wakes every wait of the run
        self._aborted: str | None = None
        self._interrupted: str | None = None

    def abort(self, reason: str) -> None:
        """Stop the run: stages that have not called the backend yet will not."""
        with self._lock:
            self._aborted = self._aborted or reason
            self._event.set()

    @property
    def aborted(self) -> str | None:
        """The reason the run was aborted, or None."""
        with self._lock:
            return self._aborted

    def interrupt(self, reason: str) -> None:
        """Stop starting backend calls (the first reason wins); calls in flight go on."""
        with self._lock:
            self._interrupted = self._interrupted or reason
            self._event.set()  # wakes rate-limit and retry waits, which then check()

    @property
    def interrupted(self) -> str | None:
        """Why the run was interrupted, or None."""
        with self._lock:
            return self._interrupted

    def check(self) -> None:
        """Raise :class:`RunAbortedError` if the run was aborted
        (:class:`RunInterruptedError` if interrupted)."""
        with self._lock:
            aborted, interrupted = self._aborted, self._interrupted
        if aborted is not None:
            raise RunAbortedError(f"run aborted: {aborted}")
        if interrupted is not None:
            raise RunInterruptedError(f"not started: {interrupted}")

    def sleep(self, seconds: float) -> None:
        """Sleep, but wake up and raise when the run is aborted or interrupted."""
        if seconds > 0 and self._event.wait(seconds):
            self.check()
        self.check()

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` s for the run to stop; True if it did."""
        return self._event.wait(timeout)


@dataclass
class Charge:
    """A reservation against the budget; :meth:`settle` records what was really spent."""

    budget: Budget
    reserved: float
    settled: bool = False

    def settle(self, cost_usd: float) -> None:
        self.budget._settle(self, cost_usd)


class Budget:
    """The money ledger of one run: paid, reserved for calls in flight, refused."""

    def __init__(self, budget_usd: float | None = None) -> None:
        self.budget_usd = budget_usd
        self._lock = threading.Lock()
        self._spent = 0.0
        self._reserved = 0.0

    @contextmanager
    def reserve(self, estimate_usd: float, what: str = "this image") -> Iterator[Charge]:
        """Reserve ``estimate_usd`` for one backend call, or raise BudgetExceededError.

        Without a budget it only keeps the books. A call that fails without
        settling costs nothing (the API bills only answers).
        """
        with self._lock:
            committed = self._spent + self._reserved
            limit = self.budget_usd
            if limit is not None and committed + estimate_usd > limit + 1e-9:
                raise BudgetExceededError(
                    f"budget_usd ${limit:.4f} reached: ${self._spent:.4f} spent, "
                    f"${self._reserved:.4f} in flight, {what} would cost ~${estimate_usd:.4f}",
                    budget_usd=limit,
                    needed_usd=committed + estimate_usd,
                )
            self._reserved += estimate_usd
        charge = Charge(self, estimate_usd)
        try:
            yield charge
        finally:
            charge.settle(0.0)  # no-op when the caller settled the real cost

    def _settle(self, charge: Charge, cost_usd: float) -> None:
        with self._lock:
            if not charge.settled:
                self._reserved -= charge.reserved
                self._spent += max(0.0, cost_usd)
                charge.settled = True

    @property
    def spent_usd(self) -> float:
        """USD settled so far in this run (this process)."""
        with self._lock:
            return round(self._spent, 6)
