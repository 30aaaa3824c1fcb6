"""Run-wide guards shared by every stage in this process: abort and budget.

- **Abort.** When the backend refuses the credentials (:class:`AuthError`),
  every further call would fail the same way. The first stage that sees it
  calls :func:`abort`; stages that have not called the backend yet then raise
  :class:`RunAbortedError` at once, and waits (rate limiter, retry backoff)
  wake up early. One message for the run, not one failure per image.
- **Interrupt.** Ctrl-C, SIGTERM or a cancel (:func:`interrupt`): no new backend
  call starts (:class:`RunInterruptedError`; the image is left ``pending``), waits
  wake up, and calls already in flight finish. Unlike an abort it is not cleared by
  :func:`start_run`: a signal that lands while the run is starting still stops it.
- **Budget.** With ``budget_usd`` set, each generation reserves its
  estimated cost before calling the backend and settles the real cost after.
  A generation whose estimate would take spend (paid + reserved) past the
  budget is refused with :class:`BudgetExceededError`; images already paid
  for are still processed and published.

State is per process (threads share it). :func:`start_run` resets it at the
start of a run; a Dask run with several worker processes has one ledger per
process, so there the budget is enforced per worker (see the README).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from mediagen.errors import BudgetExceededError, RunAbortedError, RunInterruptedError


@dataclass
class _Ledger:
    budget_usd: float | None = None
    spent_usd: float = 0.0
    reserved_usd: float = 0.0
    refused: int = 0


_lock = threading.Lock()
_abort_event = threading.Event()
_abort_reason: list[str] = []
_interrupt_reason: list[str] = []
_ledger = _Ledger()


def start_run(budget_usd: float | None = None) -> None:
    """Clear the abort flag and start a fresh budget ledger."""
    global _ledger
    with _lock:
        if not _interrupt_reason:
            _abort_event.clear()
        _abort_reason.clear()
        _ledger = _Ledger(budget_usd=budget_usd)


# -- abort -----------------------------------------------------------------------


def abort(reason: str) -> None:
    """Stop the run: stages that have not called the backend yet will not."""
    with _lock:
        if not _abort_reason:
            _abort_reason.append(reason)
        _abort_event.set()


def aborted() -> str | None:
    """The reason the run was aborted, or None."""
    with _lock:
        return _abort_reason[0] if _abort_reason else None


def check() -> None:
    """Raise :class:`RunAbortedError` if the run was aborted (or interrupted)."""
    reason = aborted()
    if reason is not None:
        raise RunAbortedError(f"run aborted: {reason}")
    reason = interrupted()
    if reason is not None:
        raise RunInterruptedError(f"not started: {reason}")


# -- interrupt -------------------------------------------------------------------


def interrupt(reason: str) -> None:
    """Stop starting backend calls (the first reason wins); calls in flight go on."""
    with _lock:
        if not _interrupt_reason:
            _interrupt_reason.append(reason)
        _abort_event.set()  # wakes rate-limit and retry waits, which then check()


def interrupted() -> str | None:
    """Why the run was interrupted, or None."""
    with _lock:
        return _interrupt_reason[0] if _interrupt_reason else None


def clear_interrupt() -> None:
    """Forget an interrupt (a new command, a test); the abort flag is left alone."""
    with _lock:
        _interrupt_reason.clear()
        if not _abort_reason:
            _abort_event.clear()


def sleep(seconds: float) -> None:
    """Sleep, but wake up and raise :class:`RunAbortedError` when the run is aborted."""
    if seconds > 0 and _abort_event.wait(seconds):
        check()
    check()


# -- budget ------------------------------------------------------------------------


@dataclass
class Charge:
    """A reservation against the budget; :meth:`settle` records what was really spent."""

    reserved: float
    settled: bool = False

    def settle(self, cost_usd: float) -> None:
        with _lock:
            if not self.settled:
                _ledger.reserved_usd -= self.reserved
                _ledger.spent_usd += max(0.0, cost_usd)
                self.settled = True


@contextmanager
def reserve(estimate_usd: float, what: str = "this image") -> Iterator[Charge]:
    """Reserve ``estimate_usd`` for one backend call, or raise BudgetExceededError.

    Without a budget it only keeps the books. A call that fails without
    settling costs nothing (the API bills only answers).
    """
    with _lock:
        ledger = _ledger
        committed = ledger.spent_usd + ledger.reserved_usd
        if ledger.budget_usd is not None and committed + estimate_usd > ledger.budget_usd + 1e-9:
            ledger.refused += 1
            raise BudgetExceededError(
                f"budget_usd ${ledger.budget_usd:.4f} reached: ${ledger.spent_usd:.4f} spent, "
                f"${ledger.reserved_usd:.4f} in flight, {what} would cost ~${estimate_usd:.4f}",
                budget_usd=ledger.budget_usd,
                needed_usd=committed + estimate_usd,
            )
        ledger.reserved_usd += estimate_usd
    charge = Charge(estimate_usd)
    try:
        yield charge
    finally:
        charge.settle(0.0)  # no-op when the caller settled the real cost


def spent() -> float:
    """USD settled so far in this run (this process)."""
    with _lock:
        return round(_ledger.spent_usd, 6)


def refused() -> int:
    """How many generations the budget refused in this run."""
    with _lock:
        return _ledger.refused


def check_estimate(estimate_usd: float, budget_usd: float | None) -> None:
    """Refuse to start a run whose estimated cost exceeds the budget."""
    if budget_usd is not None and estimate_usd > budget_usd + 1e-9:
        raise BudgetExceededError(
            f"estimated cost ${estimate_usd:.4f} exceeds budget_usd ${budget_usd:.4f}: "
            "nothing was started; raise budget_usd or make fewer or cheaper images",
            budget_usd=budget_usd,
            needed_usd=estimate_usd,
        )
