"""Retrying transient backend errors, honouring the delay the server asks for.

A :class:`~mediagen.errors.TransientError` (429, 5xx, timeout, reset) is
retried with exponential backoff plus jitter. When the server said how long
to wait (``RetryInfo.retryDelay`` or ``Retry-After``, carried as
``TransientError.retry_after``), the wait is the longer of the two, plus up to
10 % jitter so a storm of 429s does not come back in step.

Bounds: at most ``max_attempts`` attempts, and no attempt is started if it
would begin more than ``max_wait`` seconds after the first one (a server that
asks for a longer delay ends the retries at once: the caller may then fall
back to another model). Waits wake up when the run is aborted.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import tenacity

from mediagen.errors import TransientError

logger = logging.getLogger("mediagen")

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 4
    max_wait: float = 90.0  # seconds from the first attempt to the start of the last one
    base_delay: float = 1.0  # first backoff; doubles each attempt
    max_backoff: float = 60.0  # cap of our own backoff (never of the server's delay)


class wait_server_or_backoff(tenacity.wait.wait_base):
    """max(server's delay + ≤10 % jitter, exponential backoff + jitter)."""

    def __init__(self, policy: RetryPolicy) -> None:
        self.backoff = tenacity.wait_exponential_jitter(
            initial=policy.base_delay, max=policy.max_backoff, jitter=policy.base_delay
        )

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        backoff = self.backoff(retry_state)
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None else None
        server = getattr(error, "retry_after", None)
        if server is None:
            return backoff
        return max(server * random.uniform(1.0, 1.1), backoff)


def call_with_retries(
    fn: Callable[[], T],
    policy: RetryPolicy,
    *,
    sleep: Callable[[float], None],
    what: str = "request",
) -> T:
    """Call ``fn`` until it succeeds, raises a non-transient error, or the bounds are hit."""

    def log_retry(state: tenacity.RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        logger.info(
            "%s: attempt %d failed (%s); retrying in %.2f s",
            what,
            state.attempt_number,
            error,
            state.upcoming_sleep,
        )

    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception_type(TransientError),
        stop=tenacity.stop_after_attempt(policy.max_attempts)
        | tenacity.stop_before_delay(policy.max_wait),
        wait=wait_server_or_backoff(policy),
        sleep=sleep,  # the run's: it wakes up when the run is aborted
        before_sleep=log_retry,
        reraise=True,
    )
    return retrying(fn)
