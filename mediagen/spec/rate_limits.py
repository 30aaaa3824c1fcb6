"""Per-model rate limits as a spec (``rate_limits:``) and ``MEDIAGEN_RATE_LIMITS`` write them.

Only the vocabulary lives here; pacing requests is the engine's
(:mod:`mediagen.engine.ratelimit`), which resolves a model's limits from the
spec's entries first, then the setting's.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_KEY = "*"  # the entry for models without their own


class RateLimit(BaseModel):
    """Limits for one model."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    requests_per_minute: float | None = Field(
        None, gt=0, le=100_000, description="Requests started per minute (paced evenly)."
    )
    max_concurrency: int | None = Field(
        None, ge=1, le=1024, description="Requests in flight at once for this model."
    )


__all__ = ["DEFAULT_KEY", "RateLimit"]
