"""Batch delivery inside ``generate-media``: rounds of submit/poll → publish what is ready.

A batch job may take hours. How the flow waits depends on where it runs:

- **a deployment's run (a worker)**: one look per round. What is ready is
  published, the rest is recorded ``pending`` in the manifest, and then the run
  **suspends** (``suspend_flow_run`` with the spec's ``batch.max_wait_hours`` as
  timeout): the process exits, the worker's slot is free. The scheduled
  ``poll-batches`` deployment (:mod:`flows.batch_poll`) resumes the run when
  one of its jobs has ended; the resumed run starts the flow again from the top,
  plans again (published images are unchanged now), finds its jobs in the
  bucket (:mod:`mediagen.engine.batch_state`), collects, publishes, and
  suspends again while anything is still pending;
- **``mediagen run`` (no deployment)**: the command's own process waits,
  polling every ``batch.poll_seconds``; each round ends as soon as a job has
  finished, so its images are published (and the manifest written) at once.

Either way a killed, cancelled or moved run resumes the same jobs: their ids
and the key → image mapping are in the bucket before anything waits.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from prefect import get_run_logger
from prefect.runtime import deployment
from prefect.states import State

from flows import partial
from mediagen.engine import batch
from mediagen.engine.context import RunContext
from mediagen.engine.run import Run
from mediagen.errors import RunInterruptedError
from mediagen.manifest.model import ImageEntry, Manifest
from mediagen.plan.diff import Plan
from mediagen.plan.jobs import ImageJob
from mediagen.spec.models import JobSpec

FanOut = Callable[..., State]


def delivery_of(job: ImageJob) -> str:
    return str(getattr(job, "delivery", None) or "sync")


def wanted(plan: Plan) -> bool:
    """Does the plan send anything to batch?"""
    return any(delivery_of(job) == "batch" for job in plan.todo)


def run_rounds(
    job_spec: JobSpec,
    ctx: RunContext,
    plan: Plan,
    previous: Manifest | None,
    run: Run,
    *,
    fan_out: FanOut,
    replan: Callable[[], tuple[Plan, Manifest | None]],
    suspend: bool | None = None,
) -> State:
    """Rounds until nothing is pending (or the run stops, waits too long, or suspends)."""
    logger = get_run_logger()
    options = job_spec.batch
    if suspend is None:
        suspend = deployment.id is not None  # a worker runs it: free the slot while waiting
    deadline = time.monotonic() + options.max_wait_hours * 3600
    while True:
        todo = [job for job in plan.todo if delivery_of(job) == "batch"]
        try:
            outcome = batch.deliver(
                todo, ctx, run, on_failure=options.on_failure, wait=not suspend,
                poll_s=options.poll_seconds, max_attempts=options.max_attempts,
            )  # fmt: skip
        except RunInterruptedError:  # Ctrl-C / a cancel while waiting: the jobs stay recorded
            outcome = batch.BatchRound(pending=todo)
        extra: dict[str, ImageEntry] = dict(outcome.failed)
        names = ", ".join(sorted({r.name for r in outcome.jobs})) or "?"
        for job in outcome.pending:
            extra[job.id] = partial.pending_entry(job, ctx, f"batch job {names}", previous)
        logger.info(
            "batch: %d ready, %d failed, %d to make now, %d pending in %d job(s) (%d new)",
            len(outcome.ready), len(outcome.failed), len(outcome.sync), len(outcome.pending),
            len(outcome.jobs), len(outcome.submitted),
        )  # fmt: skip
        state = fan_out(job_spec, ctx, plan, previous, run, extra=extra)
        if not outcome.pending or run.interrupted or run.aborted:
            return state
        if suspend:
            _suspend(options.max_wait_hours)  # raises: the process exits, the slot is free
            return state  # not reached on a worker (resumed: the flow starts again)
        if time.monotonic() >= deadline:
            logger.warning("batch: gave up waiting after %g h; run again to resume",
                           options.max_wait_hours)  # fmt: skip
            return state
        plan, previous = replan()


def _suspend(hours: float) -> Any:
    from prefect.flow_runs import suspend_flow_run

    # A fresh key each time: a resumed run that suspends again must really suspend
    # (the default key is a counter, which a resumed run would find already used).
    return suspend_flow_run(timeout=int(hours * 3600), key=f"batch-{uuid.uuid4().hex}")


__all__ = ["delivery_of", "run_rounds", "wanted"]
