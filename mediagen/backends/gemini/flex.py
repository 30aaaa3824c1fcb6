"""The Flex tier: the same ``generateContent`` call at half price, answered in minutes.

``delivery: flex`` asks Google's Flex tier: ``service_tier="flex"`` on an ordinary
synchronous call (google-genai 3.x: ``GenerateContentConfig(service_tier=...)``,
sent as the request body's top-level ``serviceTier``). Google's terms
(ai.google.dev/gemini-api/docs/flex-inference and .../optimization, read
2026-11-29): a 50 % discount on every token, a 1-15 minute latency target, and
best-effort capacity (a flex request may be shed with 429/503). So a flex call
gets its own bounds, from :class:`~mediagen.backends.gemini.settings.GeminiSettings`:

- ``flex_timeout`` (default 960 s: the 15-minute target plus transfer) instead of
  ``timeout`` (120 s), per request;
- ``flex_max_wait`` (1800 s) and ``flex_retry_base_delay`` (30 s) for its retries,
  so a shed request is asked again a few times over half an hour instead of four
  times in 90 seconds.

The price: an answer whose ``usageMetadata.serviceTier`` says how it was served is
billed at that tier; one that says nothing is billed at the tier asked for.
Models that do not take flex (the catalogue's ``flex=False``: 3.1 Flash-Lite
Image) are refused when the spec is checked (``validate``), never sent.
"""

from __future__ import annotations

from typing import Any

from mediagen.backends.base import GenerationRequest
from mediagen.backends.gemini import catalogue
from mediagen.backends.gemini.settings import GeminiSettings
from mediagen.backends.retry import RetryPolicy

FLEX = "flex"


def is_flex(request: GenerationRequest) -> bool:
    return request.delivery == FLEX


def request_problem(request: GenerationRequest) -> str | None:
    """Why a model of the request's chain cannot be asked its way (batch, flex), or None."""
    for model in (request.model or "", *request.fallback_models):
        problem = model and catalogue.delivery_problem(model, request.delivery)
        if problem:
            return problem
    return None


def config_fields(request: GenerationRequest, own: GeminiSettings) -> dict[str, Any]:
    """What a flex request adds to its ``GenerateContentConfig`` (nothing for others).

    The timeout is per request (``http_options``), in milliseconds as the SDK takes it.
    """
    if not is_flex(request):
        return {}
    from google.genai import types

    return {
        "service_tier": types.ServiceTier.FLEX,
        "http_options": types.HttpOptions(timeout=int(own.flex_timeout * 1000)),
    }


def retry_policy(request: GenerationRequest, own: GeminiSettings, sync: RetryPolicy) -> RetryPolicy:
    """The retry bounds of a request: ``sync``'s, or the flex ones."""
    if not is_flex(request):
        return sync
    return RetryPolicy(
        max_attempts=own.max_attempts,
        max_wait=own.flex_max_wait,
        base_delay=own.flex_retry_base_delay,
        max_backoff=max(sync.max_backoff, own.flex_retry_base_delay * 8),
    )


def served_as(request: GenerationRequest, reported: str) -> str:
    """The delivery an answer is billed at: the tier the answer reports, else the one asked.

    A batch request that reaches a synchronous call (a fallback) is a standard call."""
    if reported:
        return FLEX if reported == FLEX else "sync"
    return FLEX if is_flex(request) else "sync"


__all__ = ["FLEX", "config_fields", "is_flex", "request_problem", "retry_policy", "served_as"]
