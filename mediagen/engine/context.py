"""What the stages of a run hand each other: small, picklable values, never clients.

:class:`RunContext` says what every stage needs to know about the run (and is
enough to build the run's :class:`~mediagen.engine.run.Run` again in another
process: a Dask worker does). :class:`Generated` and :class:`Processed` are
references to a stored original and to processed files in the scratch folder:
bytes never travel between stages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mediagen.engine.ratelimit import RateLimit
from mediagen.imaging.facts import ImageFacts
from mediagen.plan.jobs import prefix_of
from mediagen.storage.bucket import BucketConfig

if TYPE_CHECKING:
    from mediagen.engine.run import Run
    from mediagen.settings import Settings
    from mediagen.spec.models import JobSpec


@dataclass(frozen=True)
class RunContext:
    """What every stage needs to know about the run. No secrets, no clients."""

    spec_name: str
    spec_hash: str
    spec_version: str
    prefix: str
    bucket: BucketConfig
    run_id: str
    shared_prefix: bool = False  # storage.shared_prefix: other specs publish there too
    # What a process needs to build this run's Run (mediagen.engine.run) on its own.
    budget_usd: float | None = None
    rate_limits: tuple[tuple[str, RateLimit], ...] = ()  # the spec's, as (model, limit) pairs
    concurrency: int = 8

    @classmethod
    def for_spec(
        cls, job_spec: JobSpec, settings: Settings, *, run_id: str, concurrency: int | None = None
    ) -> RunContext:
        """The context of a run of ``job_spec`` (the flow, a stopped run's hook, tests)."""
        limit = concurrency or job_spec.concurrency or settings.concurrency
        return cls(
            spec_name=job_spec.name,
            spec_hash=job_spec.content_hash(),
            spec_version=job_spec.version,
            prefix=prefix_of(job_spec),
            # The connection pool is sized to the images in flight (see storage.pool_size_for).
            bucket=BucketConfig.for_spec(job_spec, settings, concurrency=limit),
            run_id=run_id,
            shared_prefix=job_spec.storage.shared_prefix,
            budget_usd=job_spec.budget_usd,
            rate_limits=tuple(sorted((job_spec.rate_limits or {}).items())),
            concurrency=limit,
        )

    def new_run(self, settings: Settings | None = None) -> Run:
        """A :class:`~mediagen.engine.run.Run` for this context (its budget, limits, slots)."""
        from mediagen.engine.run import Run

        return Run(
            settings,
            run_id=self.run_id,
            budget_usd=self.budget_usd,
            rate_limits=dict(self.rate_limits),
            concurrency=self.concurrency,
        )


@dataclass(frozen=True)
class Generated:
    """Reference to a stored original and how it was made."""

    original_key: str
    mime_type: str
    backend: str
    model: str
    ai_generated: bool
    usage: dict[str, int]
    cost_usd: float
    reused: bool  # True: found in the bucket, no backend call
    seconds: float
    # The run that paid for the original (its cost stays with it, see mediagen.manifest.costs),
    # and the models tried to make it.
    cost_run_id: str = ""
    attempts: list[dict[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Processed:
    """Reference to one processed file waiting in the scratch folder."""

    format: str
    out_key: str
    object_key: str
    path: str
    width: int
    height: int
    bytes: int
    sha256: str
    content_type: str
    seconds: float
    # Per-image facts (placeholders, colours, brand fit, alt text): on the first output only.
    facts: ImageFacts | None = None
    signer: str | None = None  # C2PA: the signing certificate's subject (None: not signed)


__all__ = ["Generated", "Processed", "RunContext"]
