"""How a spec's batch jobs behave (``batch:``): what a failed job means, how often to look.

Only the vocabulary lives here; delivering in batch is the engine's
(:mod:`mediagen.engine.batch`). Which images go to batch is the ``delivery``
option of each image.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class BatchOptions(BaseModel):
    """Options of the spec's batch jobs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    on_failure: Literal["retry", "sync", "fail"] = Field(
        "retry",
        description="A job that ended FAILED, EXPIRED or CANCELLED: retry its images in a "
        "new job (up to max_attempts jobs), make them the ordinary way (sync, full price), "
        "or record them failed.",
    )
    max_attempts: int = Field(3, ge=1, le=10, description="Jobs tried per image (retry).")
    poll_seconds: float = Field(
        30.0, ge=0.05, le=3600, description="How often a waiting run asks for its jobs' state."
    )
    max_wait_hours: float = Field(
        48.0, gt=0, le=24 * 7,
        description="How long a run waits (or stays suspended on Prefect) for its jobs.",
    )  # fmt: skip


__all__ = ["BatchOptions"]
