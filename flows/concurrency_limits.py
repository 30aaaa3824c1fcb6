"""Share a model's quota across flow runs with Prefect global concurrency limits.

Gemini quotas are per Google project and model, so two flow runs (or Dask
workers) on the same key share them. When the flow talks to a Prefect server
(``PREFECT_API_URL`` set), each model with configured limits gets a global
concurrency limit **named after the model**, created if missing:

- with ``requests_per_minute``: a rate limit (``limit=1``,
  ``slot_decay_per_second = rpm / 60``), taken with ``rate_limit()`` before
  each request: requests of all runs are paced together;
- with only ``max_concurrency``: a concurrency limit of that many slots, held
  with ``concurrency()`` for the duration of each request.

A limit that already exists is used as it is (operators may tune it in the UI);
its kind is read from its slot decay. In-process limits
(:mod:`mediagen.engine.ratelimit`) still apply inside each run. The limiter is
installed into the flow run's own :class:`~mediagen.engine.run.Run`
(``run.shared_limiter``), so it ends with the run.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager

from prefect import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.concurrency.sync import concurrency, rate_limit
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound
from prefect.settings import get_current_settings

from mediagen import backends
from mediagen.engine.run import Run
from mediagen.errors import TransientError

logger = logging.getLogger("mediagen")


def using_server() -> bool:
    """True when runs are recorded on a Prefect server (not the ephemeral API)."""
    return bool(get_current_settings().api.url)


def ensure_limits(models: Iterable[str], run: Run) -> dict[str, bool]:
    """Create missing limits; returns {limit name: is a rate limit} for the models that have one."""
    kinds: dict[str, bool] = {}
    with get_client(sync_client=True) as client:
        for model in sorted(set(models)):
            limit = run.limits_for(model)
            if limit.requests_per_minute is None and limit.max_concurrency is None:
                continue
            try:
                existing = client.read_global_concurrency_limit_by_name(model)
                kinds[model] = (existing.slot_decay_per_second or 0) > 0
                continue
            except ObjectNotFound:
                pass
            is_rate = limit.requests_per_minute is not None
            try:
                client.create_global_concurrency_limit(
                    GlobalConcurrencyLimitCreate(
                        name=model,
                        limit=1 if is_rate else int(limit.max_concurrency or 1),
                        slot_decay_per_second=(limit.requests_per_minute or 0) / 60.0,
                    )
                )
                logger.info("created Prefect global concurrency limit %r", model)
            except ObjectAlreadyExists:  # another run created it first: fine
                pass
            kinds[model] = is_rate
    return kinds


def install(models: Iterable[str], run: Run) -> bool:
    """Route each request of ``run`` to these models through its global limit; False if
    not on a server."""
    if not using_server():
        return False
    kinds = ensure_limits(models, run)
    if not kinds:
        return False
    timeout = max(backends.retry_window(run.settings), 1.0)  # the backends' own retry bound

    @contextmanager
    def shared(model: str) -> Iterator[None]:
        with ExitStack() as stack:
            try:
                if model not in kinds:
                    pass
                elif kinds[model]:
                    rate_limit(model, occupy=1, timeout_seconds=timeout)
                else:
                    stack.enter_context(concurrency(model, occupy=1, timeout_seconds=timeout))
            except TimeoutError as exc:
                raise TransientError(
                    f"no slot of the global concurrency limit {model!r} within {timeout:.0f} s"
                ) from exc
            yield

    run.shared_limiter = shared
    return True
