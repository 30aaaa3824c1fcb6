"""A spec's batch jobs from the outside: list them, cancel them, ask which have ended.

Used by ``mediagen batches`` and by the ``poll-batches`` flow, which resumes a
suspended run once one of its jobs has ended. Everything starts from the job
records in the spec's bucket (:mod:`mediagen.engine.batch_state`): only a
spec's own jobs are listed or cancelled, never another spec's. Asking the
backend for a job's live state needs its key; without it the records' last
known state is shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from mediagen.backends import batching
from mediagen.engine import batch_state
from mediagen.engine.batch import ENDED_BADLY
from mediagen.engine.batch_state import BatchRecord
from mediagen.plan.jobs import prefix_of
from mediagen.settings import Settings
from mediagen.spec.models import JobSpec
from mediagen.storage.bucket import Bucket, BucketConfig

ENDED = ("SUCCEEDED", *ENDED_BADLY)


@dataclass(frozen=True)
class JobRow:
    spec: str
    name: str
    state: str  # the record's: submitting | submitted | collected | failed
    job_state: str  # the backend's: PENDING, RUNNING, SUCCEEDED… (live when refreshed)
    images: int
    age_s: float
    model: str
    note: str


def _records(job_spec: JobSpec, settings: Settings) -> tuple[Bucket, str, list[BatchRecord]]:
    bucket = Bucket(BucketConfig.for_spec(job_spec, settings))
    prefix = prefix_of(job_spec)
    return bucket, prefix, batch_state.load_all(bucket, prefix, job_spec.name)


def list_jobs(job_spec: JobSpec, settings: Settings, *, refresh: bool = True) -> list[JobRow]:
    """The spec's jobs, oldest first; ``refresh``: ask the backend about the active ones."""
    _, _, records = _records(job_spec, settings)
    live: dict[str, str] = {}
    if refresh:
        live = _live_states([r for r in batch_state.active(records) if r.name], settings)
    now = datetime.now(UTC)
    rows = []
    for r in records:
        created = datetime.fromisoformat(r.created_at)
        rows.append(JobRow(r.spec, r.name or f"({r.display_name})", r.state,
                           live.get(r.name, r.job_state), r.images,
                           (now - created).total_seconds(), r.model, r.note))  # fmt: skip
    return rows


def cancel_jobs(job_spec: JobSpec, settings: Settings, name: str | None = None) -> list[str]:
    """Cancel the spec's active jobs (or the one named); returns the names cancelled.
    The run that polls them next follows the spec's ``batch.on_failure``."""
    _, _, records = _records(job_spec, settings)
    targets = [r for r in batch_state.active(records) if r.name and name in (None, r.name)]
    if name is not None and not targets:
        raise LookupError(f"no active batch job {name!r} for spec {job_spec.name!r}")
    cancelled = []
    by_backend: dict[str, list[BatchRecord]] = {}
    for r in targets:
        by_backend.setdefault(r.backend, []).append(r)
    for backend, group in by_backend.items():
        client = batching.batch_client(backend, settings)
        try:
            for r in group:
                client.cancel(r.name)
                cancelled.append(r.name)
        finally:
            client.close()
    return cancelled


def ended_jobs(job_spec: JobSpec, settings: Settings) -> list[str]:
    """The spec's active jobs that have ended at the backend (a waiting run has work)."""
    _, _, records = _records(job_spec, settings)
    live = _live_states([r for r in batch_state.active(records) if r.name], settings)
    return sorted(name for name, state in live.items() if state in ENDED)


def _live_states(records: list[BatchRecord], settings: Settings) -> dict[str, str]:
    out: dict[str, str] = {}
    by_backend: dict[str, list[BatchRecord]] = {}
    for r in records:
        by_backend.setdefault(r.backend, []).append(r)
    for backend, group in by_backend.items():
        client = batching.batch_client(backend, settings)
        try:
            for r in group:
                out[r.name] = client.get(r.name).state
        finally:
            client.close()
    return out


__all__ = ["ENDED", "JobRow", "cancel_jobs", "ended_jobs", "list_jobs"]
