"""Per-model rate limits: requests per minute and requests in flight.

Quotas are per Google project and per model, so limits are keyed by model
name (``"*"`` is the default for models without their own entry). They come
from the spec's ``rate_limits`` (first) and the ``MEDIAGEN_RATE_LIMITS``
setting, and one limiter per model is shared by every task of the process.

Requests are *paced*, not burst: with 60 requests per minute they start at
least one second apart, so no window of any length ever sees more than the
limit (Gemini counts per minute, but a burst of 60 in the first second is
what triggers 429 storms).

Across processes and concurrent flow runs, the flow installs a
:func:`set_shared_limiter` hook backed by a Prefect global concurrency limit
(see ``flows/concurrency_limits.py``); the library itself knows nothing of Prefect.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext

from mediagen.engine import guard as run_guard
from mediagen.spec.rate_limits import RateLimit  # the spec vocabulary

DEFAULT_KEY = "*"


def resolve_limit(
    model: str,
    spec_limits: Mapping[str, RateLimit] | None,
    settings_limits: Mapping[str, RateLimit] | None,
) -> RateLimit:
    """The limits for ``model``: spec entry, spec '*', setting entry, setting '*'.

    Fields combine: a spec entry that sets only ``max_concurrency`` still gets
    ``requests_per_minute`` from the settings.
    """
    layers = [
        (settings_limits or {}).get(DEFAULT_KEY),
        (settings_limits or {}).get(model),
        (spec_limits or {}).get(DEFAULT_KEY),
        (spec_limits or {}).get(model),
    ]
    merged: dict[str, float | int] = {}
    for layer in layers:
        if layer is not None:
            merged |= layer.model_dump(exclude_none=True)
    return RateLimit.model_validate(merged)


class ModelLimiter:
    """Paces and bounds the requests to one model. Thread-safe."""

    def __init__(self, limit: RateLimit) -> None:
        self.limit = limit
        self._interval = 60.0 / limit.requests_per_minute if limit.requests_per_minute else 0.0
        self._next_start = 0.0
        self._lock = threading.Lock()
        self._slots = (
            threading.BoundedSemaphore(limit.max_concurrency) if limit.max_concurrency else None
        )

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one request slot: waits for a free slot, then for the next start time."""
        if self._slots is not None:
            while not self._slots.acquire(timeout=0.1):
                run_guard.check()  # an aborted run does not keep waiting
        try:
            if self._interval:
                with self._lock:
                    now = time.monotonic()
                    start = max(now, self._next_start)
                    self._next_start = start + self._interval
                run_guard.sleep(start - now)
            yield
        finally:
            if self._slots is not None:
                self._slots.release()


# -- the process-wide registry -------------------------------------------------------

SharedLimiter = Callable[[str], AbstractContextManager[object]]

_lock = threading.Lock()
_spec_limits: dict[str, RateLimit] = {}
_limiters: dict[str, ModelLimiter] = {}
_shared: list[SharedLimiter] = []


def configure(spec_limits: Mapping[str, RateLimit] | None) -> None:
    """Set the run's spec limits and forget the limiters of the previous run."""
    with _lock:
        _spec_limits.clear()
        _spec_limits.update(spec_limits or {})
        _limiters.clear()


def limiter_for(model: str, settings_limits: Mapping[str, RateLimit] | None) -> ModelLimiter:
    """The process-wide limiter of ``model`` (created on first use)."""
    with _lock:
        if model not in _limiters:
            _limiters[model] = ModelLimiter(resolve_limit(model, _spec_limits, settings_limits))
        return _limiters[model]


def limits_for(model: str, settings_limits: Mapping[str, RateLimit] | None) -> RateLimit:
    """The limits ``model`` runs under in this run."""
    with _lock:
        return resolve_limit(model, _spec_limits, settings_limits)


def set_shared_limiter(factory: SharedLimiter | None) -> None:
    """Install (or remove, with None) a cross-process limiter around each request.

    ``factory(model)`` returns a context manager held for the request, e.g.
    one backed by a Prefect global concurrency limit.
    """
    with _lock:
        _shared.clear()
        if factory is not None:
            _shared.append(factory)


@contextmanager
def request_slot(model: str, settings_limits: Mapping[str, RateLimit] | None) -> Iterator[None]:
    """Everything one request to ``model`` must hold: local pacing, then the shared limit."""
    with _lock:
        shared = _shared[0] if _shared else None
    with limiter_for(model, settings_limits).slot(), shared(model) if shared else nullcontext():
        run_guard.check()
        yield


class ProcessCalls:
    """The :class:`~mediagen.backends.base.CallGuard` of this process's runs.

    Backends ask it for a request slot and for retry sleeps, so they never import
    the engine.
    """

    def __init__(self, settings_limits: Mapping[str, RateLimit] | None) -> None:
        self.settings_limits = settings_limits

    def slot(self, model: str) -> AbstractContextManager[object]:
        return request_slot(model, self.settings_limits)

    def sleep(self, seconds: float) -> None:
        run_guard.sleep(seconds)
