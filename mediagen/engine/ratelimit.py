"""Per-model rate limits: requests per minute and requests in flight.

Quotas are per Google project and per model, so limits are keyed by model
name (``"*"`` is the default for models without their own entry). They come
from the spec's ``rate_limits`` (first) and the ``MEDIAGEN_RATE_LIMITS``
setting. Each run (:class:`~mediagen.engine.run.Run`) holds its own
:class:`RateLimits`: one limiter per model, shared by every task of that run and
by no other run.

Requests are *paced*, not burst: with 60 requests per minute they start at
least one second apart, so no window of any length ever sees more than the
limit (Gemini counts per minute, but a burst of 60 in the first second is
what triggers 429 storms).

Across processes and concurrent flow runs, the flow installs a shared limiter
(``RateLimits.shared``, a hook backed by a Prefect global concurrency limit, see
``flows/concurrency_limits.py``) into its run; the library knows nothing of Prefect.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from mediagen.engine import guard as run_guard

DEFAULT_KEY = "*"


class RateLimit(BaseModel):
    """Limits for one model."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    requests_per_minute: float | None = Field(
        None, gt=0, le=100_000, description="Requests started per minute (paced evenly)."
    )
    max_concurrency: int | None = Field(
        None, ge=1, le=1024, description="Requests in flight at once for this model."
    )


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


class Stoppable(Protocol):
    """What a limiter needs of its run: stop waiting when the run stops."""

    def check(self) -> None: ...

    def sleep(self, seconds: float) -> None: ...


class _ProcessStop:  # interim: the process-wide guard (removed with the registry below)
    def check(self) -> None:
        run_guard.check()

    def sleep(self, seconds: float) -> None:
        run_guard.sleep(seconds)


class ModelLimiter:
    """Paces and bounds the requests to one model. Thread-safe."""

    def __init__(self, limit: RateLimit, stop: Stoppable | None = None) -> None:
        self.limit = limit
        self.stop: Stoppable = stop or _ProcessStop()
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
                self.stop.check()  # a stopped run does not keep waiting
        try:
            if self._interval:
                with self._lock:
                    now = time.monotonic()
                    start = max(now, self._next_start)
                    self._next_start = start + self._interval
                self.stop.sleep(start - now)
            yield
        finally:
            if self._slots is not None:
                self._slots.release()


SharedLimiter = Callable[[str], AbstractContextManager[object]]


class RateLimits:
    """The limiters of one run: spec limits over settings limits, one limiter per model.

    ``shared``: an optional cross-process limiter held around each request after
    the local pacing (``shared(model)`` returns a context manager), e.g. one backed
    by a Prefect global concurrency limit. The flow sets it; None by default.
    """

    def __init__(
        self,
        spec_limits: Mapping[str, RateLimit] | None,
        settings_limits: Mapping[str, RateLimit] | None,
        stop: Stoppable,
        shared: SharedLimiter | None = None,
    ) -> None:
        self.spec_limits = dict(spec_limits or {})
        self.settings_limits = dict(settings_limits or {})
        self.stop = stop
        self.shared = shared
        self._lock = threading.Lock()
        self._limiters: dict[str, ModelLimiter] = {}

    def limits_for(self, model: str) -> RateLimit:
        """The limits ``model`` runs under in this run."""
        return resolve_limit(model, self.spec_limits, self.settings_limits)

    def limiter(self, model: str) -> ModelLimiter:
        """This run's limiter of ``model`` (created on first use)."""
        with self._lock:
            if model not in self._limiters:
                self._limiters[model] = ModelLimiter(self.limits_for(model), self.stop)
            return self._limiters[model]

    @contextmanager
    def slot(self, model: str) -> Iterator[None]:
        """Everything one request to ``model`` must hold: local pacing, then the shared limit."""
        shared = self.shared
        with self.limiter(model).slot(), shared(model) if shared else nullcontext():
            self.stop.check()
            yield


# -- interim: the process-wide registry the stages still use (removed in the next commits) --

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
