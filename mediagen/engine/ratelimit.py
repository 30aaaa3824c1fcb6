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


class Stoppable(Protocol):
    """What a limiter needs of its run: stop waiting when the run stops."""

    def check(self) -> None: ...

    def sleep(self, seconds: float) -> None: ...


class ModelLimiter:
    """Paces and bounds the requests to one model. Thread-safe."""

    def __init__(self, limit: RateLimit, stop: Stoppable) -> None:
        self.limit = limit
        self.stop = stop
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
