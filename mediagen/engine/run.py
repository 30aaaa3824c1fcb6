"""One run's state: :class:`Run`, the object every stage works for.

A run is a spec run (one flow run, or one Dask worker process's share of it) or a
:class:`~mediagen.client.media_client.MediaClient` session. Everything that used to
live in module globals and leak from one run into the next lives here instead, the
way httpx keeps connection state on a ``Client`` and its transport, not in the
module: two runs in one process share nothing by accident, and a run that was
aborted (a refused key) leaves the next one alone.

Interface (stable; later changes are additive only)::

    Run(settings=None, *, run_id="", budget_usd=None, rate_limits=None,
        concurrency=8, shared_limiter=None,
        abort_on_refusal=True)                     # context manager; close()
    run.settings, run.run_id, run.budget_usd, run.concurrency

    # stop: abort (refused key: every image fails fast) and interrupt (Ctrl-C, cancel)
    run.abort(reason)        run.aborted -> str | None
    run.refused(error)       # a refused key/setting: abort (unless abort_on_refusal=False)
    run.interrupt(reason)    run.interrupted -> str | None
    run.check()              # raise RunAbortedError / RunInterruptedError if stopped
    run.sleep(seconds)       # a wait that wakes (and raises) when the run stops
    run.wait_stopped(timeout) -> bool

    # budget: reserve an estimate before a paid call, settle the real cost after
    with run.reserve(estimate_usd, what) as charge: ...; charge.settle(cost_usd)
    run.spent_usd -> float

    # rate limits and concurrency
    with run.slot(model): ...        # one request to model (pacing, shared limit, stop)
    run.limits_for(model) -> RateLimit
    run.shared_limiter               # settable: cross-process hook (the flow's Prefect limits)
    with run.backend_slot(): ...     # one of the run's `concurrency` backend calls
    run.answered()                   # this thread's call has its answer: the slot goes back

    # clients, built once per run (backends get calls=run: Run is their CallGuard)
    run.backend(name) -> Backend     run.bucket(config) -> Bucket
    run.clients() -> list            run.closed -> bool

    # events ("generated", "published", "failed", "blocked") for progress bars
    run.subscribe(listener) -> unsubscribe       run.emit(image_id, event)

Process-wide on purpose (not held here): the pixel budget
(:mod:`mediagen.imaging.pixel_budget`: memory belongs to the process, whatever
runs share it) and OS signal handling (:mod:`mediagen.engine.interrupts`: a
signal interrupts the runs the command handed to its signal guard).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any

from mediagen.engine.events import EventBus, Listener
from mediagen.engine.guard import Budget, Charge, StopFlag
from mediagen.engine.ratelimit import RateLimit, RateLimits, SharedLimiter

if TYPE_CHECKING:
    from mediagen.backends import Backend
    from mediagen.settings import Settings
    from mediagen.storage.bucket import Bucket, BucketConfig

DEFAULT_CONCURRENCY = 8
_SLOT_POLL_S = 0.1  # how often a wait for a backend slot looks at the stop flag


class Run:
    """The state of one run: stop flag, budget, rate limits, slots, clients, listeners.

    Thread-safe: the stages of a run share it from any number of threads. Use it as
    a context manager (or call :meth:`close`) so its backend clients are released.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        run_id: str = "",
        budget_usd: float | None = None,
        rate_limits: Mapping[str, RateLimit] | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        shared_limiter: SharedLimiter | None = None,
        abort_on_refusal: bool = True,
    ) -> None:
        if settings is None:
            from mediagen.settings import get_settings

            settings = get_settings()
        self.settings = settings
        self.run_id = run_id
        self.concurrency = max(1, int(concurrency))
        # A spec run stops at the first refused key or setting: every further call would
        # be refused too. A client session does not: each call raises its own error.
        self.abort_on_refusal = abort_on_refusal
        self._stop = StopFlag()
        self._budget = Budget(budget_usd)
        # Spec limits (rate_limits) over the settings' MEDIAGEN_RATE_LIMITS.
        self._limits = RateLimits(rate_limits, settings.rate_limits, self._stop, shared_limiter)
        self._events = EventBus()
        # Backend calls in flight in this run, whatever the executor's thread count; which
        # of them this thread holds (answered() gives it back before the call returns).
        self._backend_slots = threading.BoundedSemaphore(self.concurrency)
        self._held = threading.local()
        self._lock = threading.Lock()
        self._clients: dict[tuple[int, object], object] = {}
        self._closed = False

    def __repr__(self) -> str:
        return f"Run(run_id={self.run_id!r}, concurrency={self.concurrency})"

    # -- stop ----------------------------------------------------------------------

    def abort(self, reason: str) -> None:
        """Stop the run (e.g. the key was refused): no further backend call starts."""
        self._stop.abort(reason)

    @property
    def aborted(self) -> str | None:
        """Why the run was aborted, or None."""
        return self._stop.aborted

    def interrupt(self, reason: str) -> None:
        """Ctrl-C, SIGTERM, a cancel: no new backend call starts; calls in flight finish."""
        self._stop.interrupt(reason)

    @property
    def interrupted(self) -> str | None:
        """Why the run was interrupted, or None."""
        return self._stop.interrupted

    def refused(self, error: BaseException) -> None:
        """The backend refused the run's key or a setting (AuthError, ConfigurationError):
        abort the run, unless it is a session (``abort_on_refusal=False``)."""
        if self.abort_on_refusal:
            self.abort(str(error))

    def check(self) -> None:
        """Raise RunAbortedError (RunInterruptedError) if the run was aborted (interrupted)."""
        self._stop.check()

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` (retry backoff); wakes up and raises when the run stops.

        Part of :class:`~mediagen.backends.base.CallGuard`.
        """
        self._stop.sleep(seconds)

    def wait_stopped(self, timeout: float) -> bool:
        """Wait up to ``timeout`` s for an abort or interrupt; True if one came."""
        return self._stop.wait(timeout)

    # -- budget --------------------------------------------------------------------

    @property
    def budget_usd(self) -> float | None:
        return self._budget.budget_usd

    def reserve(
        self, estimate_usd: float, what: str = "this image"
    ) -> AbstractContextManager[Charge]:
        """Reserve ``estimate_usd`` for one paid call, or raise BudgetExceededError.

        Settle the real cost on the yielded :class:`~mediagen.engine.guard.Charge`;
        a call that raises before settling costs nothing.
        """
        return self._budget.reserve(estimate_usd, what)

    @property
    def spent_usd(self) -> float:
        """USD settled so far by this run (in this process)."""
        return self._budget.spent_usd

    # -- rate limits and concurrency -------------------------------------------------

    def slot(self, model: str) -> AbstractContextManager[object]:
        """Hold one request slot of ``model``; raises when the run has stopped.

        Part of :class:`~mediagen.backends.base.CallGuard`: backends call it around
        each request they send.
        """
        if getattr(self._held, "inside", False) and not getattr(self._held, "slot", False):
            self._take_backend_slot()  # a retry after an answer: a slot again, first
        return self._limits.slot(model)

    def limits_for(self, model: str) -> RateLimit:
        """The limits ``model`` runs under in this run (spec over settings)."""
        return self._limits.limits_for(model)

    @property
    def shared_limiter(self) -> SharedLimiter | None:
        """The cross-process limiter held around each request (None: none)."""
        return self._limits.shared

    @shared_limiter.setter
    def shared_limiter(self, factory: SharedLimiter | None) -> None:
        self._limits.shared = factory

    @contextmanager
    def backend_slot(self) -> Iterator[None]:
        """Hold one of the run's ``concurrency`` backend-call slots (waits; wakes on stop).

        The slot is given back when the call's answer arrives (:meth:`answered`), or at
        the end of the block; a further request of the same call takes one again
        (:meth:`slot`): the backend never has more than ``concurrency`` requests.
        """
        self._take_backend_slot()
        self._held.inside = True
        try:
            yield
        finally:
            self._held.inside = False
            self._give_back()

    def answered(self) -> None:
        """The request this thread sent has its answer: its backend slot goes to the next
        image now, not after the answer is read and parsed (~45 ms under load, for every
        call: the gap that kept 16 slots 91 % busy, bench/versus_peer.py). Not in a run
        with a budget: there the slot goes back once the call's real cost is settled, so
        the next call is checked against what was spent (a fallback model may cost more
        than the estimate reserved).

        Part of :class:`~mediagen.backends.base.CallGuard`.
        """
        if self._budget.budget_usd is None:
            self._give_back()

    def _give_back(self) -> None:
        if getattr(self._held, "slot", False):
            self._held.slot = False
            self._backend_slots.release()

    def _take_backend_slot(self) -> None:
        while not self._backend_slots.acquire(timeout=_SLOT_POLL_S):
            self._stop.check()  # a stopped run does not keep waiting
        self._held.slot = True

    # -- clients ---------------------------------------------------------------------

    def backend(self, name: str) -> Backend:
        """This run's instance of backend ``name`` (built once, with ``calls=self``)."""
        from mediagen.backends import get_backend_class

        return self._client(("backend", name), lambda: get_backend_class(name)(self.settings, self))  # type: ignore[return-value]

    def bucket(self, config: BucketConfig) -> Bucket:
        """This run's client of the bucket ``config`` names (built once)."""
        from mediagen.storage.bucket import Bucket

        return self._client(("bucket", config), lambda: Bucket(config, settings=self.settings))  # type: ignore[return-value]

    def _client(self, key: object, build: Callable[[], Any]) -> Any:
        # Keyed by pid too: s3fs and SDK clients do not survive a fork.
        full = (os.getpid(), key)
        with self._lock:
            if self._closed:
                raise RuntimeError(f"{self!r} is closed")
            if full not in self._clients:
                self._clients[full] = build()
            return self._clients[full]

    def clients(self) -> list[object]:
        """The clients built so far (backends and buckets), for tests and diagnostics."""
        with self._lock:
            return list(self._clients.values())

    # -- events ----------------------------------------------------------------------

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(image_id, event)`` on each event of this run; returns unsubscribe."""
        return self._events.subscribe(listener)

    def emit(self, image_id: str, event: str) -> None:
        self._events.emit(image_id, event)

    # -- lifetime --------------------------------------------------------------------

    def close(self) -> None:
        """Release the backend clients. Idempotent; the run builds no client after."""
        from mediagen.backends import Backend

        with self._lock:
            clients, self._clients, self._closed = list(self._clients.values()), {}, True
        for client in clients:
            if isinstance(client, Backend):
                client.close()

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> Run:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["DEFAULT_CONCURRENCY", "Run"]
